/**
 * The scale benchmark (`npm run bench:scale -- --help`): how imports per minute and copy
 * throughput grow with the number of worker processes on one machine, and what storing in S3
 * costs against the local disk.
 *
 * For each store (filesystem, then the local S3 server in a process of its own) and each number of
 * workers N (1, 2, 3), the built service runs as one `reelin api` and N `reelin worker` processes
 * on a fresh PostgreSQL database; a batch of imports of one real video file (metadata-only
 * ingestion, free clips off) is started at once from the local HTTPS origin (its own process).
 * Figures come from the database's timestamps: imports per minute from the first import's creation
 * to the last ingestion's end, copy MB/s as all bytes over the span from the first copy's start to
 * the last copy's end. CPU is read from /proc: the service's processes, the origin, the S3 server,
 * and the whole machine's busy share over the batch. Every stored file's CRC32C must equal the
 * source's, or the run fails.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { createTestPki } from '../tests/support/test-pki.js';
import { describeExit, exited } from './bench/child-process.js';
import { CleanupStack, cleanUpOnSignals } from './bench/cleanup.js';
import { startOriginProcess } from './bench/origin-process.js';
import { clockTicksPerSecond, readCpuSeconds } from './bench/proc-stats.js';
import { ReelinApi } from './bench/reelin-api.js';
import { startTopology, type StoreKind, type Topology } from './bench/scale-topology.js';
import { checksumFile } from './bench/source-file.js';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const benchDir = path.join(repoRoot, '.bench');

const usage = `npm run bench:scale -- [--database-url postgres://...] [--imports 12] [--seconds 8] [--connections 4] [--workers 1,2,3] [--stores fs,s3]

  --database-url  PostgreSQL server to create the runs' databases on (default: TEST_DATABASE_URL,
                  else postgres://postgres@127.0.0.1:5432/postgres)
  --imports       imports per batch (default 12)
  --seconds       length of the 720p source video; about 8 MB per second (default 8: ~64 MB)
  --connections   maxConcurrentConnections of each import (default 4)
  --workers       worker counts to run (default 1,2,3)
  --stores        stores to run (default fs,s3)`;

const { values: options } = parseArgs({
  options: {
    'database-url': { type: 'string' },
    imports: { type: 'string', default: '12' },
    seconds: { type: 'string', default: '8' },
    connections: { type: 'string', default: '4' },
    workers: { type: 'string', default: '1,2,3' },
    stores: { type: 'string', default: 'fs,s3' },
    help: { type: 'boolean', default: false },
  },
});
if (options.help) {
  console.log(usage);
  process.exit(0);
}
const adminDatabaseUrl =
  options['database-url'] ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const importCount = Number(options.imports);
const sourceSeconds = Number(options.seconds);
const connections = Number(options.connections);
const workerCounts = options.workers.split(',').map(Number);
const stores = options.stores.split(',') as StoreKind[];
if (
  ![importCount, sourceSeconds, connections, ...workerCounts].every((value) => Number.isInteger(value) && value > 0) ||
  !stores.every((store) => store === 'fs' || store === 's3')
) {
  console.error(usage);
  process.exit(2);
}

interface RunResult {
  store: StoreKind;
  workers: number;
  importsPerMinute: number;
  copyMegabytesPerSecond: number;
  copySeconds: number;
  batchSeconds: number;
  serviceCpuSeconds: number;
  originCpuSeconds: number;
  s3CpuSeconds: number | null;
  /** Busy share of every core of the machine over the batch, 0..1. */
  machineBusy: number;
  /** The same while the copies ran (first copy's start to last copy's end). */
  copyMachineBusy: number;
  /** Cores the service's processes used while the copies ran. */
  copyServiceCores: number;
}

/** A real video (so metadata ingestion succeeds), at a high bitrate so it is large: cached in .bench/. */
async function ensureSourceVideo(seconds: number): Promise<string> {
  const file = path.join(benchDir, `scale-720p-noise-${seconds}s.mp4`);
  if (
    await fs.stat(file).then(
      () => true,
      () => false,
    )
  )
    return file;
  await fs.mkdir(benchDir, { recursive: true });
  console.log(`generating a ${seconds} s 720p H.264 source at about 64 Mbit/s (once; cached in .bench/)`);
  const temp = `${file}.tmp.mp4`;
  const child = spawn(
    'ffmpeg',
    [
      '-hide_banner',
      '-loglevel',
      'error',
      '-y',
      '-f',
      'lavfi',
      '-i',
      `testsrc2=size=1280x720:rate=25:duration=${seconds}`,
      // Noise makes every frame expensive to compress, so the encoder spends its whole bitrate.
      '-vf',
      'noise=alls=30:allf=t',
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-b:v',
      '64M',
      '-maxrate',
      '64M',
      '-bufsize',
      '64M',
      '-pix_fmt',
      'yuv420p',
      temp,
    ],
    { stdio: 'inherit' },
  );
  const status = await exited(child);
  if (status.code !== 0) throw new Error(`ffmpeg failed (${describeExit(status)}); ffmpeg must be on PATH`);
  await fs.rename(temp, file);
  return file;
}

async function buildService(): Promise<void> {
  console.log('building the service (npm run build)...');
  const status = await exited(spawn('npm', ['run', 'build', '--silent'], { cwd: repoRoot, stdio: 'inherit' }));
  if (status.code !== 0) throw new Error(`npm run build failed (${describeExit(status)})`);
}

/** Busy and total jiffies of all cores, from the first line of /proc/stat. */
async function readMachineTicks(): Promise<{ busy: number; total: number }> {
  const line = (await fs.readFile('/proc/stat', 'utf8')).split('\n')[0] ?? '';
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((sum, value) => sum + value, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: total - idle, total };
}

async function cpuOf(pids: number[], ticks: number): Promise<number> {
  const seconds = await Promise.all(pids.map((pid) => readCpuSeconds(pid, ticks).catch(() => 0)));
  return seconds.reduce((sum, value) => sum + value, 0);
}

interface CpuSample {
  at: number;
  machineBusy: number;
  machineTotal: number;
  serviceCpuSeconds: number;
}

/** Samples the machine's and the service's CPU counters every 100 ms until stopped. */
function sampleCpu(servicePids: number[], ticks: number): { stop(): Promise<CpuSample[]> } {
  const samples: CpuSample[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const [machine, serviceCpuSeconds] = await Promise.all([readMachineTicks(), cpuOf(servicePids, ticks)]);
      samples.push({ at: Date.now(), machineBusy: machine.busy, machineTotal: machine.total, serviceCpuSeconds });
      await sleep(100);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return samples;
    },
  };
}

/** Machine busy share and cores the service used between two moments, from the samples around them. */
function cpuBetween(samples: CpuSample[], from: number, to: number): { machineBusy: number; serviceCores: number } {
  const first = [...samples].reverse().find((sample) => sample.at <= from) ?? samples[0]!;
  const last = samples.find((sample) => sample.at >= to) ?? samples.at(-1)!;
  const seconds = Math.max(0.001, (last.at - first.at) / 1000);
  return {
    machineBusy: (last.machineBusy - first.machineBusy) / Math.max(1, last.machineTotal - first.machineTotal),
    serviceCores: (last.serviceCpuSeconds - first.serviceCpuSeconds) / seconds,
  };
}

interface BatchTimes {
  createdAt: number;
  copyStartedAt: number;
  copyFinishedAt: number;
  ingestedAt: number;
}

/** Waits until every import and its ingestion ended; throws on a failed import or a wrong checksum. */
async function waitForBatch(databaseUrl: string, videoIds: string[], expectedCrc32c: number): Promise<BatchTimes> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const deadline = Date.now() + 30 * 60_000;
    for (;;) {
      const { rows } = await client.query<{ imports_ended: number; imports_failed: number; ingestions_ended: number }>(
        `select count(*) filter (where i.status in ('DONE', 'FAILED'))::int as imports_ended,
                count(*) filter (where i.status = 'FAILED')::int as imports_failed,
                count(*) filter (where g.status in ('DONE', 'FAILED'))::int as ingestions_ended
           from video_imports i left join video_ingestions g on g.video_id = i.video_id where i.video_id = any($1)`,
        [videoIds],
      );
      const state = rows[0]!;
      if (state.imports_failed > 0) throw new Error(`${state.imports_failed} imports FAILED`);
      if (state.imports_ended === videoIds.length && state.ingestions_ended === videoIds.length) break;
      if (Date.now() > deadline)
        throw new Error(
          `the batch did not end within 30 minutes (${state.imports_ended} copies, ${state.ingestions_ended} ingestions ended)`,
        );
      await sleep(200);
    }
    const { rows: wrong } = await client.query<{ count: number }>(
      'select count(*)::int as count from videos where id = any($1) and crc32c is distinct from $2',
      [videoIds, expectedCrc32c],
    );
    if (wrong[0]!.count > 0) throw new Error(`${wrong[0]!.count} stored files have a CRC32C other than the source's`);
    const { rows: failedIngestions } = await client.query<{ count: number }>(
      `select count(*)::int as count from video_ingestions where video_id = any($1) and status <> 'DONE'`,
      [videoIds],
    );
    if (failedIngestions[0]!.count > 0) throw new Error(`${failedIngestions[0]!.count} metadata ingestions FAILED`);
    const { rows: times } = await client.query<{
      created: Date;
      copy_started: Date;
      copy_finished: Date;
      ingested: Date;
    }>(
      `select min(v.created_at) as created, min(i.started_at) as copy_started, max(i.finished_at) as copy_finished, max(g.finished_at) as ingested
         from videos v join video_imports i on i.video_id = v.id join video_ingestions g on g.video_id = v.id where v.id = any($1)`,
      [videoIds],
    );
    const row = times[0]!;
    return {
      createdAt: row.created.getTime(),
      copyStartedAt: row.copy_started.getTime(),
      copyFinishedAt: row.copy_finished.getTime(),
      ingestedAt: row.ingested.getTime(),
    };
  } finally {
    await client.end();
  }
}

async function turnFreeClipsOff(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('update teams set free_clip_enabled = false');
  } finally {
    await client.end();
  }
}

async function runBatch(
  topology: Topology,
  context: {
    store: StoreKind;
    workers: number;
    sourceUrl: string;
    sizeBytes: number;
    crc32c: number;
    originPid: number;
    ticks: number;
  },
): Promise<RunResult> {
  await turnFreeClipsOff(topology.databaseUrl);
  const api = new ReelinApi(topology.apiUrl, topology.apiKey);
  const pids = {
    service: topology.servicePids,
    origin: [context.originPid],
    s3: topology.s3Pid === null ? [] : [topology.s3Pid],
  };
  const before = {
    service: await cpuOf(pids.service, context.ticks),
    origin: await cpuOf(pids.origin, context.ticks),
    s3: await cpuOf(pids.s3, context.ticks),
    machine: await readMachineTicks(),
  };
  const sampler = sampleCpu(pids.service, context.ticks);
  const videoIds = await Promise.all(
    Array.from({ length: importCount }, () => api.startHttpsImport(context.sourceUrl, connections)),
  );
  const times = await waitForBatch(topology.databaseUrl, videoIds, context.crc32c);
  const samples = await sampler.stop();
  const duringCopy = cpuBetween(samples, times.copyStartedAt, times.copyFinishedAt);
  const machine = await readMachineTicks();
  const after = {
    service: await cpuOf(pids.service, context.ticks),
    origin: await cpuOf(pids.origin, context.ticks),
    s3: await cpuOf(pids.s3, context.ticks),
  };
  const batchSeconds = (times.ingestedAt - times.createdAt) / 1000;
  const copySeconds = (times.copyFinishedAt - times.copyStartedAt) / 1000;
  return {
    store: context.store,
    workers: context.workers,
    importsPerMinute: (importCount * 60) / batchSeconds,
    copyMegabytesPerSecond: (importCount * context.sizeBytes) / 1e6 / copySeconds,
    copySeconds,
    batchSeconds,
    serviceCpuSeconds: after.service - before.service,
    originCpuSeconds: after.origin - before.origin,
    s3CpuSeconds: topology.s3Pid === null ? null : after.s3 - before.s3,
    machineBusy: (machine.busy - before.machine.busy) / Math.max(1, machine.total - before.machine.total),
    copyMachineBusy: duringCopy.machineBusy,
    copyServiceCores: duringCopy.serviceCores,
  };
}

function printResults(results: RunResult[], sizeBytes: number): void {
  console.log(
    `\n${importCount} imports of ${(sizeBytes / 1e6).toFixed(1)} MB each, ${connections} connections per import, metadata-only ingestion; ${os.cpus().length} cores\n`,
  );
  console.log(
    '| store | workers | imports/min | copy MB/s | batch s | copy s | service CPU s | origin CPU s | S3 server CPU s | machine busy (batch) | while copying: machine busy, service cores |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const result of results) {
    console.log(
      `| ${result.store} | ${result.workers} | ${result.importsPerMinute.toFixed(1)} | ${result.copyMegabytesPerSecond.toFixed(0)} | ${result.batchSeconds.toFixed(1)} | ${result.copySeconds.toFixed(1)} | ${result.serviceCpuSeconds.toFixed(1)} | ${result.originCpuSeconds.toFixed(1)} | ${result.s3CpuSeconds === null ? '' : result.s3CpuSeconds.toFixed(1)} | ${(result.machineBusy * 100).toFixed(0)}% | ${(result.copyMachineBusy * 100).toFixed(0)}%, ${result.copyServiceCores.toFixed(2)} |`,
    );
  }
  console.log('');
  for (const store of stores) {
    const runs = results.filter((result) => result.store === store);
    const base = runs.find((result) => result.workers === Math.min(...runs.map((run) => run.workers)));
    if (!base) continue;
    const scaling = runs
      .map(
        (run) =>
          `${run.workers}: ${(run.importsPerMinute / base.importsPerMinute).toFixed(2)}x imports/min, ${(run.copyMegabytesPerSecond / base.copyMegabytesPerSecond).toFixed(2)}x copy MB/s (machine ${(run.copyMachineBusy * 100).toFixed(0)}% busy while copying)`,
      )
      .join('; ');
    console.log(`${store}, against ${base.workers} worker(s): ${scaling}`);
  }
  for (const workers of workerCounts) {
    const fsRun = results.find((result) => result.store === 'fs' && result.workers === workers);
    const s3Run = results.find((result) => result.store === 's3' && result.workers === workers);
    if (fsRun && s3Run)
      console.log(
        `${workers} worker(s): S3 copies at ${((s3Run.copyMegabytesPerSecond / fsRun.copyMegabytesPerSecond) * 100).toFixed(0)}% of the filesystem store's throughput`,
      );
  }
  const saturated = results.filter((result) => result.copyMachineBusy >= 0.9).length;
  console.log(
    saturated > 0
      ? `${saturated} of ${results.length} runs kept the machine at least 90% busy while copying: there more workers only share the same cores, so copy throughput stops growing.`
      : 'No run saturated the machine while copying: copy throughput is limited by the origin or the per-import connections, not by CPU.',
  );
}

async function main(): Promise<void> {
  const cleanup = new CleanupStack();
  cleanUpOnSignals(cleanup);
  try {
    await buildService();
    const source = await ensureSourceVideo(sourceSeconds);
    const { size: sizeBytes } = await fs.stat(source);
    const { crc32c } = await checksumFile(source);
    const pki = await createTestPki();
    cleanup.add('remove the test PKI', () => pki.cleanup());
    const origin = await startOriginProcess(
      { pkiDir: pki.dir, filePath: source, sizeBytes, throttleBytesPerSecond: null },
      repoRoot,
    );
    cleanup.add('stop the origin', () => origin.stop());
    const ticks = clockTicksPerSecond();
    const results: RunResult[] = [];
    for (const store of stores) {
      for (const workers of workerCounts) {
        console.log(`running: ${store} store, ${workers} worker(s)...`);
        const topology = await startTopology({
          repoRoot,
          adminDatabaseUrl,
          workers,
          store,
          originPort: origin.port,
          caCertPath: pki.caCertPath,
          cleanup,
          // Every worker takes the whole batch's copies it can; the per-host ceiling is lifted so it
          // does not cap the aggregate being measured.
          extraEnv: {
            REELIN_SOURCE_HOST_MAX_CONNECTIONS: '0',
            REELIN_COPY_JOBS_PER_WORKER: String(Math.min(64, importCount)),
          },
        });
        try {
          const result = await runBatch(topology, {
            store,
            workers,
            sourceUrl: origin.url,
            sizeBytes,
            crc32c,
            originPid: origin.pid,
            ticks,
          });
          results.push(result);
          console.log(
            `  ${result.importsPerMinute.toFixed(1)} imports/min, ${result.copyMegabytesPerSecond.toFixed(0)} MB/s, machine ${(result.machineBusy * 100).toFixed(0)}% busy`,
          );
        } finally {
          await topology.stop();
        }
      }
    }
    printResults(results, sizeBytes);
  } finally {
    await cleanup.runAll();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
