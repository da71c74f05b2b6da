import { generateKeyPairSync } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AttemptResult, DeliveryRow } from '../../src/db/queries/webhook-deliveries.queries.js';
import type { WebhookRow } from '../../src/db/queries/webhooks.queries.js';
import { AppError } from '../../src/domain/errors.js';
import {
  deliverBatch,
  type DeliveryBatchDeps,
  type DeliveryConnection,
  type ReleasedClaim,
} from '../../src/webhooks/delivery-batch.js';
import { sleepOrStop } from '../../src/webhooks/loop.js';
import type { SendOutcome } from '../../src/webhooks/webhook-connection.js';

const T0 = Date.parse('2026-03-01T12:00:00.000Z');
const TIMEOUT_MS = 10_000;
const signingKey = { id: 'key-1', privateKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey };

function webhook(rateLimitPerSecond: number): WebhookRow {
  return {
    id: 'webhook-1',
    teamId: 'team-1',
    name: 'receiver',
    description: null,
    url: 'https://receiver.example/hook',
    rateLimitPerSecond,
    maxTotalRetryDelayMinutes: 60,
    eventTypes: ['video_in.done'],
    active: true,
    sealedSecret: null,
    createdAt: new Date(T0 - 60_000),
    updatedAt: new Date(T0 - 60_000),
  };
}

function delivery(index: number): DeliveryRow {
  return {
    id: `delivery-${index}`,
    webhookId: 'webhook-1',
    teamId: 'team-1',
    eventId: `event-${index}`,
    eventType: 'video_in.done',
    videoId: `video-${index}`,
    occurredAt: new Date(T0 - 1_000 + index),
    test: false,
    status: 'PENDING',
    // The claim counted this attempt: the first one.
    attemptCount: 1,
    nextAttemptAt: new Date(T0 - 1_000),
    retryUntil: new Date(T0 + 3_600_000),
    leaseUntil: new Date(T0 + 60_000),
    createdAt: new Date(T0 - 1_000),
    updatedAt: new Date(T0 - 1_000),
  };
}

interface Harness {
  deps: DeliveryBatchDeps;
  calls: { claims: [string, number, number][]; reservations: [string, number, number][] };
  recorded: AttemptResult[][];
  released: ReleasedClaim[][];
  /** Each POST: the delivery id (from the body), the time it was sent at and its timestamp header. */
  posts: { deliveryId: string; atMs: number; timestampHeader: string | undefined; attemptCount: number }[];
  connection: DeliveryConnection & { prepared: [string, number][] };
}

function harness(options: {
  claimed: DeliveryRow[];
  firstSlotInMs: number;
  answer?: (deliveryId: string) => SendOutcome | Promise<SendOutcome>;
  refuse?: AppError;
  now?: () => Date;
}): Harness {
  const now = options.now ?? (() => new Date());
  const calls: Harness['calls'] = { claims: [], reservations: [] };
  const recorded: AttemptResult[][] = [];
  const released: ReleasedClaim[][] = [];
  const posts: Harness['posts'] = [];
  const prepared: [string, number][] = [];
  const connection = {
    prepared,
    prepare: async (url: string, connections: number) => {
      prepared.push([url, connections]);
      if (options.refuse) throw options.refuse;
    },
    post: async (body: string, headers: Record<string, string>) => {
      const payload = JSON.parse(body) as { id: string; attemptCount: number };
      posts.push({
        deliveryId: payload.id,
        atMs: now().getTime(),
        timestampHeader: headers['x-pixop-timestamp'],
        attemptCount: payload.attemptCount,
      });
      return options.answer ? options.answer(payload.id) : ok(now());
    },
  };
  const deps: DeliveryBatchDeps = {
    outbox: {
      claimDue: async (webhookId, limit, leaseMs) => {
        calls.claims.push([webhookId, limit, leaseMs]);
        return options.claimed;
      },
      reserveSendSlots: async (webhookId, count, intervalMs) => {
        calls.reservations.push([webhookId, count, intervalMs]);
        return options.firstSlotInMs;
      },
      recordResults: async (results) => {
        recorded.push(results);
      },
      release: async (claims) => {
        released.push(claims);
      },
    },
    keys: { current: async () => signingKey },
    kek: Buffer.alloc(32),
    config: { timeoutMs: TIMEOUT_MS, retryBaseDelayMs: 1_000, retryMaxDelayMs: 60_000 },
    now,
    sleep: sleepOrStop,
    random: () => 0.5,
  };
  return { deps, calls, recorded, released, posts, connection };
}

function ok(requestedAt: Date): SendOutcome {
  return {
    requestedAt,
    responseTimeMillis: 12,
    statusCode: 204,
    responseBody: '',
    errorCode: null,
    errorMessage: null,
    retryAfter: null,
    responseHeaders: null,
  };
}

const succeeded = (index: number, atMs: number): AttemptResult => ({
  deliveryId: `delivery-${index}`,
  attemptCount: 1,
  status: 'SUCCEEDED',
  nextAttemptAt: null,
  attempt: {
    requestedAt: new Date(atMs),
    responseTimeMillis: 12,
    statusCode: 204,
    responseBody: '',
    errorCode: null,
    errorMessage: null,
    responseHeaders: null,
    responseRetryAt: null,
  },
});

describe('a batch of webhook deliveries', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: T0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('claims a batch of the rate limit, takes one slot per claim and sends each at its slot, 250 ms apart at 4/s', async () => {
    const h = harness({ claimed: [0, 1, 2].map(delivery), firstSlotInMs: 1_000 });
    const batch = deliverBatch(h.deps, webhook(4), h.connection, new AbortController().signal);
    await vi.runAllTimersAsync();

    expect(await batch).toBe(true);
    // A batch of 4 (the rate), leased for the timeout + 5 s + its own slots twice over.
    expect(h.calls.claims).toEqual([['webhook-1', 4, TIMEOUT_MS + 5_000 + 2 * 4 * 250]]);
    expect(h.connection.prepared).toEqual([['https://receiver.example/hook', 4]]);
    expect(h.calls.reservations).toEqual([['webhook-1', 3, 250]]);
    expect(h.posts).toEqual([
      { deliveryId: 'delivery-0', atMs: T0 + 1_000, timestampHeader: String((T0 + 1_000) / 1000), attemptCount: 1 },
      {
        deliveryId: 'delivery-1',
        atMs: T0 + 1_250,
        timestampHeader: String(Math.floor((T0 + 1_250) / 1000)),
        attemptCount: 1,
      },
      {
        deliveryId: 'delivery-2',
        atMs: T0 + 1_500,
        timestampHeader: String(Math.floor((T0 + 1_500) / 1000)),
        attemptCount: 1,
      },
    ]);
    expect(h.recorded).toEqual([[succeeded(0, T0 + 1_000), succeeded(1, T0 + 1_250), succeeded(2, T0 + 1_500)]]);
    expect(h.released).toEqual([[]]);
  });

  it('claims nothing more and reports false when nothing is due', async () => {
    const h = harness({ claimed: [], firstSlotInMs: 0 });
    expect(await deliverBatch(h.deps, webhook(4), h.connection, new AbortController().signal)).toBe(false);
    expect(h.calls.claims).toHaveLength(1);
    expect(h.connection.prepared).toEqual([]);
    expect(h.calls.reservations).toEqual([]);
    expect(h.recorded).toEqual([]);
    expect(h.released).toEqual([]);
  });

  it('gives back, unattempted, the claims whose slot starts too late to finish before the lease ends', async () => {
    // Lease 17 s: the last start that can finish in time is 17 s - 10 s (timeout) - 1 s = 6 s after the claim.
    const h = harness({ claimed: [0, 1, 2, 3].map(delivery), firstSlotInMs: 5_600 });
    const batch = deliverBatch(h.deps, webhook(4), h.connection, new AbortController().signal);
    await vi.runAllTimersAsync();

    expect(await batch).toBe(true);
    expect(h.posts.map((post) => [post.deliveryId, post.atMs])).toEqual([
      ['delivery-0', T0 + 5_600],
      ['delivery-1', T0 + 5_850],
    ]);
    expect(h.recorded).toEqual([[succeeded(0, T0 + 5_600), succeeded(1, T0 + 5_850)]]);
    expect(h.released).toEqual([
      [
        { deliveryId: 'delivery-2', attemptCount: 1 },
        { deliveryId: 'delivery-3', attemptCount: 1 },
      ],
    ]);
  });

  it('gives back the claims whose slot passed by more than the tolerance while the process stalled', async () => {
    // After the first send the process stalls for 600 ms: later timers fire that late.
    let stalledMs = 0;
    const h = harness({
      claimed: [0, 1, 2].map(delivery),
      firstSlotInMs: 1_000,
      now: () => new Date(Date.now() + stalledMs),
      answer: (deliveryId) => {
        const outcome = ok(new Date(Date.now() + stalledMs));
        if (deliveryId === 'delivery-0') stalledMs = 600;
        return outcome;
      },
    });
    const batch = deliverBatch(h.deps, webhook(4), h.connection, new AbortController().signal);
    await vi.runAllTimersAsync();

    expect(await batch).toBe(true);
    // Slots at +1250 and +1500 are seen at +1850 and +2100: past their 250 ms tolerance.
    expect(h.posts.map((post) => post.deliveryId)).toEqual(['delivery-0']);
    expect(h.recorded).toEqual([[succeeded(0, T0 + 1_000)]]);
    expect(h.released).toEqual([
      [
        { deliveryId: 'delivery-1', attemptCount: 1 },
        { deliveryId: 'delivery-2', attemptCount: 1 },
      ],
    ]);
  });

  it('gives back the claims still waiting for their slot when the worker stops', async () => {
    const stop = new AbortController();
    const h = harness({ claimed: [0, 1, 2].map(delivery), firstSlotInMs: 1_000 });
    const batch = deliverBatch(h.deps, webhook(4), h.connection, stop.signal);
    await vi.advanceTimersByTimeAsync(1_100);
    expect(h.posts.map((post) => post.deliveryId)).toEqual(['delivery-0']);
    stop.abort(new Error('stopping'));
    await vi.runAllTimersAsync();

    expect(await batch).toBe(true);
    expect(h.posts).toHaveLength(1);
    expect(h.recorded).toEqual([[succeeded(0, T0 + 1_000)]]);
    expect(h.released).toEqual([
      [
        { deliveryId: 'delivery-1', attemptCount: 1 },
        { deliveryId: 'delivery-2', attemptCount: 1 },
      ],
    ]);
  });

  it('records a refused URL as a failed attempt of each claim, taking no slot and sending nothing', async () => {
    const refusal = new AppError('INVALID_HTTPS_URL', 'the host resolves to 10.0.0.1, a private address');
    const h = harness({ claimed: [0, 1].map(delivery), firstSlotInMs: 99_000, refuse: refusal });
    const batch = deliverBatch(h.deps, webhook(4), h.connection, new AbortController().signal);
    await vi.runAllTimersAsync();

    expect(await batch).toBe(true);
    expect(h.calls.reservations).toEqual([]);
    expect(h.posts).toEqual([]);
    // Attempt 1 failed: the next is 1 s (base) * 2^0, half fixed and half of it at random 0.5, later.
    const failed = (index: number, atMs: number): AttemptResult => ({
      deliveryId: `delivery-${index}`,
      attemptCount: 1,
      status: 'PENDING',
      nextAttemptAt: new Date(atMs + 750),
      attempt: {
        requestedAt: new Date(atMs),
        responseTimeMillis: 0,
        statusCode: null,
        responseBody: null,
        errorCode: 'INVALID_HTTPS_URL',
        errorMessage: 'the host resolves to 10.0.0.1, a private address',
        responseHeaders: null,
        responseRetryAt: null,
      },
    });
    expect(h.recorded).toEqual([[failed(0, T0), failed(1, T0 + 250)]]);
    expect(h.released).toEqual([[]]);
  });
});
