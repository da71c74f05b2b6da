/**
 * The copy's tail on a throttled origin (every connection limited, as a CDN does): connections that
 * have no part left to start take over the rest of the slow parts, so the copy ends at about
 * connections x throttle, on both stores; a copy stopped while a taken-over range is in flight
 * continues after a restart from the recorded parts and ends with exact bytes.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { crc32c } from '@node-rs/crc32';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningApp } from '../../src/app.js';
import { findVideoById } from '../../src/db/queries/videos.queries.js';
import { startOriginServer, type OriginRequestRecord, type OriginServer } from '../support/origin-server.js';
import { startS3TestServer, type S3TestServer } from '../support/s3-server.js';
import { ScriptedResolver } from '../support/scripted-resolver.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import { serviceClient, startServiceApp, type ServiceClient } from '../support/test-service.js';
import { until } from '../support/wait.js';

const ORIGIN_HOST = 'origin.reelin.test';
const BUCKET = 'reelin-tail';
const MEBIBYTE = 1024 * 1024;

type Store = 'fs' | 's3';

/** Each store's shape of a copy whose last round would leave connections idle without takeovers. */
const shapes: Record<Store, { partSizeBytes: number; parts: number; connections: number; throttle: number }> = {
  // 5 parts of 2 MiB on 4 connections at 1 MB/s each: 4.2 s in two rounds, 2.6 s at 4 x 1 MB/s.
  fs: { partSizeBytes: 2 * MEBIBYTE, parts: 5, connections: 4, throttle: 1_000_000 },
  // S3 parts are at least 5 MiB: 3 parts on 2 connections at 2.5 MB/s: 4.2 s in two rounds, 3.1 s at 5 MB/s.
  s3: { partSizeBytes: 5 * MEBIBYTE, parts: 3, connections: 2, throttle: 2_500_000 },
};

/** The copy's range requests (the import's probe asks for byte 0 alone). */
const isRangeGet = (entry: OriginRequestRecord) =>
  entry.method === 'GET' && entry.range !== null && entry.range !== 'bytes=0-0';
const rangeStart = (entry: OriginRequestRecord) => Number(/^bytes=(\d+)-/.exec(entry.range ?? '')?.[1]);

describe.each(['fs', 's3'] as const)('the tail of a throttled copy (%s store)', (store) => {
  const shape = shapes[store];
  let pki: TestPki;
  let origin: OriginServer;
  let s3: S3TestServer | null = null;
  let workDir: string;
  let trusting: Agent;
  const savedEnv = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };

  beforeAll(async () => {
    pki = await createTestPki();
    origin = await startOriginServer({ pki });
    workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-tail-'));
    trusting = new Agent({ connect: { ca: pki.caCertPem } });
    if (store === 's3') {
      s3 = await startS3TestServer({ tls: { key: pki.serverKeyPem, cert: pki.serverCertPem } });
      await s3.createBucket(BUCKET);
      process.env.AWS_ACCESS_KEY_ID = s3.credentials.accessKeyId;
      process.env.AWS_SECRET_ACCESS_KEY = s3.credentials.secretAccessKey;
    }
  }, 60_000);

  afterAll(async () => {
    await trusting?.close();
    await s3?.close();
    await origin?.close();
    await pki?.cleanup();
    await fs.rm(workDir, { recursive: true, force: true });
    process.env.AWS_ACCESS_KEY_ID = savedEnv.id;
    process.env.AWS_SECRET_ACCESS_KEY = savedEnv.secret;
    if (savedEnv.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
    if (savedEnv.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
  });

  /** The service on `dataDir`'s embedded database; started again on the same folder, it continues its copies. */
  function startService(dataDir: string): Promise<RunningApp> {
    const storage: Record<string, string> =
      s3 === null
        ? {}
        : {
            REELIN_STORAGE: 's3',
            REELIN_S3_BUCKET: BUCKET,
            REELIN_S3_ENDPOINT: s3.endpoint,
            REELIN_S3_FORCE_PATH_STYLE: 'true',
          };
    return startServiceApp({
      dataDir,
      database: { kind: 'pglite', dataDir: path.join(dataDir, 'db') },
      extraCaCertificates: [pki.caCertPem],
      resolver: new ScriptedResolver().set(ORIGIN_HOST, ['127.0.0.1']),
      env: {
        REELIN_ALLOWED_PORTS: String(origin.port),
        REELIN_COPY_MIN_PART_SIZE_BYTES: String(shape.partSizeBytes),
        REELIN_IDLE_TIMEOUT_MS: '20000',
        ...storage,
      },
    });
  }

  async function startImport(client: ServiceClient, file: Buffer, filePath: string): Promise<string> {
    origin.setFile(filePath, { body: file });
    origin.setBehaviour(filePath, { throttleBytesPerSecondPerConnection: shape.throttle });
    origin.resetStats();
    const created = await client.api(
      'POST',
      `/api/v1/videos/in/https?maxConcurrentConnections=${shape.connections}&crc32c=${crc32c(file)}`,
      { body: { name: 'Tail', url: origin.url(filePath, ORIGIN_HOST) } },
    );
    expect(created.status, created.text).toBe(201);
    return created.body.videoId as string;
  }

  async function storedBytes(app: RunningApp, client: ServiceClient, videoId: string): Promise<Buffer | null> {
    if (s3 !== null) {
      const video = await findVideoById(app.connection.db, videoId);
      return video?.storageKey == null ? null : s3.objectBytes(BUCKET, video.storageKey);
    }
    const link = await client.api('POST', `/api/v1/videos/${videoId}/out/https`);
    const response = await request(new URL(link.body.presignedUrl, app.url ?? ''), { dispatcher: trusting });
    return Buffer.from(await response.body.arrayBuffer());
  }

  it('ends its last part in a fraction of a round: idle connections take over the rest of it', async () => {
    const dataDir = await fs.mkdtemp(path.join(workDir, 'fast-'));
    const app = await startService(dataDir);
    try {
      const client = serviceClient(app.url ?? '');
      const file = randomBytes(shape.parts * shape.partSizeBytes - 4_321);
      const videoId = await startImport(client, file, `/tail-${store}.mov`);
      const done = await client.waitForUpload(videoId, ['DONE', 'FAILED'], 90_000);
      if (done.upload.uploadState.uploadStatus !== 'DONE') {
        const { execSync } = await import('node:child_process');
        const partial = execSync(`find ${dataDir} -name '*.partial'`).toString().trim();
        const got = await fs.readFile(partial);
        const diffs: number[] = [];
        for (let i = 0; i < file.length; i += 1)
          if (got[i] !== file[i]) {
            diffs.push(i);
          }
        console.log(
          'DIFF',
          diffs.length,
          diffs[0],
          diffs[diffs.length - 1],
          JSON.stringify(
            origin.stats.requests.filter(isRangeGet).map((e) => [e.range, e.bytesSent, e.startedAt, e.endedAt]),
          ),
        );
      }
      expect(done.upload.uploadState.uploadStatus, JSON.stringify(done)).toBe('DONE');
      expect((await storedBytes(app, client, videoId))?.equals(file)).toBe(true);

      const gets = origin.stats.requests.filter(isRangeGet);
      // Every range request is conditional; some start inside a part: ranges taken over.
      expect(gets.every((entry) => entry.ifRange !== null)).toBe(true);
      const takenOver = gets.filter((entry) => rangeStart(entry) % shape.partSizeBytes !== 0);
      expect(takenOver.length).toBeGreaterThan(0);
      // Timed against the copy's own first round (a whole part per connection, at the throttle when
      // the machine keeps up, slower when it is busy): without takeovers the last part alone takes
      // a round again on one connection; shared by idle connections, a fraction of it.
      const startedAt = Math.min(...gets.map((entry) => entry.startedAt));
      const endedAt = Math.max(...gets.map((entry) => entry.endedAt ?? Infinity));
      const firstRoundMs =
        Math.max(...gets.slice(0, shape.connections).map((entry) => entry.endedAt ?? Infinity)) - startedAt;
      const lastPartStart = (shape.parts - 1) * shape.partSizeBytes;
      const tailMs =
        endedAt -
        Math.min(...gets.filter((entry) => rangeStart(entry) >= lastPartStart).map((entry) => entry.startedAt));
      expect(firstRoundMs).toBeGreaterThanOrEqual((shape.partSizeBytes / shape.throttle) * 1000 * 0.95);
      expect(tailMs).toBeLessThan(firstRoundMs * Math.min(0.75, 2 / shape.connections));
    } finally {
      await app.stop();
    }
    // Generous: a service starts in seconds, but in tens of seconds on a machine busy with other work.
  }, 180_000);

  it('stopped while a taken-over range is in flight, continues after a restart and ends with exact bytes', async () => {
    const dataDir = await fs.mkdtemp(path.join(workDir, 'stopped-'));
    const file = randomBytes(shape.parts * shape.partSizeBytes - 777);
    const first = await startService(dataDir);
    let videoId: string;
    try {
      const client = serviceClient(first.url ?? '');
      videoId = await startImport(client, file, `/stopped-${store}.mov`);
      await until(
        'a taken-over range to be in flight',
        () =>
          origin.stats.requests.filter(
            (entry) =>
              isRangeGet(entry) &&
              entry.endedAt === null &&
              rangeStart(entry) % shape.partSizeBytes !== 0 &&
              entry.bytesSent > 0,
          ).length,
        (count) => count > 0,
        { timeoutMs: 60_000 },
      );
    } finally {
      await first.stop();
    }
    const takenOverBeforeStop = origin.stats.requests.filter(
      (entry) => isRangeGet(entry) && rangeStart(entry) % shape.partSizeBytes !== 0,
    ).length;
    expect(takenOverBeforeStop).toBeGreaterThan(0);

    const second = await startService(dataDir);
    try {
      const client = serviceClient(second.url ?? '');
      const done = await client.waitForUpload(videoId, ['DONE', 'FAILED'], 90_000);
      expect(done.upload.uploadState.uploadStatus).toBe('DONE');
      const stored = await storedBytes(second, client, videoId);
      expect(stored?.length).toBe(file.length);
      expect(stored?.equals(file)).toBe(true);
      expect(done.upload.uploadState).toMatchObject({ progressPercentage: 100 });
    } finally {
      await second.stop();
    }
  }, 240_000);
});
