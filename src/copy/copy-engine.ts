/**
 * The range-copy engine. It copies a list of parts with at most `connections` requests in flight
 * (the pinned pool holds that many connections, so the origin never sees more), hands each
 * finished part to `onPartCopied` (the caller records it at its next checkpoint), and stops every
 * part at the first failure that retries cannot fix, so a doomed copy ends quickly.
 */
import { setMaxListeners } from 'node:events';
import type { PartSpec } from '../domain/part-plan.js';
import type { CompletedPart } from '../storage/blob-store.js';
import { copyPart, type PartCopyOptions } from './part-copier.js';

export interface CopyEngineOptions extends PartCopyOptions {
  connections: number;
  onPartCopied: (part: CompletedPart) => void;
}

/** Copies `parts`; resolves when all are copied, rejects with the first permanent failure or the abort reason. */
export async function copyParts(parts: readonly PartSpec[], options: CopyEngineOptions, signal: AbortSignal): Promise<void> {
  const stop = new AbortController();
  const combined = AbortSignal.any([signal, stop.signal]);
  // Every part in flight listens to this signal several times over (request, stream, backoff).
  setMaxListeners(0, combined);
  let next = 0;
  let firstError: unknown = null;

  async function lane(): Promise<void> {
    while (!combined.aborted) {
      const part = parts[next];
      next += 1;
      if (part === undefined) return;
      try {
        options.onPartCopied(await copyPart(part, options, combined));
      } catch (error) {
        if (firstError === null && !signal.aborted) {
          firstError = error;
          stop.abort(error);
        }
        return;
      }
    }
  }

  const lanes = Array.from({ length: Math.max(1, Math.min(options.connections, parts.length)) }, () => lane());
  await Promise.all(lanes);
  if (signal.aborted) throw signal.reason;
  if (firstError !== null) throw firstError;
}
