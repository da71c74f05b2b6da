/**
 * The per-team media slots on real databases: several simulated workers (separate pools on
 * PostgreSQL) never hand out more than a team's ceiling together, ingestions and clips counted
 * together; other teams are not affected; a released or expired slot is free again.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateDatabase, openDatabase, type Database, type DatabaseConnection } from '../../src/db/database.js';
import { mediaSlotLeases } from '../../src/db/schema.js';
import { takeTeamMediaSlot, type MediaSlotRequest, type TeamMediaSlot } from '../../src/jobs/media-slots.js';
import { backends, createTestDatabase } from '../support/test-database.js';
import { until } from '../support/wait.js';

const log = pino({ level: 'silent' });
let tempDir: string;

beforeAll(async () => {
  tempDir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-media-slots-'));
});
afterAll(async () => {
  await fs.rm(tempDir, { recursive: true, force: true });
});

describe.each(backends)('team media slots (%s)', (backend) => {
  const connections: DatabaseConnection[] = [];
  let workers: Database[];
  let dispose: () => Promise<void>;

  beforeAll(async () => {
    const database = await createTestDatabase(backend, path.join(tempDir, backend));
    const first = await openDatabase(database.config);
    await migrateDatabase(first);
    connections.push(first);
    if (backend === 'postgres') {
      for (let i = 0; i < 2; i += 1) connections.push(await openDatabase(database.config));
    }
    workers = connections.map((connection) => connection.db);
    dispose = async () => {
      for (const connection of connections) await connection.close();
      await database.drop();
    };
  });
  afterAll(async () => {
    await dispose?.();
  });

  const request = (teamId: string, kind: 'ingestion' | 'clip' = 'ingestion'): MediaSlotRequest => ({
    teamId,
    videoId: randomUUID(),
    kind,
    holder: `job-${randomUUID()}`,
  });
  const slotsOf = async (teamId: string) =>
    workers[0]!.select().from(mediaSlotLeases).where(eq(mediaSlotLeases.teamId, teamId));

  it('grants a team exactly its ceiling to many workers asking at once, counting ingestions and clips together', async () => {
    const teamId = randomUUID();
    const taken = await Promise.all(
      Array.from({ length: 12 }, (_, index) =>
        takeTeamMediaSlot(
          { db: workers[index % workers.length]!, ceiling: 2, log },
          request(teamId, index % 2 === 0 ? 'ingestion' : 'clip'),
        ),
      ),
    );
    const granted = taken.filter((slot): slot is TeamMediaSlot => slot !== null);
    expect(granted).toHaveLength(2);
    expect(await slotsOf(teamId)).toHaveLength(2);

    // Another team is not held back by the first one's slots.
    const other = randomUUID();
    const otherSlot = await takeTeamMediaSlot({ db: workers[0]!, ceiling: 2, log }, request(other, 'clip'));
    expect(otherSlot).not.toBeNull();

    // A released slot is free again, for either kind.
    await granted[0]!.release();
    await granted[0]!.release();
    expect(await slotsOf(teamId)).toHaveLength(1);
    const again = await takeTeamMediaSlot({ db: workers.at(-1)!, ceiling: 2, log }, request(teamId, 'clip'));
    expect(again).not.toBeNull();
    expect(await takeTeamMediaSlot({ db: workers[0]!, ceiling: 2, log }, request(teamId))).toBeNull();
    for (const slot of [granted[1]!, again!, otherSlot!]) await slot.release();
    expect(await slotsOf(teamId)).toEqual([]);
  });

  it('frees the slot of a holder that stopped renewing once it expires, and keeps a renewed one', async () => {
    const teamId = randomUUID();
    // A holder that renews every 50 ms keeps its slot; one that never renews (a dead worker) loses it.
    const kept = await takeTeamMediaSlot(
      { db: workers[0]!, ceiling: 2, log, ttlMs: 400, renewIntervalMs: 50 },
      request(teamId),
    );
    const dead = await takeTeamMediaSlot(
      { db: workers[0]!, ceiling: 2, log, ttlMs: 400, renewIntervalMs: 60_000 },
      request(teamId),
    );
    expect([kept, dead].every((slot) => slot !== null)).toBe(true);
    expect(await takeTeamMediaSlot({ db: workers[0]!, ceiling: 2, log }, request(teamId))).toBeNull();
    // The dead holder's slot is free once its 400 ms time to live has passed: try until it is.
    const taken = await until(
      "the dead holder's slot to be taken",
      () => takeTeamMediaSlot({ db: workers.at(-1)!, ceiling: 2, log }, request(teamId)),
      (slot) => slot !== null,
      { timeoutMs: 5_000, intervalMs: 50 },
    );
    expect(await slotsOf(teamId)).toHaveLength(2);
    for (const slot of [kept!, dead!, taken!]) await slot.release();
  });

  it('takes no slot at all without a ceiling', async () => {
    const teamId = randomUUID();
    const slots = await Promise.all(
      Array.from({ length: 5 }, () => takeTeamMediaSlot({ db: workers[0]!, ceiling: 0, log }, request(teamId))),
    );
    expect(slots.every((slot) => slot !== null)).toBe(true);
    expect(await slotsOf(teamId)).toEqual([]);
  });
});
