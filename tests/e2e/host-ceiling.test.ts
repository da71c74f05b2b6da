/**
 * The per-source-host ceiling seen from the origin: three copies that each ask for 20 connections
 * to one host, under a ceiling of 24, never have more than 24 connections open there together,
 * and the copy granted only what was left grows its connections once the others end.
 * On PostgreSQL the copies run on two worker processes (the ceiling is shared through the
 * database); without it, on one embedded `serve` process running the three copies at once.
 */
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

const API_KEY = 'rln_ceiling_test_key_abcdefghijklmnopqrstuvwxyz01';
const PART_SIZE = 128 * 1024;
const FILE_SIZE = 64 * PART_SIZE - 333;
const CEILING = 24;

const api = (baseUrl: string, method: string, apiPath: string, body?: unknown): Promise<ApiAnswer> =>
  callApi(baseUrl, API_KEY, method, apiPath, body);

async function waitUntilEnded(baseUrl: string, videoId: string, timeoutMs: number): Promise<string> {
  return until(
    `import ${videoId} to end`,
    async () =>
      (await api(baseUrl, 'GET', `/api/v1/videos/${videoId}/in/status`)).body?.upload?.uploadState?.uploadStatus,
    (status) => status === 'DONE' || status === 'FAILED',
    { timeoutMs, intervalMs: 100 },
  );
}

describe('the per-source-host connection ceiling', () => {
  let pki: TestPki;
  let origin: OriginServer;
  let workDir: string;
  let database: PostgresTestDatabase | null = null;
  const children = new ChildServices(() => workDir);
  const files = [0, 1, 2].map(() => randomBytes(FILE_SIZE));

  beforeAll(async () => {
    pki = await createTestPki();
    origin = await startOriginServer({ pki });
    files.forEach((body, index) => {
      origin.setFile(`/master-${index}.mov`, { body });
      // Slow enough that all three copies overlap: about 4 s each with 20 connections.
      origin.setBehaviour(`/master-${index}.mov`, { throttleBytesPerSecondPerConnection: 100_000 });
    });
    workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-ceiling-'));
    if (process.env.TEST_DATABASE_URL) database = await createPostgresTestDatabase();
  });
  afterAll(async () => {
    await children.killAll();
    await origin?.close();
    await database?.drop();
    await pki?.cleanup();
    if (!process.env.KEEP_LOGS) await fs.rm(workDir, { recursive: true, force: true });
  });

  const start = (role: 'serve' | 'api' | 'worker' | 'migrate', env: Record<string, string>) =>
    children.start(role, env);

  it(`keeps three copies asking for 20 connections each under ${CEILING} connections at the origin, and each ends with identical bytes`, async () => {
    const env = childEnvironment(
      {
        dataDir: path.join(workDir, 'data'),
        apiKey: API_KEY,
        caCertPath: pki.caCertPath,
        allowedPorts: [origin.port],
        ...(database ? { databaseUrl: database.url } : {}),
      },
      {
        REELIN_COPY_MIN_PART_SIZE_BYTES: String(PART_SIZE),
        REELIN_COPY_JOBS_PER_WORKER: '3',
        REELIN_SOURCE_HOST_MAX_CONNECTIONS: String(CEILING),
        REELIN_SHUTDOWN_TIMEOUT_MS: '3000',
      },
    );
    // The origin's counts restart once every import is created and its probe's connection closed:
    // on PostgreSQL before any worker runs, on the embedded process while the first copies run, so
    // from then on every connection the origin sees is a copy's.
    await start('migrate', env);
    const apiUrl = (await start(database ? 'api' : 'serve', env)).url ?? '';
    const videoIds: string[] = [];
    for (const index of [0, 1, 2]) {
      const created = await api(apiUrl, 'POST', '/api/v1/videos/in/https?maxConcurrentConnections=20', {
        name: `Master ${index}`,
        url: origin.url(`/master-${index}.mov`, '127.0.0.1'),
      });
      expect(created.status).toBe(201);
      videoIds.push(created.body.videoId);
    }
    await until(
      "the probes' connections to close",
      () => origin.stats.requests.filter((entry) => entry.range === 'bytes=0-0'),
      (probes) => probes.length === 3 && probes.every((probe) => probe.connectionClosedAt !== null),
      { timeoutMs: 5_000, intervalMs: 10 },
    );
    const requestsBeforeReset = origin.stats.requests;
    origin.resetStats();
    if (database) await Promise.all([start('worker', env), start('worker', env)]);

    const statuses = await Promise.all(videoIds.map((videoId) => waitUntilEnded(apiUrl, videoId, 90_000)));
    expect(statuses).toEqual(['DONE', 'DONE', 'DONE']);
    expect(origin.stats.maxConcurrentConnections).toBeLessThanOrEqual(CEILING);
    // The ceiling was reached, not just respected by copies too slow to overlap.
    expect(origin.stats.maxConcurrentConnections).toBeGreaterThan(20);
    const parts = [...requestsBeforeReset, ...origin.stats.requests].filter(
      (entry) => entry.range !== 'bytes=0-0' && entry.status === 206,
    );
    expect(parts).toHaveLength(3 * Math.ceil(FILE_SIZE / PART_SIZE));

    for (const [index, videoId] of videoIds.entries()) {
      const link = await api(apiUrl, 'POST', `/api/v1/videos/${videoId}/out/https`);
      expect(link.status).toBe(200);
      const copied = Buffer.from(await (await request(new URL(link.body.presignedUrl, apiUrl))).body.arrayBuffer());
      expect(copied.equals(files[index]!)).toBe(true);
    }
    // The logs name the grants: 20 to the first copy, the 4 left to the next.
    const logs = (await Promise.all(children.started.map((child) => fs.readFile(child.logPath, 'utf8')))).join('\n');
    const grants = [
      ...logs.matchAll(/"connections":(\d+),"wanted":20,"ceiling":24[^\n]*source host connections leased/g),
    ].map((match) => Number(match[1]));
    expect(grants.length).toBeGreaterThanOrEqual(3);
    expect(grants).toContain(20);
    expect(grants).toContain(4);
    expect(Math.max(...grants)).toBe(20);
    // The copy granted 4 took more connections once the others ended, and stayed under the ceiling
    // (the origin's peak above) doing so.
    const growths = [
      ...logs.matchAll(/"connections":(\d+),"before":4,"wanted":20,"ceiling":24[^\n]*source host lease grew/g),
    ].map((match) => Number(match[1]));
    expect(growths.length).toBeGreaterThanOrEqual(1);
    expect(Math.max(...growths)).toBeGreaterThan(4);
    expect(Math.max(...growths)).toBeLessThanOrEqual(20);
  }, 150_000);
});
