/**
 * The live event stream benchmark (`npm run bench:web-stream -- --help`): 200 clients hold
 * `GET /api/v1/events/stream` open while 10 copies run from a throttled local HTTPS origin, and
 * the benchmark measures, for every `video` event of a running copy each client receives, the delay
 * from the progress save (the import row's `updatedAt`, as the event carries it) to its receipt;
 * and the CPU the API process spends meanwhile (from /proc, every thread, user and system).
 *
 * Targets: p99 delay under 1.5 s, and the API process under 50% of one core. A missed target is
 * printed as MISSED; this is a measurement, not a test.
 *
 * The service is the built `dist/main.js`: on PostgreSQL (the default) separate `api` and `worker`
 * processes, so the API process's CPU is the streams' and the requests' only; with
 * `--database-url pglite` one `serve` process that copies too (its CPU then includes the copies).
 * The clients and the origin run in other processes (this one and the origin's).
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { createParser } from 'eventsource-parser';
import { Agent, request } from 'undici';
import { createTestPki } from '../tests/support/test-pki.js';
import { describeExit, exited } from './bench/child-process.js';
import { CleanupStack, cleanUpOnSignals } from './bench/cleanup.js';
import { fixed } from './bench/format.js';
import { startOriginProcess } from './bench/origin-process.js';
import { clockTicksPerSecond, readCpuSeconds } from './bench/proc-stats.js';
import { startService, type ServiceProcess } from './bench/service-process.js';
import { ensureSourceFile } from './bench/source-file.js';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

const usage = `npm run bench:web-stream -- [--clients 200] [--copies 10] [--seconds 20] [--database-url postgres://...|pglite]

  --clients       event stream clients held open (default 200)
  --copies        copies running at once (default 10)
  --seconds       length of the measurement, after a 3 s warm-up (default 20)
  --database-url  PostgreSQL server to create the run's database on (default: TEST_DATABASE_URL, else
                  postgres://postgres@127.0.0.1:5432/test); pglite for the embedded database`;

const { values: options } = parseArgs({
  options: {
    clients: { type: 'string', default: '200' },
    copies: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '20' },
    'database-url': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (options.help) {
  console.log(usage);
  process.exit(0);
}
const clientCount = Number(options.clients);
const copyCount = Number(options.copies);
const seconds = Number(options.seconds);
const databaseOption =
  options['database-url'] ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const databaseUrl = databaseOption === 'pglite' ? null : databaseOption;
if (![clientCount, copyCount, seconds].every((value) => Number.isInteger(value) && value > 0)) {
  console.error(usage);
  process.exit(2);
}

const WARMUP_SECONDS = 3;
/** Per TLS connection, one per copy: slow enough that every copy outlasts the measurement. */
const THROTTLE_BYTES_PER_SECOND = 2 * 1024 * 1024;
const SOURCE_BYTES = (WARMUP_SECONDS + seconds + 30) * THROTTLE_BYTES_PER_SECOND;
const TARGET_P99_MS = 1_500;
const TARGET_CPU_PERCENT = 50;

/** Delays of the events received while measuring, in ms, and what else was seen. */
class Receipts {
  readonly delaysMs: number[] = [];
  events = 0;
  isMeasuring = false;

  record(data: string): void {
    this.events += 1;
    if (!this.isMeasuring) return;
    const video = JSON.parse(data) as { upload?: { uploadState?: { uploadStatus: string; updatedAt: string } } };
    const state = video.upload?.uploadState;
    if (state?.uploadStatus !== 'IN_PROGRESS') return;
    this.delaysMs.push(Date.now() - Date.parse(state.updatedAt));
  }
}

/** Opens one stream and feeds its `video` events to `receipts` until `signal` aborts. */
async function openClient(
  service: ServiceProcess,
  dispatcher: Agent,
  receipts: Receipts,
  signal: AbortSignal,
): Promise<void> {
  const response = await request(`${service.url}/api/v1/events/stream`, {
    headers: { 'x-api-key': service.apiKey, accept: 'text/event-stream' },
    dispatcher,
    signal,
  });
  if (response.statusCode !== 200)
    throw new Error(`the stream answered ${response.statusCode}: ${await response.body.text()}`);
  const parser = createParser({
    onEvent: (event) => {
      if (event.event === 'video') receipts.record(event.data);
    },
  });
  void (async () => {
    try {
      for await (const chunk of response.body) parser.feed((chunk as Buffer).toString('utf8'));
    } catch {
      // Aborted at the end of the run.
    }
  })();
}

async function startCopies(service: ServiceProcess, url: string): Promise<void> {
  for (let index = 0; index < copyCount; index += 1) {
    const response = await request(`${service.url}/api/v1/videos/in/https?maxConcurrentConnections=1`, {
      method: 'POST',
      headers: { 'x-api-key': service.apiKey, 'content-type': 'application/json' },
      body: JSON.stringify({ name: `stream bench ${index}`, url, fileName: `bench-${index}.bin` }),
    });
    const text = await response.body.text();
    if (response.statusCode !== 201) throw new Error(`an import answered ${response.statusCode}: ${text}`);
  }
}

function percentile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)] ?? Number.NaN;
}

async function buildService(): Promise<void> {
  console.log('building the service (npm run build)...');
  const status = await exited(spawn('npm', ['run', 'build', '--silent'], { cwd: repoRoot, stdio: 'inherit' }));
  if (status.code !== 0) throw new Error(`npm run build failed (${describeExit(status)})`);
}

async function measure(service: ServiceProcess, originUrl: string): Promise<void> {
  const receipts = new Receipts();
  const controller = new AbortController();
  const dispatcher = new Agent({ connections: clientCount + 10, pipelining: 0 });
  try {
    for (let index = 0; index < clientCount; index += 1)
      await openClient(service, dispatcher, receipts, controller.signal);
    console.log(`${clientCount} streams open; starting ${copyCount} copies`);
    await startCopies(service, originUrl);
    await sleep(WARMUP_SECONDS * 1000);
    const ticks = clockTicksPerSecond();
    const cpuBefore = await readCpuSeconds(service.apiPid, ticks);
    const startedAt = performance.now();
    receipts.isMeasuring = true;
    await sleep(seconds * 1000);
    receipts.isMeasuring = false;
    const wallSeconds = (performance.now() - startedAt) / 1000;
    const cpuPercent = ((await readCpuSeconds(service.apiPid, ticks)) - cpuBefore) / wallSeconds / 0.01;
    report(receipts, cpuPercent, wallSeconds);
  } finally {
    controller.abort();
    await dispatcher.destroy();
  }
}

function report(receipts: Receipts, cpuPercent: number, wallSeconds: number): void {
  const sorted = [...receipts.delaysMs].sort((a, b) => a - b);
  const p50 = percentile(sorted, 0.5);
  const p99 = percentile(sorted, 0.99);
  const verdict = (isMet: boolean) => (isMet ? 'met' : 'MISSED');
  console.log(`\nlive event stream: ${clientCount} clients, ${copyCount} copies, ${fixed(wallSeconds, 1)} s measured`);
  console.log(
    `  database:                ${databaseUrl === null ? 'PGlite (one serve process)' : 'PostgreSQL (api + worker)'}`,
  );
  console.log(
    `  progress events received: ${sorted.length} (${fixed(sorted.length / wallSeconds, 0)}/s over all clients)`,
  );
  console.log(
    `  save -> receipt delay:   p50 ${fixed(p50, 0)} ms, p99 ${fixed(p99, 0)} ms, max ${fixed(sorted.at(-1) ?? Number.NaN, 0)} ms  (target p99 < ${TARGET_P99_MS} ms: ${verdict(p99 < TARGET_P99_MS)})`,
  );
  console.log(
    `  API process CPU:         ${fixed(cpuPercent, 1)}% of one core  (target < ${TARGET_CPU_PERCENT}%: ${verdict(cpuPercent < TARGET_CPU_PERCENT)})`,
  );
  if (sorted.length === 0) console.log('  MISSED: no progress event was received while measuring');
}

async function main(): Promise<number> {
  const cleanup = new CleanupStack();
  cleanUpOnSignals(cleanup);
  try {
    await buildService();
    const pki = await createTestPki();
    cleanup.add('remove the test PKI', () => pki.cleanup());
    const source = await ensureSourceFile(path.join(os.tmpdir(), 'reelin-bench-source'), SOURCE_BYTES);
    const origin = await startOriginProcess(
      {
        pkiDir: pki.dir,
        filePath: source.path,
        sizeBytes: SOURCE_BYTES,
        throttleBytesPerSecond: THROTTLE_BYTES_PER_SECOND,
      },
      repoRoot,
    );
    cleanup.add(`stop the origin (pid ${origin.pid})`, () => origin.stop());
    const service = await startService({
      repoRoot,
      originPort: origin.port,
      caCertPath: pki.caCertPath,
      cpuProfDir: null,
      databaseUrl,
      cleanup,
      extraEnv: {
        REELIN_COPY_JOBS_PER_WORKER: String(copyCount),
        REELIN_EVENT_STREAMS_PER_KEY: String(clientCount + 10),
        REELIN_RATE_LIMIT_PER_MINUTE: '0',
      },
    });
    await measure(service, origin.url);
    return 0;
  } catch (error) {
    if (cleanup.interrupted) return 130;
    throw error;
  } finally {
    await cleanup.runAll();
  }
}

process.exitCode = await main();
