/**
 * Starting and stopping the origin child process (scripts/bench/origin.ts) from the benchmark.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describeExit, exited, stopChild } from './child-process.js';

/** The path the origin serves the benchmark file under. */
export const BENCH_FILE_PATH = '/bench.bin';
/** The first bytes of the same file, for the service's warm-up import before a timed one. */
export const WARMUP_FILE_PATH = '/warmup.bin';
export const WARMUP_BYTES = 4 * 1024 * 1024;

const ORIGIN_SCRIPT = fileURLToPath(new URL('./origin.ts', import.meta.url));
const START_TIMEOUT_MS = 30_000;

export interface OriginSpec {
  pkiDir: string;
  filePath: string;
  /** Bytes served: a prefix of the file. */
  sizeBytes: number;
  /** Per TLS connection; null for none. */
  throttleBytesPerSecond: number | null;
}

export interface OriginProcess {
  pid: number;
  port: number;
  /** `https://127.0.0.1:<port>/bench.bin` */
  url: string;
  /** `https://127.0.0.1:<port>/warmup.bin`: the file's first WARMUP_BYTES (or all of a smaller one) */
  warmupUrl: string;
  /** When the copy's first range request arrived and its last ended (epoch ms) since the last call; null without one. */
  timing(): Promise<OriginTiming>;
  stop(): Promise<void>;
}

export interface OriginTiming {
  firstRangeAt: number | null;
  lastByteAt: number | null;
}

export async function startOriginProcess(spec: OriginSpec, repoRoot: string): Promise<OriginProcess> {
  const args = [spec.pkiDir, spec.filePath, String(spec.sizeBytes), String(spec.throttleBytesPerSecond ?? 0)];
  // stdin is a pipe the origin watches: it exits when we do, however we end.
  const child = spawn(process.execPath, ['--import', 'tsx', ORIGIN_SCRIPT, ...args], {
    cwd: repoRoot,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  try {
    const port = await readPort(child);
    const lines = createInterface({ input: child.stdout! });
    const answers: ((line: string) => void)[] = [];
    lines.on('line', (line) => answers.shift()?.(line));
    return {
      timing: async () => {
        const answer = new Promise<string>((resolve) => answers.push(resolve));
        child.stdin?.write('timing\n');
        return JSON.parse(await answer) as OriginTiming;
      },
      pid: child.pid ?? 0,
      port,
      url: `https://127.0.0.1:${port}${BENCH_FILE_PATH}`,
      warmupUrl: `https://127.0.0.1:${port}${WARMUP_FILE_PATH}`,
      stop: async () => {
        await stopChild(child, { graceMs: 5_000 });
      },
    };
  } catch (error) {
    await stopChild(child, { signal: 'SIGKILL' });
    throw error;
  }
}

/** The origin's first stdout line is `{"port":N}`. */
async function readPort(child: ChildProcess): Promise<number> {
  if (child.stdout === null) throw new Error('the origin process has no stdout');
  const lines = createInterface({ input: child.stdout });
  let timer: NodeJS.Timeout | undefined;
  try {
    const line = await Promise.race([
      new Promise<string>((resolve) => lines.once('line', resolve)),
      exited(child).then((status) =>
        Promise.reject(new Error(`the origin process ended before listening (${describeExit(status)})`)),
      ),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`the origin process did not report its port within ${START_TIMEOUT_MS / 1000} s`)),
          START_TIMEOUT_MS,
        );
      }),
    ]);
    const port = (JSON.parse(line) as { port?: unknown }).port;
    if (typeof port !== 'number' || !Number.isInteger(port))
      throw new Error(`the origin process printed ${JSON.stringify(line)} instead of {"port":N}`);
    return port;
  } finally {
    clearTimeout(timer);
    lines.close();
  }
}
