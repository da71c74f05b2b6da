import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChildServices, callApi, childEnvironment, type ApiAnswer } from '../support/child-service.js';
import { startOriginServer, type OriginServer } from '../support/origin-server.js';
import { createPostgresTestDatabase, type PostgresTestDatabase } from '../support/test-database.js';
import { until } from '../support/wait.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';

const API_KEY = 'rln_crash_test_key_abcdefghijklmnopqrstuvwxyz0123';
const PART_SIZE = 256 * 1024;
const FILE_SIZE = 32 * PART_SIZE - 1_000;
const PARTS = Math.ceil(FILE_SIZE / PART_SIZE);

const api = (baseUrl: string, method: string, apiPath: string, body?: unknown): Promise<ApiAnswer> =>
  callApi(baseUrl, API_KEY, method, apiPath, body);

async function waitForStatus(
  baseUrl: string,
  videoId: string,
  reached: (state: any) => boolean,
  timeoutMs: number,
): Promise<any> {
  return until(
    `import ${videoId} to reach the expected state`,
    async () => (await api(baseUrl, 'GET', `/api/v1/videos/${videoId}/in/status`)).body?.upload?.uploadState,
    (state) => Boolean(state) && reached(state),
    { timeoutMs, intervalMs: 100 },
  );
}

async function download(baseUrl: string, videoId: string): Promise<Buffer> {
  const link = await api(baseUrl, 'POST', `/api/v1/videos/${videoId}/out/https`);
  return Buffer.from(await (await request(new URL(link.body.presignedUrl, baseUrl))).body.arrayBuffer());
}

describe('a worker that dies or stops in the middle of a copy', () => {
  let pki: TestPki;
  let origin: OriginServer;
  let workDir: string;
  const children = new ChildServices(() => workDir);
  const file = randomBytes(FILE_SIZE);

  beforeAll(async () => {
    pki = await createTestPki();
    origin = await startOriginServer({ pki });
    origin.setFile('/master.mxf', { body: file });
    origin.setBehaviour('/master.mxf', { throttleBytesPerSecondPerConnection: 700_000 });
    workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-crash-'));
  });
  afterAll(async () => {
    await children.killAll();
    await origin?.close();
    await pki?.cleanup();
    if (!process.env.KEEP_LOGS) await fs.rm(workDir, { recursive: true, force: true });
  });

  function environment(dataDir: string, extra: Record<string, string> = {}): Record<string, string> {
    return childEnvironment(
      { dataDir, apiKey: API_KEY, caCertPath: pki.caCertPath, allowedPorts: [origin.port] },
      {
        REELIN_LOG_LEVEL: 'info',
        REELIN_QUEUE_SUPERVISE_INTERVAL_SECONDS: '1',
        REELIN_COPY_MIN_PART_SIZE_BYTES: String(PART_SIZE),
        REELIN_COPY_PROGRESS_INTERVAL_MS: '200',
        REELIN_COPY_CHECKPOINT_INTERVAL_MS: '200',
        REELIN_SHUTDOWN_TIMEOUT_MS: '3000',
        ...extra,
      },
    );
  }

  const start = (role: 'serve' | 'api' | 'worker' | 'migrate', env: Record<string, string>) =>
    children.start(role, env);

  async function startImport(baseUrl: string): Promise<string> {
    origin.resetStats();
    const created = await api(baseUrl, 'POST', '/api/v1/videos/in/https?maxConcurrentConnections=4', {
      name: 'Master',
      url: origin.url('/master.mxf', '127.0.0.1'),
    });
    expect(created.status).toBe(201);
    return created.body.videoId;
  }

  /** Part requests answered in full before `time`, and part requests started after it. */
  function partsAround(time: number): { finishedBefore: Set<string>; startedAfter: string[] } {
    const parts = origin.stats.requests.filter((entry) => entry.range !== 'bytes=0-0');
    const finishedBefore = new Set(
      parts
        .filter(
          (entry) => entry.endedAt !== null && entry.endedAt < time && entry.status === 206 && entry.bytesSent > 0,
        )
        .map((entry) => entry.range ?? ''),
    );
    const startedAfter = parts.filter((entry) => entry.startedAt > time).map((entry) => entry.range ?? '');
    return { finishedBefore, startedAfter };
  }

  function expectOnlyMissingPartsCopiedAgain(killedAt: number): void {
    const { finishedBefore, startedAfter } = partsAround(killedAt);
    expect(finishedBefore.size).toBeGreaterThan(4);
    expect(new Set(startedAfter).size).toBe(startedAfter.length);
    expect(new Set([...finishedBefore, ...startedAfter]).size).toBe(PARTS);
    // At most the parts of the last checkpoint interval (one per connection) are copied twice.
    expect(startedAfter.length).toBeLessThanOrEqual(PARTS - finishedBefore.size + 4);
    expect(startedAfter.length).toBeLessThan(PARTS);
  }

  it('on the embedded database: a process killed with SIGKILL is replaced and the copy resumes from its recorded parts', async () => {
    const dataDir = path.join(workDir, 'embedded-kill');
    const first = await start('serve', environment(dataDir));
    const videoId = await startImport(first.url ?? '');
    await waitForStatus(first.url ?? '', videoId, (state) => state.progressPercentage >= 35, 30_000);
    const killedAt = Date.now();
    expect(await first.kill('SIGKILL')).toBe('SIGKILL');

    const second = await start('serve', environment(dataDir));
    const done = await waitForStatus(
      second.url ?? '',
      videoId,
      (state) => state.uploadStatus !== 'IN_PROGRESS',
      60_000,
    );
    expect(done.uploadStatus).toBe('DONE');
    expect((await download(second.url ?? '', videoId)).equals(file)).toBe(true);
    expectOnlyMissingPartsCopiedAgain(killedAt);
    await second.kill('SIGTERM');
  }, 120_000);

  it('on the embedded database: SIGTERM stops promptly and the next start continues at once', async () => {
    const dataDir = path.join(workDir, 'embedded-term');
    const first = await start('serve', environment(dataDir));
    const videoId = await startImport(first.url ?? '');
    await waitForStatus(first.url ?? '', videoId, (state) => state.progressPercentage >= 35, 30_000);
    const stoppedAt = Date.now();
    expect(await first.kill('SIGTERM')).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(5_000);
    expect(await fs.readFile(first.logPath, 'utf8')).toContain('queued again');

    const second = await start('serve', environment(dataDir));
    const restartedAt = Date.now();
    const done = await waitForStatus(
      second.url ?? '',
      videoId,
      (state) => state.uploadStatus !== 'IN_PROGRESS',
      30_000,
    );
    expect(done.uploadStatus).toBe('DONE');
    // Requeued, not left for the heartbeat timeout (10 s) to notice.
    expect(Date.now() - restartedAt).toBeLessThan(8_000);
    expect((await download(second.url ?? '', videoId)).equals(file)).toBe(true);
    expectOnlyMissingPartsCopiedAgain(stoppedAt);
    await second.kill('SIGTERM');
  }, 120_000);

  describe.runIf(process.env.TEST_DATABASE_URL)('on PostgreSQL with separate API and worker processes', () => {
    let database: PostgresTestDatabase;
    beforeAll(async () => {
      database = await createPostgresTestDatabase();
    });
    afterAll(async () => {
      await children.killAll();
      await database?.drop();
    });

    it('a worker killed with SIGKILL is replaced by another that finishes with identical bytes', async () => {
      const env = environment(path.join(workDir, 'pg'), { DATABASE_URL: database.url });
      await start('migrate', env);
      const apiProcess = await start('api', env);
      const firstWorker = await start('worker', env);
      const videoId = await startImport(apiProcess.url ?? '');
      await waitForStatus(apiProcess.url ?? '', videoId, (state) => state.progressPercentage >= 35, 30_000);
      const killedAt = Date.now();
      await firstWorker.kill('SIGKILL');

      await start('worker', env);
      const done = await waitForStatus(
        apiProcess.url ?? '',
        videoId,
        (state) => state.uploadStatus !== 'IN_PROGRESS',
        60_000,
      );
      expect(done.uploadStatus).toBe('DONE');
      expect((await download(apiProcess.url ?? '', videoId)).equals(file)).toBe(true);
      expectOnlyMissingPartsCopiedAgain(killedAt);
    }, 120_000);
  });
});
