/**
 * Video in: importing a master video from an HTTPS URL or an S3 bucket, following the import, and
 * restarting or abandoning a failed one.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DOT_SEGMENT_MESSAGE, hasDotSegment } from '../domain/s3-object.js';
import type { VideoImportService } from '../services/video-import.service.js';
import { exampleIds, s3BucketExample } from './examples.js';
import { presentVideoInStatus } from './presenters.js';
import { teamFrom } from './team-selection.js';
import {
  boundedString,
  commonErrors,
  errorResponse,
  queryBoolean,
  queryInteger,
  s3BucketAccess,
  selectTeamQuery,
  uuid,
  videoInStatus,
} from './schemas.js';

const videoFields = z.object({
  name: boundedString(1, 255),
  description: boundedString(0, 511).optional(),
  projectId: uuid.optional(),
  fileName: boundedString(1, 255)
    // eslint-disable-next-line no-control-regex
    .regex(/^[^/\\\u0000-\u001f\u007f]*$/, { message: 'must not contain /, \\ or control characters' })
    // A download link ends in the file name: `.` and `..` would be read as path steps by every URL parser.
    .refine((name) => name !== '.' && name !== '..', { message: 'must not be . or ..' })
    .optional(),
});

const videoFieldsExample = {
  name: 'Interview, camera A',
  description: 'Raw 4K footage from the first shooting day.',
  projectId: exampleIds.project,
  fileName: 'interview-4k.mp4',
};

const importBody = videoFields
  .extend({ url: boundedString(1, 4096) })
  .meta({ examples: [{ ...videoFieldsExample, url: 'https://media.example.com/shoots/2026-11-27/interview-4k.mp4' }] });

const s3ImportBody = videoFields
  .extend({
    objectKey: boundedString(1, 1024).refine((key) => !hasDotSegment(key), { message: DOT_SEGMENT_MESSAGE }),
    s3Bucket: s3BucketAccess,
  })
  .meta({
    examples: [{ ...videoFieldsExample, objectKey: 'shoots/2026-11-27/interview-4k.mp4', s3Bucket: s3BucketExample }],
  });

const fullIngestion = queryBoolean
  .default(false)
  .describe(
    'Also make thumbnails, a poster, full frames, a web video and a quality assessment once the copy is done (default false).',
  );

const s3ImportQuery = selectTeamQuery.extend({ fullIngestion });

const importQuery = selectTeamQuery.extend({
  fullIngestion,
  crc32c: queryInteger(0, 4_294_967_295)
    .optional()
    .describe("The file's CRC32C as an unsigned integer: the copy is checked against it and FAILED on a mismatch."),
  maxConcurrentConnections: queryInteger(1, 20)
    .default(10)
    .describe('At most this many range requests to the source at once (default 10).'),
});

const videoParams = z.object({ videoId: uuid.describe('The imported video.') });

export function videosInRoutes(deps: { imports: VideoImportService }): FastifyPluginAsyncZod {
  const { imports } = deps;
  return async (app) => {
    app.post(
      '/videos/in/https',
      {
        config: { team: teamFrom.selectTeamId },
        schema: {
          operationId: 'createMasterVideoFromHttps',
          summary: 'Import a video from an HTTPS URL',
          description:
            'Creates a master video and starts an asynchronous copy of the file at `url` with parallel HTTP range requests. The URL is checked (https, port, public addresses) and probed with a range request before anything is created.',
          tags: ['Video in'],
          querystring: importQuery,
          body: importBody,
          response: { 201: videoInStatus, ...commonErrors },
        },
      },
      async (request, reply) => {
        const view = await imports.createHttpsImport(request.principal, request.team, {
          ...request.body,
          fullIngestion: request.query.fullIngestion,
          crc32c: request.query.crc32c,
          maxConcurrentConnections: request.query.maxConcurrentConnections,
        });
        return reply.code(201).header('location', `/api/v1/videos/${view.video.id}`).send(presentVideoInStatus(view));
      },
    );

    app.post(
      '/videos/in/s3',
      {
        config: { team: teamFrom.selectTeamId },
        schema: {
          operationId: 'createMasterVideoFromS3',
          summary: 'Import a video from an S3 bucket',
          description:
            "Creates a master video and starts an asynchronous copy of the object `objectKey` in `s3Bucket.bucket` with parallel signed range requests. The object is located (an AWS bucket's region is looked up) and probed with the key pair before anything is created; the key pair is stored encrypted until the copy is DONE and never returned. When S3 keeps a full-object CRC32C for the object, the copy is checked against it.",
          tags: ['Video in'],
          querystring: s3ImportQuery,
          body: s3ImportBody,
          response: { 201: videoInStatus, ...commonErrors },
        },
      },
      async (request, reply) => {
        const view = await imports.createS3Import(request.principal, request.team, {
          ...request.body,
          fullIngestion: request.query.fullIngestion,
        });
        return reply.code(201).header('location', `/api/v1/videos/${view.video.id}`).send(presentVideoInStatus(view));
      },
    );

    app.get(
      '/videos/:videoId/in/status',
      {
        config: { team: teamFrom.objectScope },
        schema: {
          operationId: 'getVideoInStatus',
          summary: 'Status of a video import',
          description:
            "The import's copy (`upload`) and ingestion state; poll it until both are DONE or one is FAILED.",
          tags: ['Video in'],
          params: videoParams,
          querystring: selectTeamQuery,
          response: { 200: videoInStatus, ...commonErrors },
        },
      },
      async (request) => {
        return presentVideoInStatus(await imports.requireImportView(request.teamScope, request.params.videoId));
      },
    );

    app.post(
      '/videos/:videoId/in/restart',
      {
        config: { team: teamFrom.objectScope },
        schema: {
          operationId: 'restartVideoIn',
          summary: 'Resume a failed import',
          description:
            'Resumes a FAILED copy from the parts already copied. After a CRC32C mismatch, `skipChecksumValidation=true` accepts the copied bytes.',
          tags: ['Video in'],
          params: videoParams,
          querystring: selectTeamQuery.extend({
            skipChecksumValidation: queryBoolean
              .default(false)
              .describe('After a CRC32C mismatch: accept the copied bytes as they are (default false).'),
          }),
          response: { 200: videoInStatus, 409: errorResponse, ...commonErrors },
        },
      },
      async (request) => {
        return presentVideoInStatus(
          await imports.restart(request.teamScope, request.params.videoId, {
            skipChecksumValidation: request.query.skipChecksumValidation,
          }),
        );
      },
    );

    app.delete(
      '/videos/:videoId/in/abandon',
      {
        config: { team: teamFrom.objectScope },
        schema: {
          operationId: 'abandonVideoIn',
          summary: 'Abandon a failed import',
          description: 'Deletes a FAILED import, its video record and its data.',
          tags: ['Video in'],
          params: videoParams,
          querystring: selectTeamQuery,
          response: {
            204: z.null().describe('The import, its video record and its data are deleted.'),
            409: errorResponse,
            ...commonErrors,
          },
        },
      },
      async (request, reply) => {
        await imports.abandon(request.teamScope, request.params.videoId);
        return reply.code(204).send(null);
      },
    );
  };
}
