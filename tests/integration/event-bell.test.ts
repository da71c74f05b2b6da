import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateDatabase, openDatabase, type DatabaseConnection } from '../../src/db/database.js';
import { listenForEvents, type BellRing, type EventBell } from '../../src/webhooks/event-bell.js';
import { ringEventBell } from '../../src/db/queries/event-bell.queries.js';
import { recordEvent } from '../../src/db/queries/events.queries.js';
import { insertAccount } from '../../src/db/queries/tenancy.queries.js';
import { backends, createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { until } from '../support/wait.js';

let tempDir: string;
beforeAll(async () => {
  tempDir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-event-bell-'));
});
afterAll(async () => {
  await fs.rm(tempDir, { recursive: true, force: true });
});

/** Counts the rings of a bell (`heard` keeps what each rang) and lets a test wait for the next ones. */
function ringCounter(bell: EventBell): {
  count: () => number;
  heard: BellRing[];
  waitFor: (count: number, timeoutMs?: number) => Promise<void>;
  stop: () => void;
} {
  let rings = 0;
  const heard: BellRing[] = [];
  const stop = bell.onRing((ring) => {
    rings += 1;
    heard.push(ring);
  });
  return {
    count: () => rings,
    heard,
    stop,
    waitFor: async (count, timeoutMs = 5_000) => {
      await until(
        `${count} rings of the bell`,
        () => rings,
        (rung) => rung >= count,
        { timeoutMs, intervalMs: 10 },
      );
    },
  };
}

/**
 * Rings what no recorded event rings, in a transaction of its own, and waits for it: rings arrive in
 * the order their transactions committed, so every ring of an earlier commit has arrived by then.
 */
async function ringMarker(connection: DatabaseConnection, rings: ReturnType<typeof ringCounter>): Promise<void> {
  const before = rings.heard.filter((ring) => ring === 'deliveries').length;
  await connection.db.transaction((tx) => ringEventBell(tx, 'deliveries'));
  await until('the marker ring', () => rings.heard.filter((ring) => ring === 'deliveries').length > before);
}

describe.each(backends)('event bell (%s)', (backend) => {
  let database: TestDatabase;
  let connection: DatabaseConnection;
  let teamId: string;

  beforeAll(async () => {
    database = await createTestDatabase(backend, path.join(tempDir, backend));
    connection = await openDatabase(database.config);
    await migrateDatabase(connection);
    teamId = (
      await insertAccount(connection.db, {
        email: `bell-${randomUUID()}@example.com`,
        userName: 'Bell',
        teamName: 'Bell',
        projectName: 'p',
      })
    ).teamId;
  });
  afterAll(async () => {
    await connection?.close();
    await database?.drop();
  });

  const record = (type: 'video_in.started' | 'video_in.done' = 'video_in.started') =>
    recordEvent(connection.db, { teamId, videoId: randomUUID(), type });

  it('rings once per committed transaction that recorded events, and not for one rolled back', async () => {
    const bell = await listenForEvents(connection, () => undefined);
    const rings = ringCounter(bell);
    try {
      await record();
      await rings.waitFor(1);
      // Two events in one transaction: one ring, at the commit.
      await connection.db.transaction(async (tx) => {
        await recordEvent(tx, { teamId, videoId: randomUUID(), type: 'video_in.started' });
        await recordEvent(tx, { teamId, videoId: randomUUID(), type: 'video_in.done' });
      });
      await rings.waitFor(2);
      await ringMarker(connection, rings);
      expect(rings.heard).toEqual(['events', 'events', 'deliveries']);

      await expect(
        connection.db.transaction(async (tx) => {
          await recordEvent(tx, { teamId, videoId: randomUUID(), type: 'video_in.started' });
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      await ringMarker(connection, rings);
      expect(rings.heard).toEqual(['events', 'events', 'deliveries', 'deliveries']);
    } finally {
      rings.stop();
      await bell.close();
    }
  });

  it('stops ringing a listener that unsubscribed, and after close', async () => {
    const bell = await listenForEvents(connection, () => undefined);
    const kept = ringCounter(bell);
    const dropped = ringCounter(bell);
    dropped.stop();
    await record();
    await kept.waitFor(1);
    // One ring reaches every listener in the same turn, so the dropped one would have it by now.
    expect(dropped.count()).toBe(0);
    await bell.close();
    await record();
    // A closed bell has no listener left to hear a marker: this is a window to show an absence, which
    // a slow machine can only make miss a ring, never fail a bell that stopped.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(kept.count()).toBe(1);
  });

  it.runIf(backend === 'postgres')(
    'rings in another process on the same database, and reconnects a listening connection that broke',
    async () => {
      // A second connection stands for another worker process.
      const other = await openDatabase(database.config);
      const errors: Error[] = [];
      const bell = await listenForEvents(other, (error) => errors.push(error));
      const rings = ringCounter(bell);
      try {
        await record();
        await rings.waitFor(1);

        // Cut the listening connection from the server side, as a restart or a network cut would.
        const terminated = (await connection.db.execute(
          sql`select pg_terminate_backend(pid) as done from pg_stat_activity where datname = current_database() and query = 'listen reelin_events'`,
        )) as unknown as { rows: { done: boolean }[] };
        expect(terminated.rows.filter((row) => row.done)).toHaveLength(1);
        // Back after the reconnect delay, it rings once on its own (events may have been missed)...
        await rings.waitFor(2, 10_000);
        expect(errors.length).toBeGreaterThanOrEqual(1);
        // ...and hears new events again.
        await record('video_in.done');
        await rings.waitFor(3);
      } finally {
        rings.stop();
        await bell.close();
        await other.close();
      }
    },
  );
});
