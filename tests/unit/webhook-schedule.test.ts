import { describe, expect, it } from 'vitest';
import {
  isSuccessfulStatus,
  planNextAttempt,
  requestedRetryAtMs,
  reserveSlots,
  retryWindowEndMs,
  slotIntervalMs,
  slotLatenessToleranceMs,
} from '../../src/domain/webhook-schedule.js';

const policy = { baseDelayMs: 10_000, maxDelayMs: 3_600_000 };
const start = Date.UTC(2026, 0, 1, 12, 0, 0);
const failure = { statusCode: 500, retryAfter: null };

/** Plays a delivery that always fails against a fake clock; returns the attempt times. */
function simulate(windowMinutes: number, random: () => number, outcome = failure): number[] {
  const retryUntilMs = retryWindowEndMs(start, windowMinutes);
  const attempts: number[] = [];
  let now = start;
  for (let attempt = 1; attempt < 10_000; attempt += 1) {
    attempts.push(now);
    const plan = planNextAttempt({
      attemptCount: attempt,
      outcome,
      retryUntilMs,
      nowMs: now,
      random: random(),
      policy,
    });
    if (plan.nextAttemptAtMs === null) return attempts;
    expect(plan.nextAttemptAtMs).toBeGreaterThan(now);
    now = plan.nextAttemptAtMs;
  }
  throw new Error('the schedule never ends');
}

describe('the retry schedule', () => {
  it.each([1, 5, 30, 180, 1440])(
    'keeps every attempt of a %i-minute window inside it and makes the last one at its end',
    (minutes) => {
      for (const random of [() => 0, () => 0.999_999, () => 0.5]) {
        const attempts = simulate(minutes, random);
        const end = retryWindowEndMs(start, minutes);
        expect(Math.max(...attempts)).toBe(end);
        expect(attempts.every((at) => at >= start && at <= end)).toBe(true);
      }
    },
  );

  it('backs off exponentially with equal jitter, capped at the maximum step', () => {
    const gaps = (random: number) => {
      const attempts = simulate(1440, () => random);
      return attempts.slice(1, 12).map((at, index) => at - (attempts[index] ?? 0));
    };
    expect(gaps(0).slice(0, 5)).toEqual([5_000, 10_000, 20_000, 40_000, 80_000]);
    expect(
      gaps(0.999_999)
        .slice(0, 3)
        .map((gap) => Math.round(gap / 1000)),
    ).toEqual([10, 20, 40]);
    expect(Math.max(...gaps(0.999_999))).toBeLessThanOrEqual(policy.maxDelayMs);
  });

  it('makes a 180-minute window about 15 attempts, not hundreds', () => {
    const attempts = simulate(180, () => 0.5);
    expect(attempts.length).toBeGreaterThan(8);
    expect(attempts.length).toBeLessThan(20);
  });

  it('never retries with a window of 0', () => {
    expect(simulate(0, () => 0.5)).toEqual([start]);
  });

  it('waits at least as long as Retry-After asks on 429 and 503', () => {
    for (const statusCode of [429, 503]) {
      const plan = planNextAttempt({
        attemptCount: 1,
        outcome: { statusCode, retryAfter: '120' },
        retryUntilMs: start + 3_600_000,
        nowMs: start,
        random: 0,
        policy,
      });
      expect(plan).toEqual({ nextAttemptAtMs: start + 120_000, responseRetryAtMs: start + 120_000 });
    }
    const date = new Date(start + 300_000).toUTCString();
    const byDate = planNextAttempt({
      attemptCount: 1,
      outcome: { statusCode: 429, retryAfter: date },
      retryUntilMs: start + 3_600_000,
      nowMs: start,
      random: 0,
      policy,
    });
    expect(byDate.nextAttemptAtMs).toBe(start + 300_000);
  });

  it('keeps the backoff when Retry-After asks for less', () => {
    const plan = planNextAttempt({
      attemptCount: 3,
      outcome: { statusCode: 503, retryAfter: '1' },
      retryUntilMs: start + 3_600_000,
      nowMs: start,
      random: 0,
      policy,
    });
    expect(plan.nextAttemptAtMs).toBe(start + 20_000);
  });

  it('gives up when Retry-After points past the window instead of retrying early', () => {
    const plan = planNextAttempt({
      attemptCount: 1,
      outcome: { statusCode: 429, retryAfter: '7200' },
      retryUntilMs: start + 3_600_000,
      nowMs: start,
      random: 0,
      policy,
    });
    expect(plan).toEqual({ nextAttemptAtMs: null, responseRetryAtMs: start + 7_200_000 });
  });

  it('ignores Retry-After on other statuses and unreadable values', () => {
    expect(requestedRetryAtMs({ statusCode: 500, retryAfter: '60' }, start)).toBeNull();
    expect(requestedRetryAtMs({ statusCode: 429, retryAfter: 'soon' }, start)).toBeNull();
    expect(requestedRetryAtMs({ statusCode: null, retryAfter: '60' }, start)).toBeNull();
    expect(requestedRetryAtMs({ statusCode: 503, retryAfter: 'Thu, 01 Jan 2026 11:00:00 GMT' }, start)).toBe(start);
  });

  it('counts only 2xx as delivered', () => {
    expect([199, 200, 204, 299, 300, 302, 404, 500].map(isSuccessfulStatus)).toEqual([
      false,
      true,
      true,
      true,
      false,
      false,
      false,
      false,
    ]);
    expect(isSuccessfulStatus(null)).toBe(false);
  });
});

describe('send slots', () => {
  it('spaces requests 1/rate apart, never before now, continuing after the last reserved slot', () => {
    expect(reserveSlots(0, 1_000, 5, 10)).toEqual({ firstSlotAtMs: 1_000, nextSlotAtMs: 1_500 });
    expect(reserveSlots(1_500, 1_100, 2, 10)).toEqual({ firstSlotAtMs: 1_500, nextSlotAtMs: 1_700 });
  });

  it('puts at most rate slots in any second, however the reservations are split between processes', () => {
    let next = 0;
    const slots: number[] = [];
    const now = 10_000;
    for (const count of [3, 7, 1, 12, 5, 20, 2]) {
      const reserved = reserveSlots(next, now, count, 20);
      for (let index = 0; index < count; index += 1) slots.push(reserved.firstSlotAtMs + (index * 1000) / 20);
      next = reserved.nextSlotAtMs;
    }
    for (const slot of slots)
      expect(slots.filter((other) => other >= slot && other < slot + 1000).length).toBeLessThanOrEqual(20);
  });
});

describe('send slots', () => {
  it.each([
    [1, 1000, 1000],
    [20, 50, 50],
    [100, 10, 50],
    [1000, 1, 50],
  ])('at %d/s are %d ms apart, and a send may start at most %d ms after its slot', (rate, intervalMs, toleranceMs) => {
    expect(slotIntervalMs(rate)).toBe(intervalMs);
    expect(slotLatenessToleranceMs(rate)).toBe(toleranceMs);
    // So no second holds more than one extra send up to 20/s, and 5% more at the highest rates.
    expect(Math.ceil(toleranceMs / intervalMs)).toBeLessThanOrEqual(Math.max(1, rate * 0.05));
  });
});
