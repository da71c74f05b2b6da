/**
 * Checkpoints of a running copy, on two cadences. Progress is saved every `progressIntervalMs`
 * (the user follows the copy live). Finished parts are recorded every `durableIntervalMs`: first
 * made durable in storage (`flush`), then recorded in the database with the progress, in that
 * order, so a part the database calls copied is always on disk and a resumed copy can trust the
 * record. Syncing less often than progress is saved keeps the disk streaming; a crash costs at most
 * one durable interval of re-copied parts. One checkpoint runs at a time; a failed one keeps its
 * parts for the next.
 *
 * Each checkpoint also saves the copy's rate: the bytes gained per second from the newest checkpoint
 * that is at least `RATE_WINDOW_MS` older than this one (or, early in a run, from the run's start)
 * to this one. A rate over a few seconds follows the copy as it speeds up or stalls, without the
 * jitter of a single interval.
 */
import type { CompletedPart } from '../storage/blob-store.js';

export interface CopyProgress {
  bytesCopied: number;
  progressPercentage: number;
  /** Bytes per second over the rate window; null before a run has a measured span. */
  bytesPerSecond: number | null;
}

/** The span the copy's rate is measured over. */
export const RATE_WINDOW_MS = 10_000;

interface RateSample {
  at: number;
  bytes: number;
}

export interface CheckpointerOptions {
  progressIntervalMs: number;
  durableIntervalMs: number;
  /** Bytes already recorded before this run (parts copied by earlier runs). */
  recordedBytes: number;
  totalBytes: number;
  flush: () => Promise<void>;
  /** Records parts (possibly none) and progress; resolves false when the import no longer accepts them (deleted). */
  persist: (parts: CompletedPart[], progress: CopyProgress) => Promise<boolean>;
  /** Called once when `persist` says the import is gone. */
  onStop: (reason: Error) => void;
  onError: (error: unknown) => void;
  now?: () => number;
}

export class ImportGoneError extends Error {
  override readonly name = 'ImportGoneError';
}

export class CopyCheckpointer {
  private pending: CompletedPart[] = [];
  private streamedBytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;
  private lastDurableAt: number;
  private readonly now: () => number;
  /** Progress readings of this run, oldest first: the run's start, then each checkpoint's within the rate window. */
  private samples: RateSample[];

  constructor(private readonly options: CheckpointerOptions) {
    this.now = options.now ?? Date.now;
    this.lastDurableAt = this.now();
    this.samples = [{ at: this.lastDurableAt, bytes: options.recordedBytes }];
  }

  start(): void {
    this.timer = setInterval(() => void this.checkpoint(), this.options.progressIntervalMs);
    this.timer.unref();
  }

  /** Counts bytes as they stream in (negative to take back a failed attempt's), for live progress. */
  addBytes(delta: number): void {
    this.streamedBytes += delta;
  }

  addPart(part: CompletedPart): void {
    this.pending.push(part);
  }

  /** Progress as the contract shows it: never 100 before the copy is DONE. */
  progress(): CopyProgress {
    const bytesCopied = Math.min(this.options.totalBytes, this.options.recordedBytes + this.streamedBytes);
    return {
      bytesCopied,
      progressPercentage: Math.min(99, Math.floor((bytesCopied * 100) / this.options.totalBytes)),
      bytesPerSecond: this.rate(),
    };
  }

  /** Bytes per second from the oldest kept reading to the newest; null when they span no time. */
  private rate(): number | null {
    const oldest = this.samples[0];
    const newest = this.samples[this.samples.length - 1];
    if (oldest === undefined || newest === undefined || newest.at <= oldest.at) return null;
    return Math.max(0, Math.round(((newest.bytes - oldest.bytes) * 1000) / (newest.at - oldest.at)));
  }

  /** Takes a reading for the rate, keeping the newest one at least a window old as the span's start. */
  private sample(): void {
    const at = this.now();
    this.samples.push({ at, bytes: this.options.recordedBytes + this.streamedBytes });
    const windowStart = at - RATE_WINDOW_MS;
    while (this.samples.length > 2 && (this.samples[1]?.at ?? at) <= windowStart) this.samples.shift();
  }

  /** Runs one checkpoint after any in progress (durable when its interval has passed); rejects when it fails. */
  checkpoint(): Promise<void> {
    const run = this.running.then(() =>
      this.runCheckpoint(this.now() - this.lastDurableAt >= this.options.durableIntervalMs),
    );
    this.running = run.catch((error: unknown) => this.options.onError(error));
    return run;
  }

  /** Stops the timer and records whatever is pending, durably. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
    await this.runCheckpoint(true);
  }

  private async runCheckpoint(durable: boolean): Promise<void> {
    if (this.stopped) return;
    const batch = durable ? this.pending : [];
    if (durable) this.pending = [];
    try {
      if (batch.length > 0) await this.options.flush();
      if (durable) this.lastDurableAt = this.now();
      this.sample();
      const accepted = await this.options.persist(batch, this.progress());
      if (!accepted) {
        this.stopped = true;
        this.options.onStop(new ImportGoneError('the import was deleted or abandoned while it was being copied'));
      }
    } catch (error) {
      this.pending = [...batch, ...this.pending];
      throw error;
    }
  }
}
