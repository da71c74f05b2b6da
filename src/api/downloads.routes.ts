/**
 * Serving stored files behind pre-signed links: GET and HEAD with single byte ranges (so players
 * can seek and download managers can split), `If-Range`, and the file's CRC32C in a header. The
 * signed link is the credential; no API key is needed.
 */
import contentDisposition from 'content-disposition';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import rangeParser from 'range-parser';
import { z } from 'zod';
import { formatCrc32c } from '../domain/crc32c-combine.js';
import { AppError } from '../domain/errors.js';
import { toBlobKey } from '../storage/blob-keys.js';
import type { BlobStore, ByteRange } from '../storage/blob-store.js';
import type { DownloadLinkSigner, LinkVerdict } from '../storage/download-links.js';
import type { DownloadService } from '../services/download.service.js';
import { errorResponse, extensionOperation, uuid } from './schemas.js';

export interface DownloadRoutesDeps {
  downloads: DownloadService;
  store: BlobStore;
  signer: DownloadLinkSigner;
  now?: () => Date;
}

/** The single range to serve, null for the whole file, or 'unsatisfiable'. */
function chooseRange(
  header: string | undefined,
  ifRange: string | undefined,
  etag: string,
  sizeBytes: number,
): ByteRange | null | 'unsatisfiable' {
  if (header === undefined || (ifRange !== undefined && ifRange !== etag)) return null;
  const ranges = rangeParser(sizeBytes, header, { combine: true });
  if (ranges === -1) return 'unsatisfiable';
  // Malformed headers and multiple ranges are answered with the whole file, as RFC 9110 allows.
  if (ranges === -2 || ranges.type !== 'bytes' || ranges.length !== 1 || ranges[0] === undefined) return null;
  return { start: ranges[0].start, end: ranges[0].end };
}

interface ServedFile {
  key: string;
  sizeBytes: number;
  etag: string;
  mimeType: string;
  fileName: string;
  lastModified: Date;
  crc32c: number | null;
}

/** Answers GET or HEAD for a stored file, honouring one byte range and If-Range. */
async function serveFile(
  deps: DownloadRoutesDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  file: ServedFile,
): Promise<FastifyReply> {
  reply
    .header('accept-ranges', 'bytes')
    .header('etag', file.etag)
    .header('last-modified', file.lastModified.toUTCString())
    .header('cache-control', 'private, no-transform')
    .header(
      'content-disposition',
      contentDisposition(file.fileName, {
        type: file.mimeType.startsWith('image/') || file.mimeType === 'video/mp4' ? 'inline' : 'attachment',
      }),
    )
    .type(file.mimeType);
  if (file.crc32c !== null) reply.header('x-checksum-crc32c', String(file.crc32c));
  const ifRange = request.headers['if-range'];
  const range = chooseRange(
    request.headers.range,
    Array.isArray(ifRange) ? ifRange[0] : ifRange,
    file.etag,
    file.sizeBytes,
  );
  if (range === 'unsatisfiable') {
    return reply.code(416).header('content-range', `bytes */${file.sizeBytes}`).send('');
  }
  const length = range === null ? file.sizeBytes : range.end - range.start + 1;
  reply.header('content-length', String(length));
  if (range !== null) reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${file.sizeBytes}`);
  if (request.method === 'HEAD' || length === 0) return reply.send('');
  return reply.send(await deps.store.read(toBlobKey(file.key), range ?? undefined));
}

function checkVerdict(verdict: LinkVerdict, renewWith: string): void {
  if (verdict === 'invalid')
    throw new AppError('ACCESS_DENIED', `the download link is not valid: request a new one with ${renewWith}`);
  if (verdict === 'expired')
    throw new AppError('ACCESS_DENIED', `the download link has expired: request a new one with ${renewWith}`);
}

const signedQuery = z.object({
  expires: z.string().optional().describe("The link's expiry, as the API answered it in the link."),
  signature: z.string().optional().describe("The link's signature, as the API answered it in the link."),
});
type SignedQuery = z.infer<typeof signedQuery>;

const videoIdParameter = uuid.describe('The video, as in the link the API answered.');
const fileNameParameter = z.string().describe('The file name, as in the link the API answered.');

const downloadDescription =
  'The signed link is the credential: no API key is needed. One byte range (`Range`, with `If-Range`) is answered 206; an unsatisfiable one 416. A link that is not valid or has expired is answered 403 ACCESS_DENIED, a file that no longer exists 404.';

/** The errors of a download link, for the OpenAPI document (its 2xx and 416 are added by documentDownloads). */
const downloadErrors = { 400: errorResponse, 403: errorResponse, 404: errorResponse };

export function downloadRoutes(deps: DownloadRoutesDeps): FastifyPluginAsyncZod {
  const now = deps.now ?? (() => new Date());
  return async (app) => {
    const videoFileHandler = async (
      request: FastifyRequest<{ Params: { videoId: string; fileName: string }; Querystring: SignedQuery }>,
      reply: FastifyReply,
    ) => {
      const { videoId, fileName } = request.params;
      checkVerdict(
        deps.signer.verify({ videoId, fileName }, request.query.expires, request.query.signature, now()),
        'POST /api/v1/videos/{videoId}/out/https',
      );
      const file = await deps.downloads.videoFile(videoId);
      return serveFile(deps, request, reply, {
        key: file.storageKey,
        sizeBytes: file.sizeBytes,
        etag: `"${formatCrc32c(file.crc32c)}-${file.sizeBytes}"`,
        mimeType: file.mimeType,
        fileName: file.fileName,
        lastModified: file.createdAt,
        crc32c: file.crc32c,
      });
    };
    const artifactFileHandler = async (
      request: FastifyRequest<{
        Params: { videoId: string; artifactId: string; fileName: string };
        Querystring: SignedQuery;
      }>,
      reply: FastifyReply,
    ) => {
      const { videoId, artifactId, fileName } = request.params;
      checkVerdict(
        deps.signer.verifyArtifact(
          { videoId, artifactId, fileName },
          request.query.expires,
          request.query.signature,
          now(),
        ),
        "the video's thumbnails, full-frames or web-video endpoint",
      );
      const artifact = await deps.downloads.artifactFile(videoId, artifactId);
      return serveFile(deps, request, reply, {
        key: artifact.storageKey,
        sizeBytes: artifact.sizeBytes,
        etag: `"${artifact.id}-${artifact.sizeBytes}"`,
        mimeType: artifact.mimeType,
        fileName,
        lastModified: artifact.createdAt,
        crc32c: null,
      });
    };

    // HEAD and GET are declared apart so that each has its own operationId; HEAD comes first, as
    // Fastify would otherwise add its own HEAD route for the GET.
    for (const method of ['HEAD', 'GET'] as const) {
      const head = method === 'HEAD';
      app.route({
        method,
        // @fastify/swagger leaves HEAD routes out of the document unless asked.
        config: { swagger: { exposeHeadRoute: head } },
        url: '/downloads/:videoId/:fileName',
        schema: {
          operationId: head ? 'getVideoFileHeaders' : 'downloadVideoFile',
          summary: head
            ? "A video file's headers through a pre-signed link"
            : 'Download a video file through a pre-signed link',
          ...extensionOperation(
            `${head ? 'Answers as GET would, without the body' : 'Serves the file'}. ${downloadDescription}`,
          ),
          tags: ['Downloads'],
          security: [],
          params: z.object({ videoId: videoIdParameter, fileName: fileNameParameter }),
          querystring: signedQuery,
          response: downloadErrors,
        },
        handler: videoFileHandler,
      });
    }

    for (const method of ['HEAD', 'GET'] as const) {
      const head = method === 'HEAD';
      app.route({
        method,
        // @fastify/swagger leaves HEAD routes out of the document unless asked.
        config: { swagger: { exposeHeadRoute: head } },
        url: '/downloads/:videoId/artifacts/:artifactId/:fileName',
        schema: {
          operationId: head ? 'getVideoArtifactFileHeaders' : 'downloadVideoArtifactFile',
          summary: head
            ? "A thumbnail's, full frame's, poster's or web video's headers through a pre-signed link"
            : 'Download a thumbnail, full frame, poster or web video through a pre-signed link',
          ...extensionOperation(
            `${head ? 'Answers as GET would, without the body' : 'Serves the file'}. ${downloadDescription}`,
          ),
          tags: ['Downloads'],
          security: [],
          params: z.object({
            videoId: videoIdParameter,
            artifactId: uuid.describe('The artifact, as in the link the API answered.'),
            fileName: fileNameParameter,
          }),
          querystring: signedQuery,
          response: downloadErrors,
        },
        handler: artifactFileHandler,
      });
    }
  };
}
