/**
 * The one place that spawns child processes (ffmpeg, ffprobe). Everything else builds argv arrays
 * with pure functions and hands them to a `ProcessRunner`.
 *
 * How it works: the binary is spawned without a shell, as the leader of its own process group, so
 * that an abort can signal the whole tree (ffmpeg may start helpers). An abort sends SIGTERM to the
 * group, which lets ffmpeg stop cleanly, then SIGKILL after a short grace period; the promise settles
 * only once the child has exited, so a caller that sees the rejection knows the process is gone.
 * Only the tail of stderr is kept (ffmpeg can log megabytes); with `onProgress`, stdout is parsed as
 * ffmpeg's `-progress` key=value blocks instead of being captured.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

/** One `-progress` block from ffmpeg. */
export interface FfmpegProgress {
  /** Output position in milliseconds (ffmpeg's out_time_us / 1000). */
  outTimeMs: number;
  /** Frames written so far; null for audio-only outputs or when ffmpeg reports N/A. */
  frame: number | null;
  /** Encoding speed relative to real time (1.5 means 1.5x); null when ffmpeg reports N/A. */
  speed: number | null;
  /** True for the final block (`progress=end`). */
  done: boolean;
}

export interface RunOptions {
  /** Aborting kills the process group; the run rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Kills the process group after this long; the run rejects with a TimeoutError DOMException. */
  timeoutMs?: number;
  /** When given, stdout is parsed as `-progress pipe:1` output (the argv must ask for it). */
  onProgress?: (progress: FfmpegProgress) => void;
  /** Upper bound on captured stdout (default 64 MiB); exceeding it kills the process. */
  maxStdoutBytes?: number;
}

export interface RunResult {
  /** Captured stdout (UTF-8); empty when `onProgress` consumed it. */
  stdout: string;
  /** The last ~8 KiB of stderr. */
  stderrTail: string;
}

export interface ProcessRunner {
  run(binary: string, args: readonly string[], options?: RunOptions): Promise<RunResult>;
}

/** A media process failed to start, exited non-zero, died by a signal or produced too much output. */
export class MediaProcessError extends Error {
  override readonly name = 'MediaProcessError';
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly stderrTail: string;
  readonly binary: string;

  constructor(message: string, details: { binary: string; exitCode: number | null; signal: string | null; stderrTail: string; cause?: unknown }) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.binary = details.binary;
    this.exitCode = details.exitCode;
    this.signal = details.signal;
    this.stderrTail = details.stderrTail;
  }
}

const STDERR_TAIL_BYTES = 8 * 1024;
const DEFAULT_MAX_STDOUT_BYTES = 64 * 1024 * 1024;
/** How long ffmpeg gets to finish after SIGTERM before the group is killed outright. */
const KILL_GRACE_MS = 2_000;

/** Keeps the last `limit` bytes written to it. */
class TailBuffer {
  private chunks: Buffer[] = [];
  private length = 0;
  constructor(private readonly limit: number) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
    while (this.length - (this.chunks[0]?.length ?? 0) >= this.limit) {
      this.length -= this.chunks.shift()?.length ?? 0;
    }
  }

  toString(): string {
    const all = Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - this.limit)).toString('utf8');
  }
}

function parseNumber(value: string | undefined): number | null {
  if (value === undefined) return null;
  const number = Number.parseFloat(value);
  return Number.isFinite(number) ? number : null;
}

/**
 * Turns ffmpeg `-progress` output (lines of key=value, each block ending with `progress=...`) into
 * `FfmpegProgress` values. Chunks may split lines anywhere. Pure, so it is unit tested directly.
 */
export class FfmpegProgressParser {
  private pending = '';
  private block = new Map<string, string>();

  push(chunk: string): FfmpegProgress[] {
    const lines = (this.pending + chunk).split('\n');
    this.pending = lines.pop() ?? '';
    const out: FfmpegProgress[] = [];
    for (const rawLine of lines) {
      const line = rawLine.trim();
      const eq = line.indexOf('=');
      if (eq <= 0) continue;
      const key = line.slice(0, eq);
      const value = line.slice(eq + 1).trim();
      if (key !== 'progress') {
        this.block.set(key, value);
        continue;
      }
      out.push(this.toProgress(value === 'end'));
      this.block = new Map();
    }
    return out;
  }

  private toProgress(done: boolean): FfmpegProgress {
    // ffmpeg's out_time_ms is, despite its name, in microseconds too (a long-standing quirk).
    const outTimeUs = parseNumber(this.block.get('out_time_us')) ?? parseNumber(this.block.get('out_time_ms'));
    const speedText = this.block.get('speed');
    return {
      outTimeMs: outTimeUs === null ? 0 : Math.max(0, Math.round(outTimeUs / 1000)),
      frame: parseNumber(this.block.get('frame')),
      speed: speedText === undefined ? null : parseNumber(speedText.replace(/x$/, '')),
      done,
    };
  }
}

function lastLine(text: string): string {
  const lines = text.split('\n').map((line) => line.trim()).filter((line) => line !== '');
  return lines.at(-1) ?? '';
}

function abortReason(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason : new DOMException('The operation was aborted', 'AbortError');
}

/** Sends a signal to the process group led by `child`; the group may already be gone. */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // ESRCH: every process in the group has exited already.
  }
}

export class ChildProcessRunner implements ProcessRunner {
  private readonly live = new Set<ChildProcess>();

  run(binary: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(abortReason(signal));

    return new Promise<RunResult>((resolve, reject) => {
      const name = path.basename(binary);
      const child = spawn(binary, [...args], { shell: false, detached: true, stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
      this.live.add(child);
      const stderr = new TailBuffer(STDERR_TAIL_BYTES);
      const stdoutChunks: Buffer[] = [];
      const maxStdoutBytes = options.maxStdoutBytes ?? DEFAULT_MAX_STDOUT_BYTES;
      const parser = options.onProgress === undefined ? null : new FfmpegProgressParser();
      let stdoutBytes = 0;
      let failure: Error | null = null;
      let killTimer: NodeJS.Timeout | undefined;

      const stop = (reason: Error): void => {
        if (failure !== null) return;
        failure = reason;
        signalGroup(child, 'SIGTERM');
        killTimer = setTimeout(() => signalGroup(child, 'SIGKILL'), KILL_GRACE_MS);
        killTimer.unref();
      };
      const onAbort = (): void => stop(abortReason(signal));
      signal?.addEventListener('abort', onAbort, { once: true });
      // A timer rather than AbortSignal.any/timeout: combined signals tied to a long-lived job signal
      // accumulate in Node 20.
      const timeoutTimer = options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => stop(new DOMException(`${name} did not finish within ${options.timeoutMs} ms`, 'TimeoutError')), options.timeoutMs);

      child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
      child.stdout?.on('data', (chunk: Buffer) => {
        if (parser !== null) {
          try {
            for (const progress of parser.push(chunk.toString('utf8'))) options.onProgress?.(progress);
          } catch (error) {
            // A throwing listener must not crash the process from inside a stream event; it fails the run.
            stop(error instanceof Error ? error : new Error(String(error)));
          }
          return;
        }
        stdoutBytes += chunk.length;
        if (stdoutBytes > maxStdoutBytes) {
          stop(new MediaProcessError(`${name} wrote more than ${maxStdoutBytes} bytes to stdout, so it was stopped`, { binary, exitCode: null, signal: null, stderrTail: stderr.toString() }));
          return;
        }
        stdoutChunks.push(chunk);
      });

      let spawnError: Error | null = null;
      let settled = false;
      const settle = (code: number | null, exitSignal: NodeJS.Signals | null): void => {
        if (settled) return;
        settled = true;
        this.live.delete(child);
        signal?.removeEventListener('abort', onAbort);
        clearTimeout(killTimer);
        clearTimeout(timeoutTimer);
        // The leader is gone; make sure nothing it started outlives it after an abort.
        if (failure !== null) signalGroup(child, 'SIGKILL');
        const stderrTail = stderr.toString();
        if (failure !== null) {
          reject(failure);
        } else if (spawnError !== null) {
          reject(new MediaProcessError(`${name} could not be started: ${spawnError.message}`, { binary, exitCode: null, signal: null, stderrTail, cause: spawnError }));
        } else if (code !== 0) {
          const how = code === null ? `was killed by ${exitSignal ?? 'a signal'}` : `exited with code ${code}`;
          const detail = lastLine(stderrTail);
          reject(new MediaProcessError(`${name} ${how}${detail === '' ? '' : `: ${detail}`}`, { binary, exitCode: code, signal: exitSignal, stderrTail }));
        } else {
          resolve({ stdout: Buffer.concat(stdoutChunks).toString('utf8'), stderrTail });
        }
      };
      child.on('error', (error) => {
        spawnError = error;
        // A child that never started has no 'close' guaranteed to follow.
        if (child.pid === undefined) settle(null, null);
      });
      child.on('close', settle);
    });
  }

  /** Kills every process this runner still has running (for shutdown). */
  killAll(): void {
    for (const child of this.live) signalGroup(child, 'SIGKILL');
  }
}
