/**
 * An in-process S3-compatible server for tests and benchmarks, speaking path-style S3 over HTTP or
 * HTTPS with real SigV4 checks, aws-chunked bodies, flexible checksums and multipart uploads.
 *
 * Why our own: the usual emulator, the `s3rver` package (3.7.1, unmaintained since 2021), lacks
 * ListMultipartUploads, AbortMultipartUpload and every flexible checksum (x-amz-checksum-*, the
 * aws-chunked trailers the current AWS SDK v3 sends by default), and no maintained JavaScript S3
 * emulator covers them. This one implements what Reelin's S3 storage uses, as the S3 API reference
 * describes it, so the real AWS SDK v3 client parses every answer.
 *
 * How it works: buckets, objects and uploads are indexed in memory; bytes stream to files in the
 * data directory while MD5 and CRCs are computed (never buffered whole), and an object becomes
 * visible in one synchronous index update once its bytes are complete and checked (see
 * s3-server/state.ts). Tests can count requests per operation and inject faults per operation.
 *
 * Not implemented or not checked: virtual-hosted-style addressing; bucket policies, ACLs and
 * ownership (every known key pair may do everything); versioning; object lock; SSE; storage
 * classes (all STANDARD); CopyObject and UploadPartCopy (501); tagging, lifecycle, CORS; CRC64NVME
 * (501; S3 itself would store a CRC64NVME for a PutObject without checksum, this server stores a
 * CRC32C); clock skew of signed requests; per-chunk signatures of STREAMING-AWS4-HMAC-SHA256-PAYLOAD
 * bodies; multi-range GETs (the whole object is sent, as S3 does); paging of ListMultipartUploads
 * within one key; state survives only as long as the process (dataDir holds bytes, not the index).
 *
 * Standalone: `tsx tests/support/s3-server.ts [--host H] [--port N] [--data-dir DIR] [--bucket B]...
 * [--tls-key FILE --tls-cert FILE]` (or S3_TEST_HOST, S3_TEST_PORT, S3_TEST_DATA_DIR,
 * S3_TEST_BUCKETS=a,b) prints one JSON line `{"endpoint","region","accessKeyId","secretAccessKey"}`
 * when ready and runs until SIGTERM or SIGINT.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  addBucket,
  createBucket,
  deleteBucket,
  deleteObjects,
  getBucketLocation,
  headBucket,
  listBuckets,
  listObjects,
} from './s3-server/bucket-handlers.js';
import type { RequestContext } from './s3-server/context.js';
import { S3Error } from './s3-server/errors.js';
import {
  abortMultipartUpload,
  completeMultipartUpload,
  createMultipartUpload,
  listMultipartUploads,
  listParts,
  uploadPart,
} from './s3-server/multipart-handlers.js';
import { deleteObject, getObject, headObject, putObject } from './s3-server/object-handlers.js';
import { routeRequest } from './s3-server/routing.js';
import { parseRawQuery, verifySignature } from './s3-server/sigv4.js';
import { S3State } from './s3-server/state.js';
import { xmlDocument } from './s3-server/xml.js';

export interface S3TestCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface S3TestServerOptions {
  /** Default: one key pair { accessKeyId: 'reelin-test-key', secretAccessKey: 'reelin-test-secret' }. */
  credentials?: S3TestCredentials[];
  /** Serve HTTPS with this key/cert (PEM) instead of HTTP (tests/support/test-pki.ts makes them). */
  tls?: { key: string; cert: string };
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
  /** Directory for object and part data; default a fresh temp dir removed on close(). */
  dataDir?: string;
  /** Clock for Initiated dates, Last-Modified and presigned expiry; default Date.now. */
  now?: () => number;
  /** Smallest size of every part but the last at CompleteMultipartUpload; default 5 MiB, as on S3. */
  minPartSizeBytes?: number;
}

/**
 * A fault for the next requests of one operation: an S3 error answer, or a connection reset. An
 * error answer with `afterBodyStarts` waits until the first bytes of the request body arrived
 * (so the client has read some of it); without, it may come before or after them.
 */
export type S3Fault = { status: number; code: string; afterBodyStarts?: boolean } | 'reset';

export interface S3TestServer {
  /** e.g. `http://127.0.0.1:40123` (`https://` with `tls`). */
  readonly endpoint: string;
  /** Always 'us-east-1'. */
  readonly region: string;
  /** The first key pair. */
  readonly credentials: S3TestCredentials;
  /** Creates the bucket; does nothing when it exists already. */
  createBucket(name: string): Promise<void>;
  /** Snapshot of multipart uploads in progress, oldest first. */
  listUploads(
    bucket?: string,
  ): Array<{ bucket: string; key: string; uploadId: string; initiated: Date; partNumbers: number[] }>;
  /** Counts of requests by operation name ('UploadPart', 'PutObject', 'GetObject', ...), faulted ones included. */
  requestCounts(): Record<string, number>;
  /**
   * The next `count` (default 1) requests of `operation` fail with this status and S3 error code,
   * or have their connection destroyed mid-body ('reset': a GetObject sends half its body first;
   * other operations are cut while the request body is arriving, before anything is stored).
   */
  injectFault(operation: string, fault: S3Fault, count?: number): void;
  /** The object's bytes (for assertions on small objects), or null when bucket or key is missing. */
  objectBytes(bucket: string, key: string): Promise<Buffer | null>;
  close(): Promise<void>;
}

const region = 'us-east-1';
const defaultCredentials: S3TestCredentials = { accessKeyId: 'reelin-test-key', secretAccessKey: 'reelin-test-secret' };

type Handler = (context: RequestContext) => void | Promise<void>;

const handlers: Record<string, Handler> = {
  ListBuckets: listBuckets,
  CreateBucket: createBucket,
  HeadBucket: headBucket,
  DeleteBucket: deleteBucket,
  GetBucketLocation: getBucketLocation,
  ListObjectsV2: (context) => listObjects(context, true),
  ListObjects: (context) => listObjects(context, false),
  DeleteObjects: deleteObjects,
  ListMultipartUploads: listMultipartUploads,
  PutObject: putObject,
  GetObject: (context) => getObject(context),
  HeadObject: headObject,
  DeleteObject: deleteObject,
  CreateMultipartUpload: createMultipartUpload,
  UploadPart: uploadPart,
  ListParts: listParts,
  CompleteMultipartUpload: completeMultipartUpload,
  AbortMultipartUpload: abortMultipartUpload,
};

class S3TestServerImpl implements S3TestServer {
  readonly region = region;
  readonly credentials: S3TestCredentials;
  endpoint = '';
  private readonly counts = new Map<string, number>();
  private readonly faults = new Map<string, Array<{ fault: S3Fault; remaining: number }>>();
  private readonly sockets = new Set<Socket>();
  private readonly secrets: Map<string, string>;
  private readonly server: Server;

  constructor(
    private readonly state: S3State,
    private readonly options: S3TestServerOptions,
    private readonly ownsDataDir: boolean,
  ) {
    const credentials = options.credentials ?? [defaultCredentials];
    if (credentials.length === 0) throw new Error('S3 test server: give at least one key pair in `credentials`');
    this.credentials = credentials[0]!;
    this.secrets = new Map(credentials.map((pair) => [pair.accessKeyId, pair.secretAccessKey]));
    const listener = (request: IncomingMessage, response: ServerResponse) => void this.handle(request, response);
    this.server = options.tls
      ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, listener)
      : createHttpServer(listener);
    // Large parts on a busy machine may take minutes; S3 itself has no such short limit.
    this.server.requestTimeout = 0;
    this.server.keepAliveTimeout = 30_000;
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  async listen(): Promise<void> {
    const host = this.options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port ?? 0, host, () => resolve());
    });
    const { port } = this.server.address() as AddressInfo;
    const hostInUrl = host.includes(':') ? `[${host}]` : host;
    this.endpoint = `${this.options.tls ? 'https' : 'http'}://${hostInUrl}:${port}`;
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  async createBucket(name: string): Promise<void> {
    addBucket(this.state, name, this.now());
  }

  listUploads(bucket?: string) {
    return [...this.state.uploads.values()]
      .filter((upload) => bucket === undefined || upload.bucket === bucket)
      .sort((a, b) => a.initiated.getTime() - b.initiated.getTime())
      .map((upload) => ({
        bucket: upload.bucket,
        key: upload.key,
        uploadId: upload.uploadId,
        initiated: new Date(upload.initiated),
        partNumbers: [...upload.parts.keys()].sort((a, b) => a - b),
      }));
  }

  requestCounts(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }

  injectFault(operation: string, fault: S3Fault, count = 1): void {
    if (!Number.isInteger(count) || count < 1)
      throw new RangeError(`injectFault: count must be a positive integer, got ${count}`);
    const queue = this.faults.get(operation) ?? [];
    queue.push({ fault, remaining: count });
    this.faults.set(operation, queue);
  }

  async objectBytes(bucketName: string, key: string): Promise<Buffer | null> {
    const object = this.state.buckets.get(bucketName)?.objects.get(key);
    if (!object) return null;
    const release = object.files.acquire();
    try {
      return Buffer.concat(await Promise.all(object.files.segments.map((segment) => readFile(segment.path))));
    } finally {
      release();
    }
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    this.server.closeAllConnections();
    await closed;
    if (this.ownsDataDir) await rm(this.state.dataDir, { recursive: true, force: true });
  }

  private takeFault(operation: string): S3Fault | undefined {
    const queue = this.faults.get(operation);
    const next = queue?.[0];
    if (!queue || !next) return undefined;
    next.remaining -= 1;
    if (next.remaining === 0) queue.shift();
    return next.fault;
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const requestId = randomBytes(8).toString('hex').toUpperCase();
    response.setHeader('x-amz-request-id', requestId);
    response.setHeader('x-amz-id-2', randomBytes(24).toString('base64'));
    response.setHeader('server', 'ReelinS3Test');
    const url = request.url ?? '/';
    const questionMark = url.indexOf('?');
    const rawPath = questionMark === -1 ? url : url.slice(0, questionMark);
    let resource = rawPath;
    try {
      const query = new Map<string, string>();
      for (const [name, value] of parseRawQuery(questionMark === -1 ? '' : url.slice(questionMark + 1)))
        if (!query.has(name)) query.set(name, value);
      const route = routeRequest(request.method ?? 'GET', rawPath, query);
      resource = route.bucket === undefined ? '/' : `/${route.bucket}${route.key ? `/${route.key}` : ''}`;
      if (route.bucket !== undefined) response.setHeader('x-amz-bucket-region', region);
      this.counts.set(route.operation, (this.counts.get(route.operation) ?? 0) + 1);
      const handler = handlers[route.operation];
      if (!handler) throw new S3Error(501, 'NotImplemented', `This test server does not implement ${route.operation}.`);
      const verified = verifySignature(
        { method: request.method ?? 'GET', url, headers: request.headersDistinct },
        { region, findSecret: (accessKeyId) => this.secrets.get(accessKeyId), now: () => this.now() },
      );
      const context: RequestContext = {
        request,
        response,
        query,
        payloadHash: verified.payloadHash,
        state: this.state,
        now: () => this.now(),
        region,
        bucketName: route.bucket ?? '',
        key: route.key ?? '',
        minPartSizeBytes: this.options.minPartSizeBytes ?? 5 * 1024 * 1024,
      };
      const fault = this.takeFault(route.operation);
      if (fault === 'reset') {
        await this.reset(context, route.operation);
        return;
      }
      if (fault?.afterBodyStarts === true && !request.readableEnded)
        await new Promise((resolve) => {
          request.once('readable', resolve);
          request.once('end', resolve);
        });
      if (fault) throw new S3Error(fault.status, fault.code, `Injected fault: ${fault.code}`);
      await handler(context);
    } catch (error) {
      this.answerError(request, response, error, resource, requestId);
    }
  }

  /** Cuts the connection mid-body: halfway through a GET's answer, or while a request body arrives. */
  private async reset(context: RequestContext, operation: string): Promise<void> {
    if (operation === 'GetObject') {
      const object = this.state.buckets.get(context.bucketName)?.objects.get(context.key);
      await getObject(context, { resetAfterBytes: Math.floor((object?.lengthBytes ?? 0) / 2) });
      return;
    }
    const socket = context.request.socket;
    if (context.request.readableEnded) {
      socket.destroy();
      return;
    }
    context.request.once('data', () => socket.destroy());
    context.request.once('end', () => socket.destroy());
    context.request.resume();
  }

  private answerError(
    request: IncomingMessage,
    response: ServerResponse,
    error: unknown,
    resource: string,
    requestId: string,
  ): void {
    if (response.headersSent || response.destroyed) {
      response.destroy();
      return;
    }
    const s3Error =
      error instanceof S3Error
        ? error
        : new S3Error(
            500,
            'InternalError',
            `We encountered an internal error. Please try again. (${error instanceof Error ? error.message : String(error)})`,
          );
    // A body that was not read to its end would otherwise be parsed as the next request.
    if (!request.readableEnded) response.setHeader('connection', 'close');
    if (request.method === 'HEAD' || s3Error.status === 304) {
      response.writeHead(s3Error.status, { 'content-length': 0 });
      response.end();
      return;
    }
    const body = Buffer.from(
      xmlDocument(
        'Error',
        {
          Code: s3Error.code,
          Message: s3Error.message,
          ...s3Error.details,
          Resource: resource,
          RequestId: requestId,
        },
        false,
      ),
    );
    response.writeHead(s3Error.status, { 'content-type': 'application/xml', 'content-length': body.length });
    response.end(body);
  }
}

export async function startS3TestServer(options: S3TestServerOptions = {}): Promise<S3TestServer> {
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'reelin-s3-')));
  if (!ownsDataDir) await mkdir(dataDir, { recursive: true });
  const server = new S3TestServerImpl(new S3State(dataDir), options, ownsDataDir);
  try {
    await server.listen();
  } catch (error) {
    if (ownsDataDir) await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  return server;
}

async function runStandalone(): Promise<void> {
  const { values } = parseArgs({
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      'data-dir': { type: 'string' },
      bucket: { type: 'string', multiple: true },
      'tls-key': { type: 'string' },
      'tls-cert': { type: 'string' },
    },
  });
  const env = process.env;
  const port = Number(values.port ?? env.S3_TEST_PORT ?? '0');
  const buckets = values.bucket ?? (env.S3_TEST_BUCKETS ?? '').split(',').filter((name) => name !== '');
  const tls =
    values['tls-key'] && values['tls-cert']
      ? { key: await readFile(values['tls-key'], 'utf8'), cert: await readFile(values['tls-cert'], 'utf8') }
      : undefined;
  const dataDir = values['data-dir'] ?? env.S3_TEST_DATA_DIR;
  const server = await startS3TestServer({
    host: values.host ?? env.S3_TEST_HOST ?? '127.0.0.1',
    port,
    ...(dataDir ? { dataDir } : {}),
    ...(tls ? { tls } : {}),
  });
  for (const bucket of buckets) await server.createBucket(bucket);
  console.log(JSON.stringify({ endpoint: server.endpoint, region: server.region, ...server.credentials }));
  const stop = () => void server.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runStandalone().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
