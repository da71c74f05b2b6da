import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { crc32c } from '@node-rs/crc32';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { sql } from 'drizzle-orm';
import { pino } from 'pino';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningApp } from '../../src/app.js';
import { openDatabase } from '../../src/db/database.js';
import { listEventsOfVideo } from '../../src/db/queries/events.queries.js';
import { findImportForCopy, listRecordedParts } from '../../src/db/queries/imports.queries.js';
import { startS3TestServer, type S3TestServer } from '../support/s3-server.js';
import { backends, createTestDatabase, type Backend, type TestDatabase } from '../support/test-database.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import { serviceClient, startServiceApp } from '../support/test-service.js';
import { until } from '../support/wait.js';

const PART_SIZE = 64 * 1024;
const ACCESS_KEY = 'reelin-import-key';
const SECRET = 'S3cret/Never+Shown_7f1d0c9a2b4e6f8a';
const BUCKET = 'masters';

// ---------------------------------------------------------------------------------------------
// Harness: the real service in-process with a logger whose every line (trace level) is kept, an API
// client that keeps every response text, and a TCP proxy that throttles what S3 sends back so a
// copy can be caught in the middle.
// ---------------------------------------------------------------------------------------------

interface Service {
  app: RunningApp;
  api(method: string, apiPath: string, body?: unknown): Promise<{ status: number; body: any; text: string }>;
}

const logLines: string[] = [];
const responseTexts: string[] = [];

async function startService(
  database: TestDatabase,
  dataDir: string,
  env: Record<string, string>,
  pki: TestPki,
): Promise<Service> {
  const logger = pino({ level: 'trace' }, { write: (line: string) => void logLines.push(line) });
  const app = await startServiceApp({
    dataDir,
    database: database.config,
    env,
    extraCaCertificates: [pki.caCertPem],
    logger,
  });
  const client = serviceClient(app.url ?? '');
  return {
    app,
    async api(method, apiPath, body) {
      const { status, body: parsed, text } = await client.api(method, apiPath, body === undefined ? {} : { body });
      responseTexts.push(text);
      return { status, body: parsed, text };
    },
  };
}

async function waitForUpload(service: Service, videoId: string, statuses: string[], timeoutMs = 30_000): Promise<any> {
  return until(
    `import ${videoId} to reach ${statuses.join('/')}`,
    async () => (await service.api('GET', `/api/v1/videos/${videoId}/in/status`)).body,
    (status) => statuses.includes(status?.upload?.uploadState?.uploadStatus),
    { timeoutMs, intervalMs: 50 },
  );
}

/**
 * Waits for the ingestion that follows a DONE copy to end (random bytes end it FAILED within a
 * second): stopping the service in the middle of one would hold its shutdown up.
 */
async function waitForIngestionEnd(service: Service, videoId: string): Promise<string> {
  return until(
    `the ingestion of ${videoId} to end`,
    async () =>
      (await service.api('GET', `/api/v1/videos/${videoId}`)).body?.ingestion?.ingestionState?.ingestionStatus,
    (status) => status === 'DONE' || status === 'FAILED',
    { timeoutMs: 30_000, intervalMs: 100 },
  );
}

async function download(service: Service, videoId: string): Promise<{ bytes: Buffer; link: any }> {
  const link = await service.api('POST', `/api/v1/videos/${videoId}/out/https`);
  expect(link.status).toBe(200);
  return {
    bytes: Buffer.from(
      await (await request(new URL(link.body.presignedUrl, service.app.url ?? ''))).body.arrayBuffer(),
    ),
    link: link.body,
  };
}

interface ThrottleProxy {
  port: number;
  /** Bytes per second each connection may receive from S3; Infinity: unthrottled. */
  bytesPerSecond: number;
  close(): Promise<void>;
}

/** Forwards TCP (TLS passes through untouched) to `port`, pacing the answers. */
async function startThrottleProxy(port: number): Promise<ThrottleProxy> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    // When S3 closes, what it sent still drains to the client (then `final` ends it).
    client.on('close', () => upstream.destroy());
    client.pipe(upstream);
    upstream.pipe(
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          client.write(chunk);
          const delayMs = Number.isFinite(proxy.bytesPerSecond) ? (chunk.length * 1000) / proxy.bytesPerSecond : 0;
          setTimeout(callback, delayMs);
        },
        final(callback) {
          client.end();
          callback();
        },
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxy: ThrottleProxy = {
    port: (server.address() as net.AddressInfo).port,
    bytesPerSecond: Infinity,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}

/** The data file the S3 test server keeps `content` in (its only file with these bytes). */
async function findStoredFile(dir: string, content: Buffer): Promise<string> {
  for (const name of await fs.readdir(dir)) {
    const file = path.join(dir, name);
    const stat = await fs.stat(file);
    if (stat.isFile() && stat.size === content.length && (await fs.readFile(file)).equals(content)) return file;
  }
  throw new Error('the S3 test server keeps no file with these bytes');
}

describe.each(backends)('importing from S3 (%s)', (backend: Backend) => {
  let pki: TestPki;
  let s3: S3TestServer;
  let s3Dir: string;
  let proxy: ThrottleProxy;
  let sdk: S3Client;
  let workDir: string;
  const databases: TestDatabase[] = [];
  const apps: RunningApp[] = [];
  let service: Service;
  let env: Record<string, string>;
  const s3Port = () => Number(new URL(s3.endpoint).port);
  const proxyEndpoint = () => `https://127.0.0.1:${proxy.port}`;

  const single = randomBytes(20 * PART_SIZE + 17);
  const plainParts = [randomBytes(96 * 1024), randomBytes(40 * 1024 + 3)];
  const compositeParts = [randomBytes(80 * 1024), randomBytes(9)];
  const tampered = randomBytes(5 * PART_SIZE);
  const slow = randomBytes(48 * PART_SIZE - 100);

  async function putMultipart(key: string, parts: Buffer[], checksum: 'CRC32C' | null): Promise<void> {
    const created = await sdk.send(
      new CreateMultipartUploadCommand({
        Bucket: BUCKET,
        Key: key,
        ...(checksum ? { ChecksumAlgorithm: checksum, ChecksumType: 'COMPOSITE' } : {}),
      }),
    );
    const completed = [];
    for (const [index, body] of parts.entries()) {
      const part = await sdk.send(
        new UploadPartCommand({
          Bucket: BUCKET,
          Key: key,
          UploadId: created.UploadId,
          PartNumber: index + 1,
          Body: body,
          ...(checksum ? { ChecksumAlgorithm: checksum } : {}),
        }),
      );
      completed.push({
        PartNumber: index + 1,
        ETag: part.ETag,
        ...(part.ChecksumCRC32C ? { ChecksumCRC32C: part.ChecksumCRC32C } : {}),
      });
    }
    await sdk.send(
      new CompleteMultipartUploadCommand({
        Bucket: BUCKET,
        Key: key,
        UploadId: created.UploadId,
        MultipartUpload: { Parts: completed },
      }),
    );
  }

  async function newService(): Promise<{ service: Service; database: TestDatabase; dataDir: string }> {
    const dataDir = await fs.mkdtemp(path.join(workDir, 'service-'));
    const database = await createTestDatabase(backend, path.join(dataDir, 'db'));
    databases.push(database);
    const started = await startService(database, dataDir, env, pki);
    apps.push(started.app);
    return { service: started, database, dataDir };
  }

  beforeAll(async () => {
    pki = await createTestPki();
    workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-s3-import-'));
    s3Dir = path.join(workDir, 's3');
    s3 = await startS3TestServer({
      tls: { key: pki.serverKeyPem, cert: pki.serverCertPem },
      credentials: [{ accessKeyId: ACCESS_KEY, secretAccessKey: SECRET }],
      dataDir: s3Dir,
      minPartSizeBytes: 1,
    });
    proxy = await startThrottleProxy(s3Port());
    sdk = new S3Client({
      endpoint: s3.endpoint,
      region: s3.region,
      forcePathStyle: true,
      credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET },
      // Only the checksums asked for: a multipart upload without one must stay without one.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: new NodeHttpHandler({ httpsAgent: new https.Agent({ ca: pki.caCertPem }) }),
    });
    await s3.createBucket(BUCKET);
    await sdk.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'masters/clip one.mov', Body: single, ChecksumAlgorithm: 'CRC32C' }),
    );
    await putMultipart('multi/plain.mp4', plainParts, null);
    await putMultipart('multi/composite.mp4', compositeParts, 'CRC32C');
    await sdk.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'tampered.mov', Body: tampered, ChecksumAlgorithm: 'CRC32C' }),
    );
    await sdk.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'slow.mxf', Body: slow, ChecksumAlgorithm: 'CRC32C' }));
    env = {
      REELIN_S3_IMPORT_ENDPOINTS: `${s3.endpoint},${proxyEndpoint()}`,
      REELIN_ALLOWED_PORTS: `${s3Port()},${proxy.port}`,
      REELIN_COPY_PART_ATTEMPTS: '2',
    };
    service = (await newService()).service;
  }, 60_000);

  afterAll(async () => {
    for (const app of apps) await app.stop().catch(() => undefined);
    for (const database of databases) await database.drop().catch(() => undefined);
    sdk?.destroy();
    await proxy?.close();
    await s3?.close();
    await pki?.cleanup();
    if (workDir) await fs.rm(workDir, { recursive: true, force: true });
  });

  const body = (objectKey: string, s3Bucket: Record<string, unknown> = {}) => ({
    name: 'From S3',
    objectKey,
    s3Bucket: { bucket: BUCKET, accessKey: ACCESS_KEY, secretAccessKey: SECRET, endpoint: s3.endpoint, ...s3Bucket },
  });

  it('copies an object with signed range requests and checks it against the CRC32C S3 keeps for it', async () => {
    const before = s3.requestCounts();
    const created = await service.api('POST', '/api/v1/videos/in/s3', body('masters/clip one.mov'));
    expect(created.status, created.text).toBe(201);
    const videoId = created.body.videoId as string;
    expect(created.body.upload.file).toMatchObject({
      name: 'clip one.mov',
      size: single.length,
      type: 'video/quicktime',
      containerName: 'QuickTime',
    });

    const stored = await findImportForCopy(service.app.connection.db, videoId);
    expect(stored?.videoImport).toMatchObject({
      sourceKind: 's3',
      sourceUrl: 's3://masters/masters/clip one.mov',
      fetchUrl: `${s3.endpoint}/masters/masters/clip%20one.mov`,
      s3Endpoint: s3.endpoint,
      s3Region: 'us-east-1',
      s3Bucket: BUCKET,
      s3ObjectKey: 'masters/clip one.mov',
      s3Addressing: 'path',
      expectedCrc32c: crc32c(single),
      pinnedAddresses: ['127.0.0.1'],
    });
    expect(stored?.videoImport.sourceCredentials).toMatch(/^v1\./);

    const done = await waitForUpload(service, videoId, ['DONE', 'FAILED']);
    expect(done.upload.uploadState).toMatchObject({ uploadStatus: 'DONE', progressPercentage: 100 });
    const { bytes, link } = await download(service, videoId);
    expect(bytes.equals(single)).toBe(true);
    expect(link.crc32cChecksum).toBe(crc32c(single));

    const after = s3.requestCounts();
    expect((after.HeadObject ?? 0) - (before.HeadObject ?? 0)).toBe(1);
    expect((after.GetObject ?? 0) - (before.GetObject ?? 0)).toBe(Math.ceil(single.length / PART_SIZE));
    // A DONE import never reads its source again: the key pair is gone.
    expect((await findImportForCopy(service.app.connection.db, videoId))?.videoImport.sourceCredentials).toBeNull();
    const events = await listEventsOfVideo(service.app.connection.db, videoId);
    expect(events.map((event) => event.type).filter((type) => type.startsWith('video_in.'))).toEqual([
      'video_in.started',
      'video_in.done',
    ]);
    // Then it is ingested like any import (random bytes are no video).
    expect(await waitForIngestionEnd(service, videoId)).toBe('FAILED');
  });

  it('copies multipart objects, expecting no checksum when S3 keeps none or only a composite one', async () => {
    for (const [key, parts] of [
      ['multi/plain.mp4', plainParts],
      ['multi/composite.mp4', compositeParts],
    ] as const) {
      const file = Buffer.concat(parts);
      const created = await service.api('POST', '/api/v1/videos/in/s3', body(key));
      expect(created.status, created.text).toBe(201);
      const videoId = created.body.videoId as string;
      expect((await findImportForCopy(service.app.connection.db, videoId))?.videoImport.expectedCrc32c).toBeNull();
      await waitForUpload(service, videoId, ['DONE']);
      const { bytes, link } = await download(service, videoId);
      expect(bytes.equals(file)).toBe(true);
      expect(link.crc32cChecksum).toBe(crc32c(file));
      await waitForIngestionEnd(service, videoId);
    }
  });

  it('fails with CHECKSUM_MISMATCH when S3 serves bytes that differ from its own CRC32C, keeps the key pair, and is abandoned', async () => {
    const stored = await findStoredFile(s3Dir, tampered);
    const changed = Buffer.from(tampered);
    changed[1000] = (changed[1000] ?? 0) ^ 0xff;
    await fs.writeFile(stored, changed);
    const created = await service.api('POST', '/api/v1/videos/in/s3', body('tampered.mov'));
    expect(created.status, created.text).toBe(201);
    const videoId = created.body.videoId as string;
    const failed = await waitForUpload(service, videoId, ['DONE', 'FAILED']);
    expect(failed.upload.uploadState.uploadStatus).toBe('FAILED');
    expect(failed.upload.uploadState.error).toMatchObject({
      code: 'CHECKSUM_MISMATCH',
      details: { expectedCrc32c: crc32c(tampered), actualCrc32c: crc32c(changed) },
    });
    expect((await findImportForCopy(service.app.connection.db, videoId))?.videoImport.sourceCredentials).toMatch(
      /^v1\./,
    );

    const restart = await service.api('POST', `/api/v1/videos/${videoId}/in/restart`);
    expect([restart.status, restart.body.errorCode]).toEqual([409, 'VIDEO_IN_RESTART_CHECKSUM_MISMATCH']);
    const abandoned = await service.api('DELETE', `/api/v1/videos/${videoId}/in/abandon`);
    expect(abandoned.status).toBe(204);
    expect((await service.api('GET', `/api/v1/videos/${videoId}`)).status).toBe(404);
    expect(await findImportForCopy(service.app.connection.db, videoId)).toBeNull();
    const events = await listEventsOfVideo(service.app.connection.db, videoId);
    expect(
      events.map((event) => event.type).filter((type) => type.startsWith('video_in.') || type === 'video.deleted'),
    ).toEqual(['video_in.started', 'video_in.failed', 'video.deleted']);
  });

  it('answers 404 for a missing bucket or key and 400 for bad credentials, creating nothing', async () => {
    const listed = async () => (await service.api('GET', '/api/v1/videos?pageSize=1')).body.totalElements as number;
    const videosBefore = await listed();
    const cases: [Record<string, unknown>, number, string, string][] = [
      [
        body('x.mov', { bucket: 'no-such-bucket' }),
        404,
        'RESOURCE_NOT_FOUND',
        'the bucket no-such-bucket does not exist',
      ],
      [
        body('no/such key.mov'),
        404,
        'RESOURCE_NOT_FOUND',
        'the object "no/such key.mov" in the bucket masters does not exist',
      ],
      [
        body('slow.mxf', { secretAccessKey: `${SECRET}-wrong` }),
        400,
        'INVALID_CREDENTIALS',
        'S3 refused the request signature: s3Bucket.secretAccessKey is not the secret of s3Bucket.accessKey',
      ],
      [
        body('slow.mxf', { accessKey: 'unknown-key' }),
        400,
        'INVALID_CREDENTIALS',
        'S3 does not know the access key in s3Bucket.accessKey: check that it is an active access key of this S3 service',
      ],
    ];
    for (const [request, status, code, message] of cases) {
      const answer = await service.api('POST', '/api/v1/videos/in/s3', request);
      expect([answer.status, answer.body.errorCode, answer.body.message], answer.text).toEqual([status, code, message]);
    }
    expect(await listed()).toBe(videosBefore);
  });

  it('refuses an endpoint that is not allow-listed, and invalid fields, naming each field', async () => {
    const notListed = await service.api(
      'POST',
      '/api/v1/videos/in/s3',
      body('slow.mxf', { endpoint: 'https://127.0.0.1:1' }),
    );
    expect(notListed.status).toBe(400);
    expect(notListed.body.errorCode).toBe('VALIDATION_ERROR');
    expect(notListed.body.validationErrors).toEqual([
      {
        field: 's3Bucket.endpoint',
        value: 'https://127.0.0.1:1',
        message:
          'is not an S3 endpoint this service may import from: leave it out for AWS, or ask the operator to add it to REELIN_S3_IMPORT_ENDPOINTS',
      },
    ]);

    const plainHttp = await service.api(
      'POST',
      '/api/v1/videos/in/s3',
      body('slow.mxf', { endpoint: s3.endpoint.replace('https:', 'http:') }),
    );
    expect([plainHttp.status, plainHttp.body.validationErrors[0].field]).toEqual([400, 's3Bucket.endpoint']);

    const invalid = await service.api('POST', '/api/v1/videos/in/s3', {
      name: 'x',
      objectKey: '',
      s3Bucket: { bucket: 'ab', accessKey: ACCESS_KEY, secretAccessKey: `${SECRET}${'x'.repeat(300)}` },
    });
    expect(invalid.status).toBe(400);
    expect(invalid.body.errorCode).toBe('VALIDATION_ERROR');
    expect(invalid.body.validationErrors.map((item: any) => [item.field, item.value])).toEqual([
      ['objectKey', ''],
      ['s3Bucket.bucket', 'ab'],
      ['s3Bucket.secretAccessKey', '[redacted]'],
    ]);

    const missing = await service.api('POST', '/api/v1/videos/in/s3', { name: 'x', objectKey: 'a' });
    expect(missing.body.validationErrors).toEqual([{ field: 's3Bucket', value: 'null', message: 'is required' }]);
  });

  it('documents the route and its limits in the OpenAPI document', async () => {
    const openapi = await request(`${service.app.url}/api/docs/json`);
    const document = (await openapi.body.json()) as any;
    const schema = document.paths['/api/v1/videos/in/s3'].post.requestBody.content['application/json'].schema;
    expect(schema.required).toEqual(expect.arrayContaining(['name', 'objectKey', 's3Bucket']));
    expect([schema.properties.objectKey.minLength, schema.properties.objectKey.maxLength]).toEqual([1, 1024]);
    const ref = schema.properties.s3Bucket.$ref as string | undefined;
    const s3Bucket =
      ref === undefined ? schema.properties.s3Bucket : document.components.schemas[ref.split('/').pop() ?? ''];
    expect([s3Bucket.properties.bucket.minLength, s3Bucket.properties.bucket.maxLength]).toEqual([3, 63]);
    expect(s3Bucket.required).toEqual(['bucket', 'accessKey', 'secretAccessKey']);
    expect(
      document.paths['/api/v1/videos/in/s3'].post.parameters.map((parameter: any) => parameter.name).sort(),
    ).toEqual(['fullIngestion', 'selectTeamId']);
  });

  it('continues a copy stopped with its worker from the recorded parts, fetching only the rest', async () => {
    const { service: first, database, dataDir } = await newService();
    proxy.bytesPerSecond = 100_000;
    const created = await first.api('POST', '/api/v1/videos/in/s3', body('slow.mxf', { endpoint: proxyEndpoint() }));
    expect(created.status, created.text).toBe(201);
    const videoId = created.body.videoId as string;
    const totalParts = Math.ceil(slow.length / PART_SIZE);
    await until(
      '8 parts to be recorded',
      async () => (await listRecordedParts(first.app.connection.db, videoId)).length,
      (recorded) => recorded >= 8,
      { timeoutMs: 30_000, intervalMs: 50 },
    );
    await first.app.stop();
    apps.splice(apps.indexOf(first.app), 1);
    proxy.bytesPerSecond = Infinity;

    // What the stopped worker left, read before another one can take the copy over.
    const between = await openDatabase(database.config);
    const recorded = await listRecordedParts(between.db, videoId).finally(() => between.close());
    expect(recorded.length).toBeGreaterThanOrEqual(8);
    expect(recorded.length).toBeLessThan(totalParts);
    const before = s3.requestCounts().GetObject ?? 0;

    const second = await startService(database, dataDir, env, pki);
    apps.push(second.app);
    await waitForUpload(second, videoId, ['DONE']);
    expect((s3.requestCounts().GetObject ?? 0) - before).toBe(totalParts - recorded.length);
    const { bytes, link } = await download(second, videoId);
    expect(bytes.equals(slow)).toBe(true);
    expect(link.crc32cChecksum).toBe(crc32c(slow));
    await waitForIngestionEnd(second, videoId);
  }, 60_000);

  it('fails with SOURCE_CHANGED when the object is replaced mid-copy (S3 answers If-Match with 412), and a restart copies the new object', async () => {
    const original = randomBytes(40 * PART_SIZE);
    const replacement = randomBytes(30 * PART_SIZE + 5);
    await sdk.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'changing.mov', Body: original, ChecksumAlgorithm: 'CRC32C' }),
    );
    proxy.bytesPerSecond = 100_000;
    const created = await service.api(
      'POST',
      '/api/v1/videos/in/s3',
      body('changing.mov', { endpoint: proxyEndpoint() }),
    );
    expect(created.status, created.text).toBe(201);
    const videoId = created.body.videoId as string;
    await until(
      '3 parts to be recorded',
      async () => (await listRecordedParts(service.app.connection.db, videoId)).length,
      (recorded) => recorded >= 3,
      { timeoutMs: 30_000, intervalMs: 50 },
    );
    await sdk.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'changing.mov', Body: replacement, ChecksumAlgorithm: 'CRC32C' }),
    );
    proxy.bytesPerSecond = Infinity;
    const failed = await waitForUpload(service, videoId, ['DONE', 'FAILED']);
    expect(failed.upload.uploadState.uploadStatus).toBe('FAILED');
    expect(failed.upload.uploadState.error).toMatchObject({ code: 'SOURCE_CHANGED', details: { status: 412 } });

    const restarted = await service.api('POST', `/api/v1/videos/${videoId}/in/restart`);
    expect(restarted.status, restarted.text).toBe(200);
    await waitForUpload(service, videoId, ['DONE']);
    const { bytes, link } = await download(service, videoId);
    expect(bytes.equals(replacement)).toBe(true);
    expect(link.crc32cChecksum).toBe(crc32c(replacement));
    expect((await findImportForCopy(service.app.connection.db, videoId))?.videoImport).toMatchObject({
      expectedCrc32c: crc32c(replacement),
      totalBytes: replacement.length,
      sourceCredentials: null,
    });
    await waitForIngestionEnd(service, videoId);
  }, 60_000);

  it('never shows the secret key in a response, a log line or the database row', async () => {
    expect(responseTexts.length).toBeGreaterThan(20);
    expect(logLines.some((line) => line.includes('import created'))).toBe(true);
    for (const text of [...responseTexts, ...logLines]) expect(text).not.toContain(SECRET);
    const rows = await service.app.connection.db.execute(sql`select * from video_imports`);
    expect(JSON.stringify(rows)).not.toContain(SECRET);
  });
});
