import { describe, expect, it } from 'vitest';
import { backoffDelayMs, parseRetryAfterMs, retryDelayMs, type BackoffPolicy } from '../../src/domain/retry.js';

const policy: BackoffPolicy = { baseDelayMs: 500, maxDelayMs: 30_000 };
const ALMOST_ONE = 0.9999999999;

describe('backoffDelayMs', () => {
  it.each([
    [1, 250, 500],
    [2, 500, 1_000],
    [3, 1_000, 2_000],
    [4, 2_000, 4_000],
    [5, 4_000, 8_000],
    [6, 8_000, 16_000],
    [7, 15_000, 30_000],
    [8, 15_000, 30_000],
    [50, 15_000, 30_000],
  ])('waits, before retry %d, %d ms at random 0 and %d ms at random almost 1', (attempt, lowest, highest) => {
    expect(backoffDelayMs(attempt, policy, 0)).toBe(lowest);
    expect(backoffDelayMs(attempt, policy, ALMOST_ONE)).toBe(highest);
  });

  it('waits the middle of the range at random 0.5', () => {
    expect(backoffDelayMs(3, policy, 0.5)).toBe(1_500);
  });

  it('never waits less than half nor more than the whole exponential step', () => {
    for (let attempt = 1; attempt <= 12; attempt += 1) {
      const step = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
      for (const random of [0, 0.1, 0.25, 0.5, 0.75, 0.9, ALMOST_ONE]) {
        const delay = backoffDelayMs(attempt, policy, random);
        expect(delay).toBeGreaterThanOrEqual(step / 2);
        expect(delay).toBeLessThanOrEqual(step);
      }
    }
  });

  it('doubles the lowest wait with each attempt until the cap', () => {
    const lowest = [1, 2, 3, 4, 5, 6].map((attempt) => backoffDelayMs(attempt, policy, 0));
    expect(lowest).toEqual([250, 500, 1_000, 2_000, 4_000, 8_000]);
  });

  it('treats attempt 0 and negative attempts like the first retry', () => {
    expect(backoffDelayMs(0, policy, 0)).toBe(250);
    expect(backoffDelayMs(-3, policy, 0)).toBe(250);
  });

  it('caps the step at maxDelayMs even when the base delay exceeds it', () => {
    expect(backoffDelayMs(1, { baseDelayMs: 10_000, maxDelayMs: 1_000 }, 0)).toBe(500);
    expect(backoffDelayMs(1, { baseDelayMs: 10_000, maxDelayMs: 1_000 }, ALMOST_ONE)).toBe(1_000);
  });

  it('returns whole milliseconds', () => {
    expect(backoffDelayMs(1, { baseDelayMs: 3, maxDelayMs: 100 }, 0)).toBe(2);
    expect(backoffDelayMs(1, { baseDelayMs: 3, maxDelayMs: 100 }, 0.3)).toBe(2);
  });
});

describe('parseRetryAfterMs', () => {
  const now = Date.parse('2026-11-28T10:00:00.000Z');

  it.each([
    ['0', 0],
    ['1', 1_000],
    ['2', 2_000],
    ['120', 120_000],
    [' 30 ', 30_000],
    ['007', 7_000],
    ['9999999999', 9_999_999_999_000],
  ])('reads delay-seconds %j as %d ms', (value, ms) => {
    expect(parseRetryAfterMs(value, now)).toBe(ms);
  });

  it('reads an HTTP-date 90 s in the future as 90,000 ms', () => {
    expect(parseRetryAfterMs('Sat, 28 Nov 2026 10:01:30 GMT', now)).toBe(90_000);
  });

  it('reads an HTTP-date at the current second as 0 ms', () => {
    expect(parseRetryAfterMs('Sat, 28 Nov 2026 10:00:00 GMT', now)).toBe(0);
  });

  it('reads an HTTP-date in the past as 0 ms', () => {
    expect(parseRetryAfterMs('Wed, 21 Oct 2015 07:28:00 GMT', now)).toBe(0);
  });

  it('measures an HTTP-date from the given now, not the real clock', () => {
    const date = 'Wed, 21 Oct 2015 07:28:00 GMT';
    expect(parseRetryAfterMs(date, Date.parse('2015-10-21T07:27:00.000Z'))).toBe(60_000);
  });

  it.each([
    ['the empty string', ''],
    ['blanks', '   '],
    ['a negative number', '-1'],
    ['a fraction', '1.5'],
    ['an exponent without letters', '1+2'],
    ['more than 10 digits', '12345678901'],
    ['a word', 'soon'],
    ['a word with a number', 'in 5 seconds'],
    ['an impossible date', 'Mon, 99 Foo 2026 99:99:99 GMT'],
  ])('returns null for %s (%j)', (_label, value) => {
    expect(parseRetryAfterMs(value, now)).toBeNull();
  });

  it('returns null when the header is absent', () => {
    expect(parseRetryAfterMs(null, now)).toBeNull();
    expect(parseRetryAfterMs(undefined, now)).toBeNull();
  });
});

describe('retryDelayMs', () => {
  const base = { attempt: 1, policy, random: 0, retryAfterMaxMs: 300_000 };

  it('uses the backoff when the server gave no Retry-After', () => {
    expect(retryDelayMs({ ...base, retryAfterMs: null })).toBe(250);
    expect(retryDelayMs({ ...base, attempt: 4, random: ALMOST_ONE, retryAfterMs: null })).toBe(4_000);
  });

  it('waits as long as Retry-After asks when that is longer than the backoff', () => {
    expect(retryDelayMs({ ...base, retryAfterMs: 2_000 })).toBe(2_000);
    expect(retryDelayMs({ ...base, retryAfterMs: 120_000 })).toBe(120_000);
  });

  it('keeps the backoff when Retry-After asks for less', () => {
    expect(retryDelayMs({ ...base, attempt: 5, retryAfterMs: 1_000 })).toBe(4_000);
    expect(retryDelayMs({ ...base, retryAfterMs: 0 })).toBe(250);
  });

  it('caps Retry-After at retryAfterMaxMs', () => {
    expect(retryDelayMs({ ...base, retryAfterMs: 9_999_999_999_000 })).toBe(300_000);
    expect(retryDelayMs({ ...base, retryAfterMs: 300_001 })).toBe(300_000);
  });

  it('keeps the backoff when the cap lies below it', () => {
    expect(retryDelayMs({ ...base, attempt: 3, retryAfterMs: 60_000, retryAfterMaxMs: 0 })).toBe(1_000);
  });
});
