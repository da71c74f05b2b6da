import { describe, expect, it } from 'vitest';
import {
  grantableConnections,
  HOST_LEASE_RENEW_INTERVAL_MS,
  HOST_LEASE_TTL_MS,
  leaseWaitDelayMs,
  sourceHostKey,
} from '../../src/copy/host-leases.js';

describe('grantableConnections', () => {
  it.each([
    // wanted, ceiling, held by others, granted
    [20, 40, 0, 20],
    [20, 40, 20, 20],
    [20, 24, 20, 4],
    [20, 24, 24, 0],
    [20, 24, 30, 0],
    [4, 24, 19, 4],
    [4, 24, 21, 3],
    [1, 1, 0, 1],
    [1, 1, 1, 0],
  ])('grants %i wanted under a ceiling of %i with %i held elsewhere: %i', (wanted, ceiling, held, granted) => {
    expect(grantableConnections(wanted, ceiling, held)).toBe(granted);
  });

  it('grants everything wanted when the ceiling is 0 (no ceiling), whatever others hold', () => {
    expect(grantableConnections(20, 0, 1_000)).toBe(20);
  });
});

describe('leaseWaitDelayMs', () => {
  const options = { baseDelayMs: 200, maxDelayMs: 5_000 };

  it('doubles from the base up to the maximum without jitter', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 40].map((attempt) => leaseWaitDelayMs(attempt, options, () => 0))).toEqual([
      200, 400, 800, 1_600, 3_200, 5_000, 5_000, 5_000,
    ]);
  });

  it('jitters down by at most half', () => {
    expect(leaseWaitDelayMs(2, options, () => 0.999_999)).toBe(400);
    expect(leaseWaitDelayMs(2, options, () => 0.5)).toBe(600);
  });
});

describe('sourceHostKey', () => {
  it.each([
    ['https://media.example.com/a.mov', 'media.example.com:443'],
    ['https://Media.Example.com:8443/a.mov?x=1', 'media.example.com:8443'],
    ['https://127.0.0.1:4443/a', '127.0.0.1:4443'],
    ['https://[::1]:4443/a', '[::1]:4443'],
    ['https://media.example.com:443/a', 'media.example.com:443'],
  ])('counts %s under %s', (url, key) => {
    expect(sourceHostKey(url)).toBe(key);
  });
});

it("lets a dead holder's lease expire after three missed renewals", () => {
  expect(HOST_LEASE_TTL_MS).toBe(3 * HOST_LEASE_RENEW_INTERVAL_MS);
});
