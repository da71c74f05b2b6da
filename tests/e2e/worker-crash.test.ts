import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
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

  /**
   * Waits until the origin has seen every connection of the stopped process close, and returns how
   * many requests it had received by then: those before are the stopped process's, those after the
   * next one's (started after this). Splitting by arrival rather than by a clock reading keeps parts
   * that ended while the signal was on its way on the side of the process that copied them.
   */
  async function requestsOfStoppedProcess(): Promise<number> {
    await until(
      'the origin to see every connection of the stopped process close',
      () => ({
        open: origin.stats.currentConnections,
        unfinished: origin.stats.requests.filter((entry) => entry.endedAt === null).length,
      }),
      ({ open, unfinished }) => open === 0 && unfinished === 0,
    );
    return origin.stats.requests.length;
  }

  /** The ranges of the parts the database records as copied (their bytes durable in storage). */
  async function recordedRanges(database: { dataDir: string } | { url: string }, videoId: string): Promise<string[]> {
    const sql = 'select offset_bytes, length_bytes from import_parts where video_id = $1 order by part_index';
    let rows: Array<{ offset_bytes: string | number; length_bytes: string | number }>;
    if ('url' in database) {
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      try {
        rows = (await client.query(sql, [videoId])).rows;
      } finally {
        await client.end();
      }
    } else {
      // The stopped process no longer holds the embedded database, and the next one is not started yet.
      const pglite = await PGlite.create(path.join(database.dataDir, 'db'), {
        postgresqlconf: 'shared_buffers = 16MB',
      });
      try {
        rows = (await pglite.query<(typeof rows)[number]>(sql, [videoId])).rows;
      } finally {
        await pglite.close();
      }
    }
    return rows.map(
      (row) => `bytes=${Number(row.offset_bytes)}-${Number(row.offset_bytes) + Number(row.length_bytes) - 1}`,
    );
  }

  const rangeLength = (range: string): number => {
    const [first, last] = range.replace('bytes=', '').split('-').map(Number);
    return (last ?? 0) - (first ?? 0) + 1;
  };

  /**
   * The next process copied exactly the parts the database did not record when the first one
   * stopped (each once), every recorded part had been sent in full to the first process, and the
   * two together copied every part.
   */
  function expectOnlyMissingPartsCopiedAgain(boundary: number, recorded: string[]): void {
    const parts = origin.stats.requests.filter((entry) => entry.range !== 'bytes=0-0');
    const sentInFull = new Set(
      parts
        .filter(
          (entry) =>
            entry.index < boundary && entry.status === 206 && entry.bytesSent === rangeLength(entry.range ?? ''),
        )
        .map((entry) => entry.range ?? ''),
    );
    const startedAfter = parts.filter((entry) => entry.index >= boundary).map((entry) => entry.range ?? '');
    expect(recorded.length).toBeGreaterThan(4);
    expect(recorded.filter((range) => !sentInFull.has(range))).toEqual([]);
    expect(new Set(startedAfter).size).toBe(startedAfter.length);
    expect(startedAfter.filter((range) => recorded.includes(range))).toEqual([]);
    expect(new Set([...recorded, ...startedAfter]).size).toBe(PARTS);
    expect(startedAfter.length).toBe(PARTS - recorded.length);
  }

  it('on the embedded database: a process killed with SIGKILL is replaced and the copy resumes from its recorded parts', async () => {
    const dataDir = path.join(workDir, 'embedded-kill');
    const first = await start('serve', environment(dataDir));
    const videoId = await startImport(first.url ?? '');
    await waitForStatus(first.url ?? '', videoId, (state) => state.progressPercentage >= 35, 30_000);
    expect(await first.kill('SIGKILL')).toBe('SIGKILL');
    const boundary = await requestsOfStoppedProcess();
    const recorded = await recordedRanges({ dataDir }, videoId);

    const second = await start('serve', environment(dataDir));
    const done = await waitForStatus(
      second.url ?? '',
      videoId,
      (state) => state.uploadStatus !== 'IN_PROGRESS',
      60_000,
    );
    expect(done.uploadStatus).toBe('DONE');
    expect((await download(second.url ?? '', videoId)).equals(file)).toBe(true);
    expectOnlyMissingPartsCopiedAgain(boundary, recorded);
    await second.kill('SIGTERM');
  }, 120_000);

  it('on the embedded database: SIGTERM stops promptly and the next start continues at once', async () => {
    const dataDir = path.join(workDir, 'embedded-term');
    const first = await start('serve', environment(dataDir));
    const videoId = await startImport(first.url ?? '');
    await waitForStatus(first.url ?? '', videoId, (state) => state.progressPercentage >= 35, 30_000);
    const stoppedAt = Date.now();
    expect(await first.kill('SIGTERM')).toBe(0);
    // The behaviour under test: a stop ends within its grace period (REELIN_SHUTDOWN_TIMEOUT_MS, 3 s
    // here) with exit code 0. The bound gives a busy machine 4 s on top of it to exit; a stop that
    // outlived its grace period by more than that (a hang) fails it.
    expect(Date.now() - stoppedAt).toBeLessThan(3_000 + 4_000);
    expect(await fs.readFile(first.logPath, 'utf8')).toContain('queued again');
    const boundary = await requestsOfStoppedProcess();
    const recorded = await recordedRanges({ dataDir }, videoId);

    const second = await start('serve', environment(dataDir));
    const restartedAt = Date.now();
    const done = await waitForStatus(
      second.url ?? '',
      videoId,
      (state) => state.uploadStatus !== 'IN_PROGRESS',
      30_000,
    );
    expect(done.uploadStatus).toBe('DONE');
    // Queued again at the stop, so the new process takes the job as soon as it is ready; a job left
    // for the heartbeat timeout would wait until 10 s after the last heartbeat. The first part request
    // after the restart is what marks the pickup (the rest is copy speed, which a busy machine varies).
    const pickedUpAt = origin.stats.requests[boundary]?.startedAt ?? Number.POSITIVE_INFINITY;
    expect(pickedUpAt - restartedAt).toBeLessThan(8_000);
    expect((await download(second.url ?? '', videoId)).equals(file)).toBe(true);
    expectOnlyMissingPartsCopiedAgain(boundary, recorded);
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
      await firstWorker.kill('SIGKILL');
      const boundary = await requestsOfStoppedProcess();
      const recorded = await recordedRanges({ url: database.url }, videoId);

      await start('worker', env);
      const done = await waitForStatus(
        apiProcess.url ?? '',
        videoId,
        (state) => state.uploadStatus !== 'IN_PROGRESS',
        60_000,
      );
      expect(done.uploadStatus).toBe('DONE');
      expect((await download(apiProcess.url ?? '', videoId)).equals(file)).toBe(true);
      expectOnlyMissingPartsCopiedAgain(boundary, recorded);
    }, 120_000);
  });
});
