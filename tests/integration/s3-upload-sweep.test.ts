import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateDatabase, openDatabase, type Database, type DatabaseConnection } from '../../src/db/database.js';
import {
  findImportForCopy,
  insertImport,
  listRecordedParts,
  recordParts,
  type NewImport,
} from '../../src/db/queries/imports.queries.js';
import { insertAccount } from '../../src/db/queries/tenancy.queries.js';
import { insertVideo } from '../../src/db/queries/videos.queries.js';
import {
  clearExpiredS3Credentials,
  createSweepUploadsHandler,
  judgeUpload,
  sweepUploads,
  type SweepPolicy,
} from '../../src/jobs/sweep-uploads.job.js';
import { videoSourceKey } from '../../src/storage/blob-keys.js';
import { writePartFrom, type UploadState } from '../../src/storage/blob-store.js';
import { createS3Store, type S3StoreHandle } from '../../src/storage/s3-client.js';
import { startS3TestServer, type S3TestServer } from '../support/s3-server.js';
import { backends, createTestDatabase, type Backend, type TestDatabase } from '../support/test-database.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const policy: SweepPolicy = { minAgeMs: HOUR, failedRetentionMs: 7 * DAY };
const log = pino({ level: 'silent' });

describe('judgeUpload', () => {
  const now = new Date('2026-03-10T12:00:00Z');
  const old = { initiatedAt: new Date(now.getTime() - 2 * HOUR) };

  it.each([
    ['a young orphan', { initiatedAt: new Date(now.getTime() - HOUR + 1) }, null, { action: 'keep', reason: 'young' }],
    [
      'an orphan at exactly the minimum age',
      { initiatedAt: new Date(now.getTime() - HOUR) },
      null,
      { action: 'abort', reason: 'orphaned' },
    ],
    [
      'an upload of an INITIAL import',
      old,
      { status: 'INITIAL', finishedAt: null },
      { action: 'keep', reason: 'in use' },
    ],
    [
      'an upload of an IN_PROGRESS import',
      old,
      { status: 'IN_PROGRESS', finishedAt: null },
      { action: 'keep', reason: 'in use' },
    ],
    [
      'an upload a DONE import still records',
      old,
      { status: 'DONE', finishedAt: now },
      { action: 'abort', reason: 'import done' },
    ],
    [
      'an upload of an import that failed 7 days less 1 ms ago',
      old,
      { status: 'FAILED', finishedAt: new Date(now.getTime() - 7 * DAY + 1) },
      { action: 'keep', reason: 'failed within retention' },
    ],
    [
      'an upload of an import that failed 7 days ago',
      old,
      { status: 'FAILED', finishedAt: new Date(now.getTime() - 7 * DAY) },
      { action: 'abort and clear', reason: 'failed past retention' },
    ],
  ] as const)('judges %s', (_label, upload, owner, verdict) => {
    expect(judgeUpload(upload, owner, policy, now)).toEqual(verdict);
  });
});

describe.each(backends)('the upload sweep on %s with the S3 test server', (backend: Backend) => {
  let tempDir: string;
  let database: TestDatabase;
  let connection: DatabaseConnection;
  let db: Database;
  let server: S3TestServer;
  let handle: S3StoreHandle;
  let outsider: S3StoreHandle;

  beforeAll(async () => {
    tempDir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-sweep-'));
    database = await createTestDatabase(backend, path.join(tempDir, 'db'));
    connection = await openDatabase(database.config);
    await migrateDatabase(connection);
    db = connection.db;
    server = await startS3TestServer();
    await server.createBucket('sweep');
    const common = {
      bucket: 'sweep',
      region: server.region,
      endpoint: server.endpoint,
      forcePathStyle: true,
      maxSockets: 8,
    };
    const options = { connectTimeoutMs: 5_000, idleTimeoutMs: 30_000, credentials: server.credentials };
    handle = createS3Store({ ...common, keyPrefix: 'reelin/' }, options);
    // Another deployment sharing the bucket under its own prefix: the sweep must never touch it.
    outsider = createS3Store({ ...common, keyPrefix: 'other/' }, options);
  });

  afterAll(async () => {
    handle?.destroy();
    outsider?.destroy();
    await server?.close();
    await connection?.close();
    await database?.drop();
    await fs.rm(tempDir, { recursive: true, force: true });
  });

  /** A video with an import in `status` that records a fresh upload with one written part. */
  async function importWithUpload(
    status: NonNullable<NewImport['status']>,
    finishedAt: Date | null,
  ): Promise<{ videoId: string; uploadId: string }> {
    const account = await insertAccount(db, {
      email: `${randomUUID()}@example.com`,
      userName: 'Sweeper',
      teamName: `Team ${randomUUID()}`,
      projectName: 'P',
    });
    const video = await insertVideo(db, {
      teamId: account.teamId,
      userId: account.userId,
      projectId: account.projectId,
      name: 'a.mp4',
      fileName: 'a.mp4',
      mimeType: 'video/mp4',
      fileSizeBytes: 100,
    });
    const key = videoSourceKey(account.teamId, video.id);
    const upload = await handle.store.openUpload(key, 100, null);
    const receipt = await writePartFrom(
      upload,
      { index: 0, offsetBytes: 0, lengthBytes: 100 },
      Readable.from([Buffer.alloc(100, 1)]),
      new AbortController().signal,
    );
    await insertImport(db, {
      videoId: video.id,
      sourceUrl: 'https://cdn.example.com/a.mp4',
      fetchUrl: 'https://cdn.example.com/a.mp4',
      pinnedAddresses: ['203.0.113.7'],
      totalBytes: 100,
      partSizeBytes: 100,
      maxConnections: 1,
      fullIngestion: false,
      status,
      uploadState: upload.state,
      finishedAt,
      ...(status === 'FAILED' ? { errorCode: 'SOURCE_UNREACHABLE', errorMessage: 'gone', errorDetails: {} } : {}),
    });
    await recordParts(db, video.id, [{ partIndex: 0, offsetBytes: 0, lengthBytes: 100, crc32c: 1, receipt }]);
    return { videoId: video.id, uploadId: String(upload.state.uploadId) };
  }

  async function orphanUpload(store = handle.store): Promise<string> {
    const upload = await store.openUpload(videoSourceKey(randomUUID(), randomUUID()), 100, null);
    return String(upload.state.uploadId);
  }

  const pendingIds = () => new Set(server.listUploads('sweep').map((item) => item.uploadId));

  it('aborts orphaned and unneeded uploads, keeps the ones imports need, and clears FAILED imports past retention', async () => {
    const now = Date.now();
    const orphan = await orphanUpload();
    const foreign = await orphanUpload(outsider.store);
    const running = await importWithUpload('IN_PROGRESS', null);
    const waiting = await importWithUpload('INITIAL', null);
    const recentFailure = await importWithUpload('FAILED', new Date(now - DAY));
    const oldFailure = await importWithUpload('FAILED', new Date(now - 8 * DAY));
    const done = await importWithUpload('DONE', new Date(now - DAY));

    // First a sweep at the real time: every upload is younger than the minimum age.
    expect(await sweepUploads({ db, store: handle.store, policy, log })).toEqual({ listed: 6, aborted: 0, cleared: 0 });
    expect(pendingIds().size).toBe(7);

    const summary = await sweepUploads({ db, store: handle.store, policy, log, now: () => new Date(now + 2 * HOUR) });
    expect(summary).toEqual({ listed: 6, aborted: 3, cleared: 1 });
    const pending = pendingIds();
    expect([orphan, oldFailure.uploadId, done.uploadId].filter((id) => pending.has(id))).toEqual([]);
    expect(
      [foreign, running.uploadId, waiting.uploadId, recentFailure.uploadId].filter((id) => pending.has(id)),
    ).toHaveLength(4);

    const cleared = (await findImportForCopy(db, oldFailure.videoId))?.videoImport;
    expect(cleared?.status).toBe('FAILED');
    expect(cleared?.uploadState).toBeNull();
    expect(await listRecordedParts(db, oldFailure.videoId)).toEqual([]);
    const kept = (await findImportForCopy(db, recentFailure.videoId))?.videoImport;
    expect(kept?.uploadState).toEqual({ store: 's3', uploadId: recentFailure.uploadId } satisfies UploadState);
    expect(await listRecordedParts(db, recentFailure.videoId)).toHaveLength(1);

    // Sweeping again finds nothing more to do.
    expect(await sweepUploads({ db, store: handle.store, policy, log, now: () => new Date(now + 2 * HOUR) })).toEqual({
      listed: 3,
      aborted: 0,
      cleared: 0,
    });
  });

  it('does nothing for a store without multipart uploads to list', async () => {
    const store = { ...handle.store, listUploads: undefined } as unknown as typeof handle.store;
    expect(await sweepUploads({ db, store, policy, log })).toEqual({ listed: 0, aborted: 0, cleared: 0 });
  });
});

describe.each(backends)('the sweep of stored S3 key pairs on %s', (backend: Backend) => {
  let tempDir: string;
  let database: TestDatabase;
  let connection: DatabaseConnection;
  let db: Database;

  beforeAll(async () => {
    tempDir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-key-sweep-'));
    database = await createTestDatabase(backend, path.join(tempDir, 'db'));
    connection = await openDatabase(database.config);
    await migrateDatabase(connection);
    db = connection.db;
  });
  afterAll(async () => {
    await connection?.close();
    await database?.drop();
    await fs.rm(tempDir, { recursive: true, force: true });
  });

  /** An S3 (or HTTPS) import in `status` with a sealed key pair, finished at `finishedAt`. */
  async function s3Import(
    status: NonNullable<NewImport['status']>,
    finishedAt: Date | null,
    sourceKind: 's3' | 'https' = 's3',
  ): Promise<string> {
    const account = await insertAccount(db, {
      email: `${randomUUID()}@example.com`,
      userName: 'Keys',
      teamName: `Team ${randomUUID()}`,
      projectName: 'P',
    });
    const video = await insertVideo(db, {
      teamId: account.teamId,
      userId: account.userId,
      projectId: account.projectId,
      name: 'a.mov',
      fileName: 'a.mov',
      mimeType: 'video/quicktime',
      fileSizeBytes: 100,
    });
    await insertImport(db, {
      videoId: video.id,
      sourceKind,
      sourceUrl: 's3://masters/a.mov',
      fetchUrl: 'https://s3.eu-west-1.amazonaws.com/masters/a.mov',
      pinnedAddresses: ['203.0.113.7'],
      totalBytes: 100,
      partSizeBytes: 100,
      maxConnections: 1,
      fullIngestion: false,
      status,
      finishedAt,
      sourceCredentials: sourceKind === 's3' ? 'v1.aXY=.dGFn.c2VhbGVk' : null,
      ...(status === 'FAILED' ? { errorCode: 'SOURCE_UNREACHABLE', errorMessage: 'gone', errorDetails: {} } : {}),
    });
    return video.id;
  }

  const credentialsOf = async (videoId: string) =>
    (await findImportForCopy(db, videoId))?.videoImport.sourceCredentials;

  it('deletes the key pairs of imports that failed at least the retention ago, and keeps every other', async () => {
    const now = new Date('2026-03-10T12:00:00Z');
    const expired = await s3Import('FAILED', new Date(now.getTime() - 7 * DAY - 1));
    const recent = await s3Import('FAILED', new Date(now.getTime() - 7 * DAY + 1000));
    const running = await s3Import('IN_PROGRESS', null);
    const httpsFailure = await s3Import('FAILED', new Date(now.getTime() - 30 * DAY), 'https');
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });

    expect(await clearExpiredS3Credentials({ db, policy, log: logger, now: () => now })).toBe(1);
    expect(await credentialsOf(expired)).toBeNull();
    expect((await findImportForCopy(db, expired))?.videoImport.status).toBe('FAILED');
    expect(await credentialsOf(recent)).toBe('v1.aXY=.dGFn.c2VhbGVk');
    expect(await credentialsOf(running)).toBe('v1.aXY=.dGFn.c2VhbGVk');
    expect(await credentialsOf(httpsFailure)).toBeNull();
    expect(
      lines
        .map((line) => JSON.parse(line) as { msg: string; videoIds: string[] })
        .map((line) => [line.msg, line.videoIds]),
    ).toEqual([['deleted the S3 key pairs of imports that failed longer ago than the retention', [expired]]]);

    // Two seconds later the second one is past the retention too; then nothing is left.
    expect(
      await clearExpiredS3Credentials({ db, policy, log: logger, now: () => new Date(now.getTime() + 2000) }),
    ).toBe(1);
    expect(await credentialsOf(recent)).toBeNull();
    expect(
      await clearExpiredS3Credentials({ db, policy, log: logger, now: () => new Date(now.getTime() + 2000) }),
    ).toBe(0);
  });

  it('runs in the sweep job whatever the storage, a store without uploads to list included', async () => {
    const failedAt = new Date(Date.now() - 2 * HOUR);
    const videoId = await s3Import('FAILED', failedAt);
    const fsLikeStore = { listUploads: undefined } as unknown as Parameters<
      typeof createSweepUploadsHandler
    >[0]['store'];
    const handler = createSweepUploadsHandler({
      db,
      store: fsLikeStore,
      policy: { minAgeMs: Number.POSITIVE_INFINITY, failedRetentionMs: HOUR },
      log,
    });
    await handler({} as never, {} as never);
    expect(await credentialsOf(videoId)).toBeNull();
  });
});
