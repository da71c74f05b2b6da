/**
 * The copy benchmark (`npm run bench:copy -- --help`). It measures the service as deployed: the
 * built `reelin serve` in its own process copies a random file from a local HTTPS origin (another
 * process) through the public API, once per connection count, unthrottled and with every origin
 * connection throttled to 5 MB/s; aria2c copies the same file over the same origin as the
 * reference. Every copy is checked byte for byte; a wrong copy fails the benchmark (exit 1), a
 * missed target does not (it is a measurement, not a test) but is printed as MISSED.
 *
 * Three processes share the machine (origin, service or aria2c, and this one, which mostly
 * sleeps), so on two cores the origin's TLS work is not billed to the copier and vice versa.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestPki } from '../tests/support/test-pki.js';
import { ARIA2_MAX_CONNECTIONS, GNU_TIME_PATH, aria2Version, findOnPath, runAria2 } from './bench/aria2-run.js';
import { exited, describeExit } from './bench/child-process.js';
import { CleanupStack, cleanUpOnSignals } from './bench/cleanup.js';
import { fixed, formatConnections, formatThrottle } from './bench/format.js';
import { MIB, parseBenchOptions, usage, type BenchOptions } from './bench/options.js';
import { startOriginProcess } from './bench/origin-process.js';
import { clockTicksPerSecond } from './bench/proc-stats.js';
import { runReelin, type ReelinRunContext } from './bench/reelin-run.js';
import { printReport } from './bench/report.js';
import {
  formatCrc,
  THROTTLE_BYTES_PER_SECOND,
  THROTTLED_RUN_SECONDS,
  throttledSizeBytes,
  type CopyTarget,
  type RunResult,
} from './bench/results.js';
import { checksumPrefixes, ensureSourceFile, type SourceFile } from './bench/source-file.js';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

/** One origin process's worth of runs: a prefix of the source file, with or without the throttle. */
interface Scenario {
  sizeBytes: number;
  throttleBytesPerSecond: number | null;
  connections: number[];
}

interface Environment {
  options: BenchOptions;
  cleanup: CleanupStack;
  source: SourceFile;
  /** CRC32C of each prefix of the source file a scenario serves. */
  checksums: Map<number, number>;
  caCertPath: string;
  pkiDir: string;
  aria2cPath: string | null;
  reelin: ReelinRunContext;
}

async function main(argv: readonly string[]): Promise<number> {
  let options: BenchOptions | 'help';
  try {
    options = parseBenchOptions(argv);
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n\n${usage}`);
    return 2;
  }
  if (options === 'help') {
    console.log(usage);
    return 0;
  }
  const cleanup = new CleanupStack();
  cleanUpOnSignals(cleanup);
  try {
    await runBenchmark(options, cleanup);
    return 0;
  } catch (error) {
    // Interrupted: the signal handler cleans up and exits; the copy it broke off is no failure to report.
    if (cleanup.interrupted) return 130;
    throw error;
  } finally {
    await cleanup.runAll();
  }
}

async function runBenchmark(options: BenchOptions, cleanup: CleanupStack): Promise<void> {
  await buildService();
  const aria2cPath = await findAria2(options);
  const scenarios = planScenarios(options);
  const source = await prepareSourceFile(options);
  const checksums = await checksumScenarios(source, scenarios);
  const pki = await createTestPki();
  cleanup.add('remove the test PKI', () => pki.cleanup());
  const env: Environment = {
    options,
    cleanup,
    source,
    checksums,
    caCertPath: pki.caCertPath,
    pkiDir: pki.dir,
    aria2cPath,
    reelin: {
      repoRoot,
      caCertPath: pki.caCertPath,
      ticksPerSecond: clockTicksPerSecond(),
      cpuProfDir: options.cpuProfDir,
      serviceEnv: options.serviceEnv,
      databaseUrl: options.databaseUrl,
      cleanup,
    },
  };
  const runs: RunResult[] = [];
  for (const scenario of scenarios) runs.push(...(await runScenario(env, scenario)));
  printReport(runs, {
    machine: await describeMachine(aria2cPath),
    options: {
      sizesMib: options.sizesMib,
      sizeMib: options.sizeMib,
      sizeBytes: options.sizeBytes,
      connections: options.connections,
      repeat: options.repeat,
      skipAria2: options.skipAria2,
      skipThrottled: options.skipThrottled,
      skipUnthrottled: options.skipUnthrottled,
      cpuProf: options.cpuProfDir !== null,
      database: options.databaseUrl === null ? 'embedded' : 'postgres',
    },
    notes: reportNotes(options, aria2cPath),
  });
}

/** The benchmark runs the built service, as deployed, so it builds it first. */
async function buildService(): Promise<void> {
  console.log('building the service (npm run build)...');
  const child = spawn('npm', ['run', 'build', '--silent'], { cwd: repoRoot, stdio: 'inherit' });
  const status = await exited(child);
  if (status.code !== 0) throw new Error(`npm run build failed (${describeExit(status)})`);
}

async function findAria2(options: BenchOptions): Promise<string | null> {
  if (options.skipAria2) return null;
  const aria2cPath = await findOnPath('aria2c');
  if (aria2cPath === null) console.log('aria2c is not on PATH: the comparison is skipped');
  else if ((await findOnPath(path.basename(GNU_TIME_PATH))) === null)
    throw new Error(`aria2c runs are timed with GNU time, expected at ${GNU_TIME_PATH}`);
  return aria2cPath;
}

/**
 * For each file size: unthrottled runs copy the whole file; throttled ones a prefix of it (at most
 * THROTTLED_RUN_SECONDS at the full throttled rate), one origin per distinct size.
 */
function planScenarios(options: BenchOptions): Scenario[] {
  // Keyed by size and throttle: a throttled prefix may be the same for several file sizes.
  const scenarios = new Map<string, Scenario>();
  const add = (sizeBytes: number, throttleBytesPerSecond: number | null, connections: number) => {
    const key = `${sizeBytes}|${throttleBytesPerSecond ?? 0}`;
    const scenario = scenarios.get(key) ?? { sizeBytes, throttleBytesPerSecond, connections: [] };
    if (!scenario.connections.includes(connections)) scenario.connections.push(connections);
    scenarios.set(key, scenario);
  };
  for (const sizeMib of options.sizesMib) {
    for (const connections of options.connections) {
      if (!options.skipUnthrottled) add(sizeMib * MIB, null, connections);
      if (!options.skipThrottled)
        add(throttledSizeBytes(sizeMib * MIB, connections), THROTTLE_BYTES_PER_SECOND, connections);
    }
  }
  return [...scenarios.values()];
}

async function prepareSourceFile(options: BenchOptions): Promise<SourceFile> {
  const startedAt = performance.now();
  const source = await ensureSourceFile(path.join(repoRoot, '.bench'), options.sizeBytes);
  const verb = source.generated ? `generated in ${fixed((performance.now() - startedAt) / 1000, 1)} s` : 'reused';
  console.log(
    `source file ${path.relative(repoRoot, source.path)} (${options.sizeMib} MiB, ${source.sizeBytes} bytes): ${verb}`,
  );
  return source;
}

async function checksumScenarios(source: SourceFile, scenarios: readonly Scenario[]): Promise<Map<number, number>> {
  const startedAt = performance.now();
  const checksums = await checksumPrefixes(
    source.path,
    scenarios.map((scenario) => scenario.sizeBytes),
  );
  const listed = [...checksums].map(([sizeBytes, crc]) => `${sizeBytes} bytes ${formatCrc(crc)}`).join(', ');
  console.log(`source CRC32C (${fixed((performance.now() - startedAt) / 1000, 1)} s): ${listed}`);
  return checksums;
}

async function runScenario(env: Environment, scenario: Scenario): Promise<RunResult[]> {
  const origin = await startOriginProcess(
    {
      pkiDir: env.pkiDir,
      filePath: env.source.path,
      sizeBytes: scenario.sizeBytes,
      throttleBytesPerSecond: scenario.throttleBytesPerSecond,
    },
    repoRoot,
  );
  const stopOrigin = env.cleanup.add(`stop the origin (pid ${origin.pid})`, () => origin.stop());
  console.log(
    `\norigin pid ${origin.pid} serves ${scenario.sizeBytes} bytes (${fixed(scenario.sizeBytes / 1e6, 1)} MB), throttle ${formatThrottle(scenario.throttleBytesPerSecond)}, at ${origin.url}`,
  );
  const target: CopyTarget = {
    url: origin.url,
    warmupUrl: origin.warmupUrl,
    originPort: origin.port,
    sizeBytes: scenario.sizeBytes,
    throttleBytesPerSecond: scenario.throttleBytesPerSecond,
    crc32c: env.checksums.get(scenario.sizeBytes) ?? Number.NaN,
    originTiming: () => origin.timing(),
  };
  const runs: RunResult[] = [];
  try {
    for (const connections of scenario.connections) {
      for (let attempt = 1; attempt <= env.options.repeat; attempt += 1) {
        runs.push(logRun(await runReelin(env.reelin, target, connections, attempt)));
        if (env.aria2cPath !== null)
          runs.push(
            logRun(
              await runAria2(
                { aria2cPath: env.aria2cPath, caCertPath: env.caCertPath, cleanup: env.cleanup },
                target,
                connections,
                attempt,
              ),
            ),
          );
      }
    }
  } finally {
    await stopOrigin();
  }
  return runs;
}

/** One progress line per run, as it finishes: a long benchmark should show it is alive. */
function logRun(run: RunResult): RunResult {
  const efficiency =
    run.efficiencyPercent === null ? '' : `, ${fixed(run.efficiencyPercent, 1)}% of the throttled maximum`;
  const fixedCosts =
    run.postToFirstRangeMs === null || run.lastByteToDoneMs === null
      ? ''
      : `, POST to first range ${run.postToFirstRangeMs} ms, last byte to DONE ${run.lastByteToDoneMs} ms`;
  console.log(
    `  ${run.tool.padEnd(6)} ${formatConnections(run).padStart(11)} conns  run ${run.attempt}: ${fixed(run.seconds, 2)} s, ${fixed(run.mbPerSecond, 1)} MB/s, ${fixed(run.cpuSecondsPerGb, 2)} CPU s/GB, peak RSS ${fixed(run.peakRssMb, 1)} MB${efficiency}${fixedCosts} (copy verified)`,
  );
  return run;
}

async function describeMachine(aria2cPath: string | null): Promise<Record<string, unknown>> {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryBytes: os.totalmem(),
    kernel: os.release(),
    node: process.version,
    aria2c: aria2cPath === null ? null : await aria2Version(aria2cPath),
  };
}

function reportNotes(options: BenchOptions, aria2cPath: string | null): string[] {
  const notes: string[] = [];
  if (!options.skipThrottled) {
    notes.push(
      `throttled runs copy min(file size, connections x ${THROTTLE_BYTES_PER_SECOND / 1e6} MB/s x ${THROTTLED_RUN_SECONDS} s); efficiency = MB/s / (connections x ${THROTTLE_BYTES_PER_SECOND / 1e6} MB/s)`,
    );
  }
  if (aria2cPath !== null && options.connections.some((count) => count > ARIA2_MAX_CONNECTIONS)) {
    notes.push(
      `aria2c allows at most ${ARIA2_MAX_CONNECTIONS} connections per server (-x): its runs above that use ${ARIA2_MAX_CONNECTIONS}, shown as "${ARIA2_MAX_CONNECTIONS} (of N)"`,
    );
  }
  if (options.databaseUrl !== null)
    notes.push(
      "reelin ran as separate api and worker processes on PostgreSQL; its CPU and memory figures are the worker's",
    );
  if (Object.keys(options.serviceEnv).length > 0)
    notes.push(
      `the service ran with ${Object.entries(options.serviceEnv)
        .map(([key, value]) => `${key}=${value}`)
        .join(' ')}`,
    );
  if (options.cpuProfDir !== null)
    notes.push(
      `the service ran under --cpu-prof (profiles in ${options.cpuProfDir}): its figures include profiling overhead`,
    );
  notes.push(
    "reelin times run from sending the POST to the moment the service marked the import DONE (its updatedAt), so they include the probe, the job pickup and the final sync to disk; the status is polled once a second, as a user following the copy would; each run's fresh service first imports the file's first 4 MiB once, untimed, as a service in use would have; aria2c times include its start-up, and aria2c does not sync its file to disk",
  );
  return notes;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`\nbench:copy FAILED: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
