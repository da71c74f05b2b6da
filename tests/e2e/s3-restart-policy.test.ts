/**
 * What a failed S3 import keeps, and what a restart checks again: the endpoint must still be on
 * REELIN_S3_IMPORT_ENDPOINTS (the operator may have taken it off since), and the key pair is kept
 * only for the failed-import retention (REELIN_S3_FAILED_UPLOAD_RETENTION_HOURS), with any storage.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningApp } from '../../src/app.js';
import { findImportForCopy } from '../../src/db/queries/imports.queries.js';
import { startS3TestServer, type S3TestServer } from '../support/s3-server.js';
import { backends, createTestDatabase, type Backend, type TestDatabase } from '../support/test-database.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import { serviceClient, startServiceApp } from '../support/test-service.js';
import { until } from '../support/wait.js';

const ACCESS_KEY = 'reelin-restart-key';
const SECRET = 'Restart/Secret+Key_0123456789abcdef';
const BUCKET = 'masters';
const anyRequestId = expect.stringMatching(/^[0-9a-f-]{36}$/);
const anyTimestamp = expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);

describe.each(backends)('restarting a failed S3 import (%s)', (backend: Backend) => {
  let pki: TestPki;
  let s3: S3TestServer;
  let dir: string;
  let database: TestDatabase;
  let app: RunningApp | null = null;
  const object = randomBytes(40_000);

  async function start(env: Record<string, string>): Promise<RunningApp> {
    app = await startServiceApp({
      dataDir: dir,
      database: database.config,
      env: { REELIN_ALLOWED_PORTS: new URL(s3.endpoint).port, REELIN_COPY_PART_ATTEMPTS: '1', ...env },
      extraCaCertificates: [pki.caCertPem],
    });
    return app;
  }

  async function stop(): Promise<void> {
    await app?.stop();
    app = null;
  }

  const client = () => serviceClient(app?.url ?? '');
  async function api(method: string, apiPath: string, body?: unknown): Promise<{ status: number; body: any }> {
    const answer = await client().api(method, apiPath, body === undefined ? {} : { body });
    return { status: answer.status, body: answer.body };
  }
  const waitForUpload = (videoId: string, statuses: string[]) => client().waitForUpload(videoId, statuses);

  /** An import whose one part S3 answers with 500 (one attempt per part): it ends FAILED. */
  async function failedImport(): Promise<string> {
    s3.injectFault('GetObject', { status: 500, code: 'InternalError' });
    const created = await api('POST', '/api/v1/videos/in/s3', {
      name: 'restart',
      objectKey: 'a.mov',
      s3Bucket: { bucket: BUCKET, accessKey: ACCESS_KEY, secretAccessKey: SECRET, endpoint: s3.endpoint },
    });
    expect(created.status).toBe(201);
    const failed = await waitForUpload(created.body.videoId, ['DONE', 'FAILED']);
    expect(failed.upload.uploadState.uploadStatus).toBe('FAILED');
    return created.body.videoId as string;
  }

  beforeAll(async () => {
    pki = await createTestPki();
    s3 = await startS3TestServer({
      tls: { key: pki.serverKeyPem, cert: pki.serverCertPem },
      credentials: [{ accessKeyId: ACCESS_KEY, secretAccessKey: SECRET }],
    });
    await s3.createBucket(BUCKET);
    const sdk = new S3Client({
      endpoint: s3.endpoint,
      region: s3.region,
      forcePathStyle: true,
      credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET },
      requestHandler: new NodeHttpHandler({ httpsAgent: new https.Agent({ ca: pki.caCertPem }) }),
    });
    await sdk.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'a.mov', Body: object }));
    sdk.destroy();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-s3-restart-'));
    database = await createTestDatabase(backend, path.join(dir, 'db'));
  });
  afterAll(async () => {
    await stop();
    await database?.drop();
    await s3?.close();
    await pki?.cleanup();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('re-checks the endpoint allow-list and needs the key pair the retention deletes', async () => {
    await start({ REELIN_S3_IMPORT_ENDPOINTS: s3.endpoint });
    // While the endpoint is allowed and the pair stored, a restart copies the object.
    const recovered = await failedImport();
    const restarted = await api('POST', `/api/v1/videos/${recovered}/in/restart`);
    expect(restarted.status).toBe(200);
    expect((await waitForUpload(recovered, ['DONE', 'FAILED'])).upload.uploadState.uploadStatus).toBe('DONE');
    const videoId = await failedImport();
    expect((await findImportForCopy(app!.connection.db, videoId))?.videoImport.sourceCredentials).toMatch(/^v1\./);
    await stop();

    // The operator takes the endpoint off the list (and keeps failed imports for no time at all).
    await start({ REELIN_S3_IMPORT_ENDPOINTS: '', REELIN_S3_FAILED_UPLOAD_RETENTION_HOURS: '0' });
    const before = s3.requestCounts();
    const refused = await api('POST', `/api/v1/videos/${videoId}/in/restart`);
    const message =
      'is no longer an S3 endpoint this service may import from (REELIN_S3_IMPORT_ENDPOINTS changed since the import was created): abandon the import, or ask the operator to allow the endpoint again';
    expect(refused).toEqual({
      status: 400,
      body: {
        timestamp: anyTimestamp,
        requestId: anyRequestId,
        requestPath: `/api/v1/videos/${videoId}/in/restart`,
        statusCode: 400,
        errorCode: 'VALIDATION_ERROR',
        errorCodeEnum: 'VALIDATION_ERROR',
        message: `the import cannot be restarted: s3Bucket.endpoint: ${message}`,
        validationErrors: [{ field: 's3Bucket.endpoint', value: s3.endpoint, message }],
        errorDetails: null,
      },
    });
    expect(s3.requestCounts()).toEqual(before);
    expect((await waitForUpload(videoId, ['FAILED', 'IN_PROGRESS', 'DONE'])).upload.uploadState.uploadStatus).toBe(
      'FAILED',
    );
    // The sweep every worker asks for at start deleted the pair: the import failed before the (zero) retention ended.
    await until(
      `the sweep to delete the key pair of import ${videoId}`,
      async () => (await findImportForCopy(app!.connection.db, videoId))?.videoImport.sourceCredentials,
      (credentials) => credentials === null,
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    await stop();

    // Allowed again, the import still cannot be restarted: its key pair is gone.
    await start({ REELIN_S3_IMPORT_ENDPOINTS: s3.endpoint });
    const gone = await api('POST', `/api/v1/videos/${videoId}/in/restart`);
    expect(gone).toEqual({
      status: 409,
      body: {
        timestamp: anyTimestamp,
        requestId: anyRequestId,
        requestPath: `/api/v1/videos/${videoId}/in/restart`,
        statusCode: 409,
        errorCode: 'CONFLICT',
        errorCodeEnum: 'CONFLICT',
        message: `the S3 key pair of the import of video ${videoId} was deleted when the retention of failed imports (REELIN_S3_FAILED_UPLOAD_RETENTION_HOURS) ended: abandon the import and import the object again`,
        validationErrors: [],
        errorDetails: { videoId },
      },
    });
    expect(s3.requestCounts()).toEqual(before);
    expect((await api('DELETE', `/api/v1/videos/${videoId}/in/abandon`)).status).toBe(204);
    await stop();
  });
});
