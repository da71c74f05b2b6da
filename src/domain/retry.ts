import { parseHttpDate } from './http-date.js';

/**
 * Retry timing: exponential backoff with jitter, and the server's own `Retry-After`.
 */

export interface BackoffPolicy {
  baseDelayMs: number;
  maxDelayMs: number;
}

/**
 * The wait before retry number `attempt` (1 for the first retry): "equal jitter", half of the
 * exponential step fixed and half random, so parallel parts that failed together spread out but
 * none retries immediately. `random` is in [0, 1).
 */
export function backoffDelayMs(attempt: number, policy: BackoffPolicy, random: number): number {
  const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  const half = exponential / 2;
  return Math.round(half + random * half);
}

/**
 * Milliseconds to wait according to a `Retry-After` header (delay-seconds or an HTTP-date), or
 * null when it is absent or unreadable. Dates in the past give 0.
 */
export function parseRetryAfterMs(value: string | null | undefined, nowMs: number): number | null {
  if (value === null || value === undefined) return null;
  const text = value.trim();
  if (/^[0-9]{1,10}$/.test(text)) return Number(text) * 1000;
  const dateMs = parseHttpDate(text);
  return dateMs === null ? null : Math.max(0, dateMs - nowMs);
}

/** The wait before a retry: the backoff, or longer when the server asked for it (capped). */
export function retryDelayMs(options: {
  attempt: number;
  policy: BackoffPolicy;
  random: number;
  retryAfterMs: number | null;
  retryAfterMaxMs: number;
}): number {
  const backoff = backoffDelayMs(options.attempt, options.policy, options.random);
  if (options.retryAfterMs === null) return backoff;
  return Math.max(backoff, Math.min(options.retryAfterMs, options.retryAfterMaxMs));
}
