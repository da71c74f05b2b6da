import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { and, count, eq, isNull } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateDatabase, openDatabase, type Database, type DatabaseConnection } from '../../src/db/database.js';
import { recordEvent } from '../../src/db/queries/events.queries.js';
import { insertAccount } from '../../src/db/queries/tenancy.queries.js';
import {
  claimDueDeliveries,
  dispatchEvents,
  releaseDeliveries,
  reserveSendSlots,
} from '../../src/db/queries/webhook-deliveries.queries.js';
import { listValidSigningKeys } from '../../src/db/queries/webhook-keys.queries.js';
import { insertWebhook } from '../../src/db/queries/webhooks.queries.js';
import { events, webhookDeliveries } from '../../src/db/schema.js';
import type { EventType } from '../../src/domain/events.js';
import { SigningKeyRing } from '../../src/webhooks/signing-keys.js';
import { backends, createTestDatabase } from '../support/test-database.js';

let tempDir: string;
beforeAll(async () => {
  tempDir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-webhook-queries-'));
});
afterAll(async () => {
  await fs.rm(tempDir, { recursive: true, force: true });
});

describe.each(backends)('webhook queries (%s)', (backend) => {
  let connection: DatabaseConnection;
  let dispose: () => Promise<void>;
  let db: Database;

  beforeAll(async () => {
    const database = await createTestDatabase(backend, path.join(tempDir, backend));
    connection = await openDatabase(database.config);
    await migrateDatabase(connection);
    db = connection.db;
    dispose = async () => {
      await connection.close();
      await database.drop();
    };
  });
  afterAll(async () => {
    await dispose?.();
  });

  async function team(name: string): Promise<string> {
    return (
      await insertAccount(db, {
        email: `${name}-${randomUUID()}@example.com`,
        userName: name,
        teamName: name,
        projectName: 'p',
      })
    ).teamId;
  }

  function hook(teamId: string, eventTypes: EventType[], active = true) {
    return insertWebhook(db, {
      teamId,
      name: 'h',
      url: 'https://example.com/h',
      rateLimitPerSecond: 10,
      maxTotalRetryDelayMinutes: 60,
      eventTypes,
      active,
    });
  }

  it('dispatches each event exactly once per subscribed active webhook of its team, with dispatchers racing', async () => {
    const teamA = await team('a');
    const teamB = await team('b');
    const all = await hook(teamA, ['video_in.done', 'video.deleted']);
    const doneOnly = await hook(teamA, ['video_in.done']);
    await hook(teamA, ['video_in.done'], false);
    const other = await hook(teamB, ['video.deleted']);
    // No pause needed before the events: a webhook gets events that occurred at or after its
    // creation, and these transactions start after the webhooks' committed.
    await db.transaction(async (tx) => {
      for (let index = 0; index < 120; index += 1) {
        await recordEvent(tx, {
          teamId: index % 3 === 0 ? teamB : teamA,
          videoId: randomUUID(),
          type: index % 2 === 0 ? 'video_in.done' : 'video.deleted',
        });
      }
    });
    const results = await Promise.all(
      Array.from({ length: 4 }, async () => {
        let total = 0;
        for (;;) {
          const { events: claimed, deliveries } = await dispatchEvents(db, 7);
          total += deliveries;
          if (claimed === 0) return total;
        }
      }),
    );
    // Team A: 80 events (40 done, 40 deleted): `all` gets 80, `doneOnly` 40; team B: 40 events, 20 deleted.
    const countFor = async (webhookId: string) =>
      (await db.select({ n: count() }).from(webhookDeliveries).where(eq(webhookDeliveries.webhookId, webhookId)))[0]?.n;
    expect(await countFor(all.id)).toBe(80);
    expect(await countFor(doneOnly.id)).toBe(40);
    expect(await countFor(other.id)).toBe(20);
    expect(results.reduce((sum, value) => sum + value, 0)).toBe(140);
    const [left] = await db
      .select({ n: count() })
      .from(events)
      .where(and(eq(events.teamId, teamA), isNull(events.dispatchedAt)));
    expect(left?.n ?? 0).toBe(0);
    expect(await dispatchEvents(db, 100)).toEqual({ events: 0, deliveries: 0 });
  });

  it('lets two workers claim disjoint deliveries, and gives back what was not attempted', async () => {
    const teamId = await team('claims');
    const webhook = await hook(teamId, ['video_out.done']);
    for (let index = 0; index < 30; index += 1)
      await db.transaction((tx) => recordEvent(tx, { teamId, videoId: randomUUID(), type: 'video_out.done' }));
    while ((await dispatchEvents(db, 100)).events > 0);
    const [first, second] = await Promise.all([
      claimDueDeliveries(db, webhook.id, 20, 60_000),
      claimDueDeliveries(db, webhook.id, 20, 60_000),
    ]);
    const ids = [...(first ?? []), ...(second ?? [])].map((row) => row.id);
    expect(ids).toHaveLength(30);
    expect(new Set(ids).size).toBe(30);
    expect(await claimDueDeliveries(db, webhook.id, 20, 60_000)).toHaveLength(0);
    await releaseDeliveries(
      db,
      (first ?? []).map((row) => ({ deliveryId: row.id, attemptCount: row.attemptCount })),
    );
    const again = await claimDueDeliveries(db, webhook.id, 50, 60_000);
    expect(again.map((row) => row.id).sort()).toEqual((first ?? []).map((row) => row.id).sort());
    expect(again.every((row) => row.attemptCount === 1)).toBe(true);
  });

  it('hands out send slots that never overlap, however many reserve at once', async () => {
    const teamId = await team('slots');
    const webhook = await hook(teamId, ['video.deleted']);
    // 6 reservations of 5 slots 20 ms apart: each a 100 ms window. A reservation answers how long
    // from its own moment its window starts, and that moment lies between the call and the answer,
    // so each window's start is known within those bounds, however slow the machine is.
    const windows = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const calledAt = Date.now();
        const inMs = await reserveSendSlots(db, webhook.id, 5, 20);
        return { inMs, earliest: calledAt + inMs, latest: Date.now() + inMs };
      }),
    );
    // None waits longer than the five windows that can come before it.
    for (const { inMs } of windows) {
      expect(inMs).toBeGreaterThanOrEqual(0);
      expect(inMs).toBeLessThanOrEqual(500);
    }
    // Two windows overlap only if neither can start 100 ms after the other (1 ms for the clocks' rounding).
    for (const [index, first] of windows.entries())
      for (const second of windows.slice(index + 1))
        expect(Math.max(second.latest - first.earliest, first.latest - second.earliest)).toBeGreaterThanOrEqual(99);
  });

  it('creates one signing key however many processes start together, and rotates with an overlap', async () => {
    const kek = randomBytes(32);
    let now = new Date();
    const startedAt = now.getTime();
    const rings = Array.from({ length: 3 }, () => new SigningKeyRing({ db, kek, now: () => now }));
    const created = await Promise.all(rings.map((ring) => ring.ensureActiveKey()));
    expect(new Set(created.map((row) => row.id)).size).toBe(1);
    const ring = rings[0]!;
    const firstKey = await ring.current();
    expect(firstKey.id).toBe(created[0]?.id);

    expect(await ring.rotateIfDue(0, 3_600_000)).toBe(false);
    expect(await ring.rotateIfDue(10 * 86_400_000, 3_600_000)).toBe(false);
    const rotated = await ring.rotate(3_600_000);
    const listed = await listValidSigningKeys(db, now);
    expect(listed.map((row) => row.id)).toEqual([rotated.id, firstKey.id]);
    expect(listed[0]?.expiresAt).toBeNull();
    expect(listed[1]?.expiresAt?.getTime()).toBe(startedAt + 3_600_000);
    expect((await ring.current()).id).toBe(rotated.id);

    now = new Date(Date.now() + 11 * 86_400_000);
    expect(await ring.rotateIfDue(10 * 86_400_000, 3_600_000)).toBe(true);
    const afterSchedule = await listValidSigningKeys(db, now);
    expect(afterSchedule).toHaveLength(2);
    expect(afterSchedule.map((row) => row.id)).not.toContain(firstKey.id);

    await expect(new SigningKeyRing({ db, kek: randomBytes(32) }).ensureActiveKey()).rejects.toThrow(
      /encrypted under another key-encryption key.*REELIN_WEBHOOK_KEY_ENCRYPTION_KEY/,
    );
  });
});
