/**
 * The API benchmark (`npm run bench:api -- --help`): requests per second and latency of the request
 * path, measured with autocannon (its programmatic API) at 20 connections for 10 s per case.
 *
 * Cases: the status read of one finished import (`GET /api/v1/videos/{id}/in/status`), a page of
 * 100 videos (`GET /api/v1/videos?projectId=...&pageSize=100`), and an import's POST
 * (`POST /api/v1/videos/in/https`) of a file on a local HTTPS origin (its own process). Each runs on
 * the embedded PGlite and on PostgreSQL, with the rate limit off and counting (a limit of 1,000,000
 * a minute, so every request is counted and none is refused).
 *
 * The service is the built `node dist/main.js api`, a process of its own started as `npm start`
 * starts the service (same V8 flags), so its event loop serves requests only: the load generator
 * runs in this process and the origin in a third, and none of their work is counted as the
 * service's. The `api` role runs no worker, so an import's POST measures the request path (the
 * URL check, the probe of the origin, the rows and the queued copy job) and no copy runs behind
 * it. The databases are seeded before the service starts: 100 videos whose imports are DONE, in
 * a project of their own, so the imports the POST case creates do not change the listed page.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon, { type Request as LoadRequest, type Result as LoadResult } from 'autocannon';
import { loadConfig } from '../src/config/config.js';
import { openDatabase } from '../src/db/database.js';
import { insertImport, markImportDone } from '../src/db/queries/imports.queries.js';
import { insertProject } from '../src/db/queries/projects.queries.js';
import { findActiveApiKeyOwner, findDefaultTeam } from '../src/db/queries/tenancy.queries.js';
import { insertVideo } from '../src/db/queries/videos.queries.js';
import { hashApiKey } from '../src/services/tenancy.service.js';
import { freePort } from '../tests/support/child-service.js';
import { createTestPki } from '../tests/support/test-pki.js';
import { describeExit, exited, stopChild } from './bench/child-process.js';
import { CleanupStack, cleanUpOnSignals } from './bench/cleanup.js';
import { fixed } from './bench/format.js';
import { startOriginProcess } from './bench/origin-process.js';
import { clockTicksPerSecond, readCpuSeconds } from './bench/proc-stats.js';
import { createBenchDatabase, isApiReady, serviceEnvironment } from './bench/service-process.js';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

const usage = `npm run bench:api -- [--database-url postgres://...] [--seconds 10] [--connections 20] [--backends pglite,postgres] [--cases status,list,import] [--cpu-prof-dir DIR]

  --database-url  PostgreSQL server to create the runs' databases on (default: TEST_DATABASE_URL,
                  else postgres://postgres@127.0.0.1:5432/test)
  --seconds       length of each measurement (default 10)
  --connections   concurrent connections of the load generator (default 20)
  --backends      databases to run on (default pglite,postgres)
  --cases         requests to measure (default status,list,import)
  --cpu-prof-dir  run the service under node --cpu-prof and write its profiles here
  --log-level     the service's REELIN_LOG_LEVEL (default info, the service's default: a line per
                  request, written to a file)`;

const { values: options } = parseArgs({
  options: {
    'database-url': { type: 'string' },
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '20' },
    backends: { type: 'string', default: 'pglite,postgres' },
    cases: { type: 'string', default: 'status,list,import' },
    'cpu-prof-dir': { type: 'string' },
    'log-level': { type: 'string', default: 'info' },
    help: { type: 'boolean', default: false },
  },
});
if (options.help) {
  console.log(usage);
  process.exit(0);
}

type Backend = 'pglite' | 'postgres';
type CaseName = 'status' | 'list' | 'import';

const adminDatabaseUrl =
  options['database-url'] ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const seconds = Number(options.seconds);
const connections = Number(options.connections);
const backends = options.backends.split(',') as Backend[];
const cases = options.cases.split(',') as CaseName[];
const cpuProfDir = options['cpu-prof-dir'] === undefined ? null : path.resolve(options['cpu-prof-dir']);
const logLevel = options['log-level'];
if (
  ![seconds, connections].every((value) => Number.isInteger(value) && value > 0) ||
  !backends.every((backend) => backend === 'pglite' || backend === 'postgres') ||
  !cases.every((name) => name === 'status' || name === 'list' || name === 'import') ||
  !['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)
) {
  console.error(usage);
  process.exit(2);
}

/** Videos on the listed page: the contract's largest page size. */
const LISTED_VIDEOS = 100;
/** The imported file: small, the POST only probes it. */
const ORIGIN_FILE_BYTES = 1024 * 1024;
/** The highest limit the configuration accepts: every request is counted, none refused. */
const COUNTING_LIMIT_PER_MINUTE = 1_000_000;
const WARMUP_SECONDS = 2;
const READY_TIMEOUT_MS = 60_000;
const ticksPerSecond = clockTicksPerSecond();

interface Seeded {
  statusVideoId: string;
  listProjectId: string;
}

interface CaseResult {
  backend: Backend;
  rateLimit: boolean;
  name: CaseName;
  requestsPerSecond: number;
  p50: number;
  p99: number;
  /**
   * The service's CPU time (every thread, user and system) per answered request: what a request
   * costs whatever else the machine runs, so figures from a busy machine stay comparable.
   */
  cpuMsPerRequest: number;
  /** Answers other than the expected 2xx, and socket errors: a valid run has none. */
  failures: number;
}

async function buildService(): Promise<void> {
  console.log('building the service (npm run build)...');
  const status = await exited(spawn('npm', ['run', 'build', '--silent'], { cwd: repoRoot, stdio: 'inherit' }));
  if (status.code !== 0) throw new Error(`npm run build failed (${describeExit(status)})`);
}

/** The bench service's clean environment, with this run's log level, database and rate limit. */
function apiServiceEnvironment(values: {
  port: number;
  dataDir: string;
  apiKey: string;
  originPort: number;
  caCertPath: string;
  databaseUrl: string | null;
  rateLimitPerMinute: number;
}): Record<string, string> {
  const { databaseUrl, rateLimitPerMinute, ...service } = values;
  return {
    ...serviceEnvironment({ ...service, logLevel }),
    REELIN_RATE_LIMIT_PER_MINUTE: String(rateLimitPerMinute),
    ...(databaseUrl === null ? {} : { DATABASE_URL: databaseUrl }),
  };
}

function startRole(role: 'api' | 'migrate', env: Record<string, string>, logPath: string): ChildProcess {
  const logFd = openSync(logPath, 'a');
  const profile = role === 'api' && cpuProfDir !== null ? ['--cpu-prof', '--cpu-prof-dir', cpuProfDir] : [];
  const child = spawn(
    process.execPath,
    [...profile, '--max-semi-space-size=8', '--no-liftoff', path.join(repoRoot, 'dist/main.js'), role],
    { cwd: repoRoot, env, stdio: ['ignore', logFd, logFd] },
  );
  closeSync(logFd);
  return child;
}

/** 100 videos with DONE imports in a project of their own, in the admin's default team. */
async function seed(env: Record<string, string>, apiKey: string): Promise<Seeded> {
  const connection = await openDatabase(loadConfig(env).database);
  try {
    const { db } = connection;
    const owner = await findActiveApiKeyOwner(db, hashApiKey(apiKey));
    const team = owner === null ? null : await findDefaultTeam(db, owner.userId);
    if (owner === null || team === null) throw new Error('the migrated database has no admin key or default team');
    const project = await insertProject(db, team.id, 'bench list');
    const videoIds: string[] = [];
    for (let index = 0; index < LISTED_VIDEOS; index += 1) {
      const videoId = await db.transaction(async (tx) => {
        const video = await insertVideo(tx, {
          teamId: team.id,
          userId: owner.userId,
          projectId: project.id,
          name: `bench ${index}`,
          fileName: `bench-${index}.mp4`,
          mimeType: 'video/mp4',
          fileSizeBytes: ORIGIN_FILE_BYTES,
        });
        await insertImport(tx, {
          videoId: video.id,
          sourceUrl: `https://origin.example/bench-${index}.mp4`,
          fetchUrl: `https://origin.example/bench-${index}.mp4`,
          pinnedAddresses: ['203.0.113.7'],
          totalBytes: ORIGIN_FILE_BYTES,
          partSizeBytes: ORIGIN_FILE_BYTES,
          maxConnections: 4,
          fullIngestion: false,
          status: 'IN_PROGRESS',
          startedAt: new Date(),
        });
        const done = await markImportDone(tx, video.id, {
          crc32c: 123_456_789,
          storageKey: `videos/${video.id}/bench-${index}.mp4`,
          totalBytes: ORIGIN_FILE_BYTES,
          now: new Date(),
        });
        if (!done) throw new Error('a seeded import did not become DONE');
        return video.id;
      });
      videoIds.push(videoId);
    }
    return { statusVideoId: videoIds[0] as string, listProjectId: project.id };
  } finally {
    await connection.close();
  }
}

async function waitUntilReady(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(
        `the service exited during start-up (${describeExit({ code: child.exitCode, signal: child.signalCode })})`,
      );
    if (await isApiReady(url)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the service was not ready within ${READY_TIMEOUT_MS / 1000} s`);
}

function requestOf(name: CaseName, seeded: Seeded, apiKey: string, originUrl: string): LoadRequest {
  const headers = { 'x-api-key': apiKey };
  if (name === 'status') return { method: 'GET', path: `/api/v1/videos/${seeded.statusVideoId}/in/status`, headers };
  if (name === 'list')
    return { method: 'GET', path: `/api/v1/videos?projectId=${seeded.listProjectId}&pageSize=100`, headers };
  return {
    method: 'POST',
    path: '/api/v1/videos/in/https',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench import', url: originUrl }),
  };
}

async function measure(url: string, request: LoadRequest, duration: number): Promise<LoadResult> {
  return autocannon({ url, connections, duration, requests: [request] });
}

async function runBackend(
  backend: Backend,
  shared: { caCertPath: string; originPort: number; originUrl: string; cleanup: CleanupStack },
): Promise<CaseResult[]> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-bench-api-'));
  const logPath = path.join(dataDir, 'service.log');
  const apiKey = `bench-${randomBytes(24).toString('hex')}`;
  const database = backend === 'postgres' ? await createBenchDatabase(adminDatabaseUrl) : null;
  const removeAll = shared.cleanup.add(`remove ${dataDir} and the bench database`, async () => {
    await database?.drop();
    await fs.rm(dataDir, { recursive: true, force: true });
  });
  const results: CaseResult[] = [];
  try {
    const base = {
      dataDir: path.join(dataDir, 'service'),
      apiKey,
      originPort: shared.originPort,
      caCertPath: shared.caCertPath,
      databaseUrl: database?.url ?? null,
    };
    const migrateEnv = apiServiceEnvironment({ ...base, port: 0, rateLimitPerMinute: 0 });
    const migrated = await exited(startRole('migrate', migrateEnv, logPath));
    if (migrated.code !== 0)
      throw new Error(`reelin migrate failed (${describeExit(migrated)}): ${await readTail(logPath)}`);
    const seeded = await seed(migrateEnv, apiKey);
    for (const rateLimit of [false, true]) {
      const port = await freePort();
      const env = apiServiceEnvironment({
        ...base,
        port,
        rateLimitPerMinute: rateLimit ? COUNTING_LIMIT_PER_MINUTE : 0,
      });
      const child = startRole('api', env, logPath);
      const stopService = shared.cleanup.add(`stop the service (pid ${child.pid})`, async () => {
        await stopChild(child);
      });
      try {
        const url = `http://127.0.0.1:${port}`;
        await waitUntilReady(url, child);
        for (const name of cases) {
          const request = requestOf(name, seeded, apiKey, shared.originUrl);
          await measure(url, request, WARMUP_SECONDS);
          const pid = child.pid ?? 0;
          const cpuBefore = await readCpuSeconds(pid, ticksPerSecond);
          const result = await measure(url, request, seconds);
          const cpuSeconds = (await readCpuSeconds(pid, ticksPerSecond)) - cpuBefore;
          const row: CaseResult = {
            backend,
            rateLimit,
            name,
            requestsPerSecond: result.requests.average,
            p50: result.latency.p50,
            p99: result.latency.p99,
            cpuMsPerRequest: (cpuSeconds * 1000) / Math.max(1, result.requests.total),
            failures: result.non2xx + result.errors + result.timeouts,
          };
          results.push(row);
          console.log(formatRow(row));
        }
      } finally {
        await stopService();
      }
    }
    return results;
  } catch (error) {
    throw new Error(
      `${error instanceof Error ? error.message : String(error)}\n--- service log ---\n${await readTail(logPath)}`,
      {
        cause: error,
      },
    );
  } finally {
    await removeAll();
  }
}

async function readTail(logPath: string): Promise<string> {
  return (await fs.readFile(logPath, 'utf8').catch(() => '')).slice(-3000);
}

const caseLabels: Record<CaseName, string> = {
  status: 'status read',
  list: 'page of 100',
  import: 'import POST',
};

function formatRow(row: CaseResult): string {
  return [
    row.backend.padEnd(9),
    (row.rateLimit ? 'counting' : 'off').padEnd(9),
    caseLabels[row.name].padEnd(12),
    `${fixed(row.requestsPerSecond, 0).padStart(6)} req/s`,
    `p50 ${fixed(row.p50, 1).padStart(6)} ms`,
    `p99 ${fixed(row.p99, 1).padStart(6)} ms`,
    `CPU ${fixed(row.cpuMsPerRequest, 2).padStart(5)} ms/request`,
    row.failures === 0 ? '' : `${row.failures} FAILED`,
  ]
    .join('  ')
    .trimEnd();
}

function printReport(results: CaseResult[]): void {
  console.log(
    `\nAPI benchmark: ${connections} connections, ${seconds} s per case, service alone in its process, log level ${logLevel}`,
  );
  console.log(`${'database'.padEnd(9)}  ${'limit'.padEnd(9)}  ${'request'.padEnd(12)}`);
  for (const row of results) console.log(formatRow(row));
  console.log('\nrate limit cost (requests/s lost when counting):');
  for (const backend of backends) {
    for (const name of cases) {
      const off = results.find((row) => row.backend === backend && row.name === name && !row.rateLimit);
      const on = results.find((row) => row.backend === backend && row.name === name && row.rateLimit);
      if (off === undefined || on === undefined) continue;
      const cost = (1 - on.requestsPerSecond / off.requestsPerSecond) * 100;
      console.log(`${backend.padEnd(9)}  ${caseLabels[name].padEnd(12)}  ${fixed(cost, 1).padStart(5)} %`);
    }
  }
  const failed = results.filter((row) => row.failures > 0);
  if (failed.length > 0) {
    console.log(`\n${failed.length} case(s) had answers other than 2xx or socket errors: their figures are not valid`);
    process.exitCode = 1;
  }
}

async function main(): Promise<number> {
  const cleanup = new CleanupStack();
  cleanUpOnSignals(cleanup);
  try {
    await buildService();
    if (cpuProfDir !== null) await fs.mkdir(cpuProfDir, { recursive: true });
    const pki = await createTestPki();
    cleanup.add('remove the test PKI', () => pki.cleanup());
    const sourceDir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-bench-api-origin-'));
    cleanup.add(`remove ${sourceDir}`, () => fs.rm(sourceDir, { recursive: true, force: true }));
    const sourcePath = path.join(sourceDir, 'source.bin');
    await fs.writeFile(sourcePath, randomBytes(ORIGIN_FILE_BYTES));
    const origin = await startOriginProcess(
      { pkiDir: pki.dir, filePath: sourcePath, sizeBytes: ORIGIN_FILE_BYTES, throttleBytesPerSecond: null },
      repoRoot,
    );
    cleanup.add(`stop the origin (pid ${origin.pid})`, () => origin.stop());
    const shared = { caCertPath: pki.caCertPath, originPort: origin.port, originUrl: origin.url, cleanup };
    const results: CaseResult[] = [];
    for (const backend of backends) results.push(...(await runBackend(backend, shared)));
    printReport(results);
    return process.exitCode === 1 ? 1 : 0;
  } catch (error) {
    if (cleanup.interrupted) return 130;
    throw error;
  } finally {
    await cleanup.runAll();
  }
}

process.exitCode = await main();
