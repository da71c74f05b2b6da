/**
 * The tests' one polling wait: reads a value until it is what the test waits for, and on timeout
 * fails naming what it waited for and the last value read, so a failure says where it stuck.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

export interface UntilOptions {
  /** Default 10 s. */
  timeoutMs?: number;
  /** Pause between reads; default 20 ms. */
  intervalMs?: number;
}

/**
 * Reads `read()` until `done` holds for its value (by default: until it is truthy) and returns
 * that value; throws after `timeoutMs` with `what` and the last value read.
 */
export async function until<T>(
  what: string,
  read: () => T | Promise<T>,
  done: (value: T) => boolean = Boolean,
  options: UntilOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (performance.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${describeValue(value)}`);
    await sleep(options.intervalMs ?? 20);
  }
}

/** Long enough to show a status object, short enough that a list of request bodies stays readable. */
const DESCRIBED_CHARS = 1_000;

function describeValue(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > DESCRIBED_CHARS ? `${text.slice(0, DESCRIBED_CHARS)}… (${text.length} chars)` : text;
}
