import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateDatabase, openDatabase, type DatabaseConnection } from '../../src/db/database.js';
import { listenForEvents, type EventBell } from '../../src/webhooks/event-bell.js';
import { recordEvent } from '../../src/db/queries/events.queries.js';
import { insertAccount } from '../../src/db/queries/tenancy.queries.js';
import { backends, createTestDatabase, type TestDatabase } from '../support/test-database.js';

let tempDir: string;
beforeAll(async () => {
  tempDir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-event-bell-'));
});
afterAll(async () => {
  await fs.rm(tempDir, { recursive: true, force: true });
});

/** Counts the rings of a bell and lets a test wait for the next ones. */
function ringCounter(bell: EventBell): {
  count: () => number;
  waitFor: (count: number, timeoutMs?: number) => Promise<void>;
  stop: () => void;
} {
  let rings = 0;
  const stop = bell.onRing(() => {
    rings += 1;
  });
  return {
    count: () => rings,
    stop,
    waitFor: async (count, timeoutMs = 5_000) => {
      const deadline = Date.now() + timeoutMs;
      while (rings < count) {
        if (Date.now() > deadline) throw new Error(`the bell rang ${rings} times, expected ${count}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 300));

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
      await settle();
      expect(rings.count()).toBe(2);

      await expect(
        connection.db.transaction(async (tx) => {
          await recordEvent(tx, { teamId, videoId: randomUUID(), type: 'video_in.started' });
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      await settle();
      expect(rings.count()).toBe(2);
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
    await settle();
    expect(dropped.count()).toBe(0);
    await bell.close();
    await record();
    await settle();
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
