/**
 * When a webhook delivery is tried again: pure rules, unit-tested with a fake clock.
 *
 * A failed attempt is retried after an exponential backoff with "equal jitter" (half of the step
 * fixed, half random), so the receivers of many failing deliveries are not hit in lock-step. No
 * attempt starts after the delivery's retry window (`maxTotalRetryDelayMinutes` after it was
 * created): when the next backoff step would end past the window, the last attempt is made at the
 * window's end. A 429 or 503 with `Retry-After` is honoured: the next attempt never starts earlier
 * than the receiver asked, and when that is past the window the delivery gives up.
 */
import { backoffDelayMs, parseRetryAfterMs } from './retry.js';

export interface WebhookRetryPolicy {
  /** The first retry's step; each further retry doubles it. */
  baseDelayMs: number;
  /** No backoff step is longer than this. */
  maxDelayMs: number;
}

/** What the last attempt ended in, as far as scheduling cares. */
export interface AttemptOutcome {
  /** The HTTP status, or null when no response arrived (connection failure, timeout, refused URL). */
  statusCode: number | null;
  /** The response's Retry-After header value, if any. */
  retryAfter: string | null;
}

export interface NextAttemptInput {
  /** Attempts made so far, including the one that just failed (>= 1). */
  attemptCount: number;
  outcome: AttemptOutcome;
  /** No attempt starts after this. */
  retryUntilMs: number;
  nowMs: number;
  /** In [0, 1). */
  random: number;
  policy: WebhookRetryPolicy;
}

export interface RetryPlan {
  /** When the next attempt may start, or null: give up. */
  nextAttemptAtMs: number | null;
  /** The time the receiver asked us to wait for (Retry-After on 429/503), for the delivery log. */
  responseRetryAtMs: number | null;
}

/** Statuses whose Retry-After header is honoured. */
const retryAfterStatuses = new Set([429, 503]);

/** Only 2xx counts as delivered; redirects are failures (they are never followed). */
export function isSuccessfulStatus(statusCode: number | null): boolean {
  return statusCode !== null && statusCode >= 200 && statusCode < 300;
}

/** The time a receiver's Retry-After asks for, or null (absent, unreadable, or a status that does not count). */
export function requestedRetryAtMs(outcome: AttemptOutcome, nowMs: number): number | null {
  if (outcome.statusCode === null || !retryAfterStatuses.has(outcome.statusCode)) return null;
  const waitMs = parseRetryAfterMs(outcome.retryAfter, nowMs);
  return waitMs === null ? null : nowMs + waitMs;
}

/** Plans the attempt after a failed one. */
export function planNextAttempt(input: NextAttemptInput): RetryPlan {
  const responseRetryAtMs = requestedRetryAtMs(input.outcome, input.nowMs);
  if (input.nowMs >= input.retryUntilMs) return { nextAttemptAtMs: null, responseRetryAtMs };
  const backoffAtMs = input.nowMs + backoffDelayMs(input.attemptCount, input.policy, input.random);
  if (responseRetryAtMs !== null) {
    const at = Math.max(backoffAtMs, responseRetryAtMs);
    // The receiver asked us not to come before a time past the window: a retry at the window's end
    // would ignore that, so the delivery gives up.
    if (responseRetryAtMs > input.retryUntilMs) return { nextAttemptAtMs: null, responseRetryAtMs };
    return { nextAttemptAtMs: Math.min(at, input.retryUntilMs), responseRetryAtMs };
  }
  return { nextAttemptAtMs: Math.min(backoffAtMs, input.retryUntilMs), responseRetryAtMs };
}

/** The end of a delivery's retry window. */
export function retryWindowEndMs(createdAtMs: number, maxTotalRetryDelayMinutes: number): number {
  return createdAtMs + maxTotalRetryDelayMinutes * 60_000;
}

/**
 * The rate limit as a schedule of send slots: each request to a webhook takes the next slot, one
 * `1000 / rateLimitPerSecond` ms after the previous one, never earlier than now. Returns the first
 * slot of `count` consecutive slots and the slot after them. Shared in the database, this makes the
 * limit hold across every worker process.
 */
export function reserveSlots(
  nextSlotAtMs: number,
  nowMs: number,
  count: number,
  rateLimitPerSecond: number,
): { firstSlotAtMs: number; nextSlotAtMs: number } {
  const first = Math.max(nextSlotAtMs, nowMs);
  return { firstSlotAtMs: first, nextSlotAtMs: first + slotIntervalMs(rateLimitPerSecond) * count };
}

export function slotIntervalMs(rateLimitPerSecond: number): number {
  return 1000 / rateLimitPerSecond;
}

/**
 * How late a send may start after its slot. A later start would crowd the next slots (which
 * another process may hold), so the send gives its slot up and waits for a later batch. Any one
 * second then holds at most `rate + lateness / interval` starts: one more up to 20/s, 5% more at
 * the highest rates, where a busy event loop is often a few milliseconds late and giving up
 * every such slot would cost more throughput than the 5% it prevents.
 */
export function slotLatenessToleranceMs(rateLimitPerSecond: number): number {
  return Math.max(slotIntervalMs(rateLimitPerSecond), 50);
}
