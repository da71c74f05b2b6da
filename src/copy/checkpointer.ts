/**
 * Checkpoints of a running copy. Finished parts are collected and, every interval, first made
 * durable in storage (`flush`) and then recorded in the database with the progress, in that order:
 * a part the database calls copied is always on disk, so a resumed copy can trust the record.
 * One checkpoint runs at a time; a failed one keeps its parts for the next.
 */
import type { CompletedPart } from '../storage/blob-store.js';

export interface CheckpointerOptions {
  intervalMs: number;
  /** Bytes already recorded before this run (parts copied by earlier runs). */
  recordedBytes: number;
  totalBytes: number;
  flush: () => Promise<void>;
  /** Records parts and progress; resolves false when the import no longer accepts them (deleted). */
  persist: (parts: CompletedPart[], progress: { bytesCopied: number; progressPercentage: number }) => Promise<boolean>;
  /** Called once when `persist` says the import is gone, or a checkpoint failed for good. */
  onStop: (reason: Error) => void;
  onError: (error: unknown) => void;
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

  constructor(private readonly options: CheckpointerOptions) {}

  start(): void {
    this.timer = setInterval(() => void this.checkpoint(), this.options.intervalMs);
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
  progress(): { bytesCopied: number; progressPercentage: number } {
    const bytesCopied = Math.min(this.options.totalBytes, this.options.recordedBytes + this.streamedBytes);
    return { bytesCopied, progressPercentage: Math.min(99, Math.floor((bytesCopied * 100) / this.options.totalBytes)) };
  }

  /** Runs one checkpoint after any in progress; rejects when it fails. */
  checkpoint(): Promise<void> {
    const run = this.running.then(() => this.runCheckpoint());
    this.running = run.catch((error: unknown) => this.options.onError(error));
    return run;
  }

  /** Stops the timer and records whatever is pending. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
    await this.runCheckpoint();
  }

  private async runCheckpoint(): Promise<void> {
    if (this.stopped) return;
    const batch = this.pending;
    this.pending = [];
    try {
      if (batch.length > 0) await this.options.flush();
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
