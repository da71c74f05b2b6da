/**
 * The range-copy engine. It copies a list of parts in lanes: each lane opens one keep-alive
 * connection of its own and sends one request at a time on it, so the origin never sees more
 * connections than there are lanes. It starts `connections` lanes and adds lanes up to each larger
 * total that `grants` reports (the source host's lease grew). It hands each finished part to
 * `onPartCopied` (the caller records it at its next checkpoint), and stops every part at the first
 * failure that retries cannot fix, so a doomed copy ends quickly.
 *
 * No lane idles while bytes remain: a lane with no part left to start takes over the second half
 * of the slowest piece in flight (takeovers.ts, part-assembly.ts), until no piece is worth
 * splitting; only then does it close its connection.
 */
import { setMaxListeners } from 'node:events';
import type { PartSpec } from '../domain/part-plan.js';
import type { PinnedPool } from '../net/outbound-client.js';
import type { CompletedPart } from '../storage/blob-store.js';
import { copyPart, fetchTakenOver, type PartCopyOptions } from './part-copier.js';
import { Takeovers, type TakeoverOptions } from './takeovers.js';

export interface CopyEngineOptions extends Omit<PartCopyOptions, 'pool' | 'takeovers'> {
  /** Opens a lane's connection (a pool of one connection to the pinned source); the lane closes it. */
  openConnection: () => PinnedPool;
  /** Lanes to start with. */
  connections: number;
  /** Later grants of more connections: the engine adds lanes up to each new total. */
  grants?: { onGrow(listener: (connections: number) => void): () => void };
  onPartCopied: (part: CompletedPart) => void;
  /** How tails are taken over (defaults in takeovers.ts). */
  takeover?: TakeoverOptions;
}

/** Copies `parts`; resolves when all are copied, rejects with the first permanent failure or the abort reason. */
export async function copyParts(
  parts: readonly PartSpec[],
  options: CopyEngineOptions,
  signal: AbortSignal,
): Promise<void> {
  const stop = new AbortController();
  const combined = AbortSignal.any([signal, stop.signal]);
  // Every part in flight listens to this signal several times over (request, stream, backoff).
  setMaxListeners(0, combined);
  let next = 0;
  let firstError: unknown = null;
  const takeovers = new Takeovers(options.takeover);

  async function lane(): Promise<void> {
    const pool = options.openConnection();
    const laneOptions: PartCopyOptions = { ...options, pool, takeovers };
    try {
      while (!combined.aborted) {
        const part = parts[next];
        if (part === undefined) {
          // Pieces only shrink: a lane that finds none worth taking over now has no more work.
          const work = takeovers.take();
          if (work === null) return;
          await fetchTakenOver(work, laneOptions, combined);
          continue;
        }
        next += 1;
        try {
          options.onPartCopied(await copyPart(part, laneOptions, combined));
        } catch (error) {
          if (firstError === null && !signal.aborted) {
            firstError = error;
            stop.abort(error);
          }
          return;
        }
      }
    } finally {
      await pool.close();
    }
  }

  const lanes: Promise<void>[] = [];
  const addLanesUpTo = (total: number): void => {
    // A lane stops only when no part is left (or the copy stops), so lanes started are lanes running.
    while (lanes.length < total && next < parts.length && !combined.aborted) lanes.push(lane());
  };
  addLanesUpTo(Math.max(1, options.connections));
  const stopGrowing = options.grants?.onGrow(addLanesUpTo);
  try {
    // Lanes added while waiting are waited for too.
    for (let waited = 0; waited < lanes.length;) {
      waited = lanes.length;
      await Promise.all(lanes);
    }
  } finally {
    stopGrowing?.();
  }
  if (signal.aborted) throw signal.reason;
  if (firstError !== null) throw firstError;
}
