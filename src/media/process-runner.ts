/**
 * The one place that spawns child processes (ffmpeg, ffprobe). Everything else builds argv arrays
 * with pure functions and hands them to a `ProcessRunner`.
 *
 * How it works: the binary is spawned without a shell, as the leader of its own process group, so
 * that an abort can signal the whole tree (ffmpeg may start helpers). An abort, or the run's
 * wall-clock limit, sends SIGTERM to the group, which lets ffmpeg stop cleanly, then SIGKILL one
 * second later whatever it does with SIGTERM; the promise settles only once the child has exited, so
 * a caller that sees the rejection knows the process is gone.
 *
 * A run with `resources` is confined by util-linux: `prlimit` sets its CPU-time limit (soft = hard,
 * so the kernel kills it with SIGKILL there) and its address-space limit, then `setpriv` asks the
 * kernel to SIGKILL it should this process die (no ffmpeg outlives a crashed worker), and both exec
 * into the binary, so the pid, the group and the signals are the binary's own. Running past a limit
 * rejects with a MediaLimitError that says which.
 *
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

/** Limits the kernel enforces on one run (see `confinedCommand`). */
export interface ResourceLimits {
  /** CPU seconds of all its threads together (RLIMIT_CPU); at the limit the kernel sends SIGKILL. */
  cpuSeconds: number;
  /** Address space in bytes (RLIMIT_AS); null: no limit. Allocations past it fail. */
  addressSpaceBytes: number | null;
}

export interface RunOptions {
  /** Aborting kills the process group; the run rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Kills the process group after this long; the run rejects with a MediaLimitError of kind `time`. */
  timeoutMs?: number;
  /** CPU and memory limits; the runner must have been built with a `Confinement`. */
  resources?: ResourceLimits;
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

  constructor(
    message: string,
    details: { binary: string; exitCode: number | null; signal: string | null; stderrTail: string; cause?: unknown },
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.binary = details.binary;
    this.exitCode = details.exitCode;
    this.signal = details.signal;
    this.stderrTail = details.stderrTail;
  }
}

export type MediaLimitKind = 'time' | 'cpu' | 'memory';

/** A media process ran past one of its limits and was stopped (or failed for lack of memory). */
export class MediaLimitError extends Error {
  override readonly name = 'MediaLimitError';
  readonly kind: MediaLimitKind;
  readonly binary: string;
  readonly stderrTail: string;

  constructor(message: string, details: { kind: MediaLimitKind; binary: string; stderrTail: string; cause?: unknown }) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.kind = details.kind;
    this.binary = details.binary;
    this.stderrTail = details.stderrTail;
  }
}

/** The util-linux tools that confine a run: `prlimit` always, `setpriv` when present. */
export interface Confinement {
  prlimitPath: string;
  /** Sets the parent-death signal; null: a run may outlive a worker killed outright. */
  setprivPath: string | null;
}

const STDERR_TAIL_BYTES = 8 * 1024;
const DEFAULT_MAX_STDOUT_BYTES = 64 * 1024 * 1024;
/** How long ffmpeg gets to finish after SIGTERM before the group is killed outright. */
export const KILL_GRACE_MS = 1_000;

/**
 * The command that runs `binary` under `resources`: prlimit sets the limits on itself and execs
 * setpriv, which sets the parent-death signal and execs the binary. Pure, so it is unit tested.
 */
export function confinedCommand(
  binary: string,
  args: readonly string[],
  resources: ResourceLimits,
  confinement: Confinement,
): { file: string; args: string[] } {
  const limits = [
    `--cpu=${Math.max(1, Math.ceil(resources.cpuSeconds))}`,
    ...(resources.addressSpaceBytes === null ? [] : [`--as=${Math.floor(resources.addressSpaceBytes)}`]),
  ];
  const deathSignal = confinement.setprivPath === null ? [] : [confinement.setprivPath, '--pdeathsig', 'KILL', '--'];
  return { file: confinement.prlimitPath, args: [...limits, '--', ...deathSignal, binary, ...args] };
}

/** What ffmpeg and its libraries print when an allocation or a thread fails under RLIMIT_AS. */
const OUT_OF_MEMORY =
  /Cannot allocate memory|Resource temporarily unavailable|failed to map segment|malloc of size \d+ failed|out of memory/i;

/**
 * Why a run that exited on its own failed, when a limit explains it: the kernel's SIGKILL (which
 * the runner did not send) at the CPU limit or SIGXCPU, or an allocation refused under the
 * address-space limit; null otherwise.
 */
export function limitExplaining(
  exit: { code: number | null; signal: string | null; stderrTail: string },
  resources: ResourceLimits | undefined,
): MediaLimitKind | null {
  if (resources === undefined) return null;
  if (exit.signal === 'SIGKILL' || exit.signal === 'SIGXCPU') return 'cpu';
  if (exit.code !== 0 && resources.addressSpaceBytes !== null && OUT_OF_MEMORY.test(exit.stderrTail)) return 'memory';
  return null;
}

function describeLimit(name: string, kind: MediaLimitKind, resources: ResourceLimits | undefined): string {
  if (kind === 'cpu') {
    return `${name} was killed at its CPU-time limit of ${resources?.cpuSeconds ?? '?'} s (or by the system for want of memory)`;
  }
  const megabytes =
    resources?.addressSpaceBytes == null ? '?' : Math.round(resources.addressSpaceBytes / (1024 * 1024));
  return `${name} ran out of memory under its limit of ${megabytes} MB of address space`;
}

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
  const lines = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
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

  /** `confinement`: the tools that apply `RunOptions.resources`; without it such a run is refused. */
  constructor(private readonly confinement: Confinement | null = null) {}

  run(binary: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const { signal, resources } = options;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (resources !== undefined && this.confinement === null) {
      return Promise.reject(new Error('this runner cannot apply CPU and memory limits: it was built without prlimit'));
    }
    const command =
      resources === undefined || this.confinement === null
        ? { file: binary, args: [...args] }
        : confinedCommand(binary, args, resources, this.confinement);

    return new Promise<RunResult>((resolve, reject) => {
      const name = path.basename(binary);
      const child = spawn(command.file, command.args, {
        shell: false,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        windowsHide: true,
      });
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
        // Bounded whatever the process does with SIGTERM: it is gone within a second.
        killTimer = setTimeout(() => signalGroup(child, 'SIGKILL'), KILL_GRACE_MS);
        killTimer.unref();
      };
      const onAbort = (): void => stop(abortReason(signal));
      signal?.addEventListener('abort', onAbort, { once: true });
      // A timer rather than AbortSignal.any/timeout: combined signals tied to a long-lived job signal
      // accumulate in Node 20.
      const timeoutTimer =
        options.timeoutMs === undefined
          ? undefined
          : setTimeout(
              () =>
                stop(
                  new MediaLimitError(
                    `${name} did not finish within its time limit of ${Number(((options.timeoutMs ?? 0) / 1000).toFixed(1))} s, so it was stopped`,
                    {
                      kind: 'time',
                      binary,
                      stderrTail: stderr.toString(),
                    },
                  ),
                ),
              options.timeoutMs,
            );

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
          stop(
            new MediaProcessError(`${name} wrote more than ${maxStdoutBytes} bytes to stdout, so it was stopped`, {
              binary,
              exitCode: null,
              signal: null,
              stderrTail: stderr.toString(),
            }),
          );
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
        const limit =
          failure === null && spawnError === null
            ? limitExplaining({ code, signal: exitSignal, stderrTail }, resources)
            : null;
        if (failure !== null) {
          reject(
            failure instanceof MediaLimitError
              ? new MediaLimitError(failure.message, { kind: failure.kind, binary, stderrTail })
              : failure,
          );
        } else if (spawnError !== null) {
          reject(
            new MediaProcessError(`${name} could not be started: ${spawnError.message}`, {
              binary,
              exitCode: null,
              signal: null,
              stderrTail,
              cause: spawnError,
            }),
          );
        } else if (limit !== null) {
          reject(new MediaLimitError(describeLimit(name, limit, resources), { kind: limit, binary, stderrTail }));
        } else if (code !== 0) {
          const how = code === null ? `was killed by ${exitSignal ?? 'a signal'}` : `exited with code ${code}`;
          const detail = lastLine(stderrTail);
          reject(
            new MediaProcessError(`${name} ${how}${detail === '' ? '' : `: ${detail}`}`, {
              binary,
              exitCode: code,
              signal: exitSignal,
              stderrTail,
            }),
          );
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
