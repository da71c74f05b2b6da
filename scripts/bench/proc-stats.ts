/**
 * CPU time and memory of another process, read from Linux's /proc. CPU time covers every thread
 * of the process (libuv's pool threads write the file and run TLS work too), which is what a
 * deployment pays for.
 */
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/** Kernel clock ticks per second, the unit of utime/stime in /proc/<pid>/stat (normally 100). */
export function clockTicksPerSecond(): number {
  const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  if (!Number.isInteger(ticks) || ticks <= 0) throw new Error(`getconf CLK_TCK answered ${JSON.stringify(ticks)}`);
  return ticks;
}

/** User + system CPU seconds the process has used so far. */
export async function readCpuSeconds(pid: number, ticksPerSecond: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may hold spaces, so fields are counted from
  // the last ')': after it come field 3 (state) onwards, making utime (14) and stime (15) items 11 and 12.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime))
    throw new Error(`cannot read utime/stime from /proc/${pid}/stat`);
  return (utime + stime) / ticksPerSecond;
}

export type MemoryField = 'VmRSS' | 'VmHWM';

/** A memory figure from /proc/<pid>/status, in KiB (the kernel's "kB"). */
export async function readMemoryKib(pid: number, field: MemoryField): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
  if (!match?.[1]) throw new Error(`/proc/${pid}/status has no ${field} line`);
  return Number(match[1]);
}

/** KiB (as /proc and GNU time report them) to decimal megabytes, the unit of the report. */
export function kibToMb(kib: number): number {
  return (kib * 1024) / 1e6;
}

/**
 * Samples VmRSS every `intervalMs` until stopped and keeps the maximum. A sample that fails
 * because the process is gone ends the sampling rather than the benchmark.
 */
export class RssSampler {
  private peakKib = 0;
  private samples = 0;
  private stopped = false;
  private loop: Promise<void> | null = null;

  constructor(
    private readonly pid: number,
    private readonly intervalMs = 50,
  ) {}

  start(): void {
    this.loop = this.run();
  }

  /** Stops sampling; resolves with the peak in KiB and the number of samples taken. */
  async stop(): Promise<{ peakKib: number; samples: number }> {
    this.stopped = true;
    await this.loop;
    return { peakKib: this.peakKib, samples: this.samples };
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        this.peakKib = Math.max(this.peakKib, await readMemoryKib(this.pid, 'VmRSS'));
        this.samples += 1;
      } catch {
        return;
      }
      await sleep(this.intervalMs);
    }
  }
}

const SETTLED_DIRTY_KIB = 64 * 1024;

/**
 * Waits until the kernel has written back what earlier runs left dirty (and finished discarding
 * their deleted files), so that every timed run starts from the same disk state. Without this a
 * run's writes can cost ten times more kernel time, depending only on what ran before it.
 */
export async function settleDisk(timeoutMs = 60_000): Promise<void> {
  execFileSync('sync');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const meminfo = await readFile('/proc/meminfo', 'utf8');
    const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(meminfo)?.[1] ?? 0);
    if (kib('Dirty') + kib('Writeback') < SETTLED_DIRTY_KIB) break;
    await sleep(200);
  }
  await sleep(1_000);
}
