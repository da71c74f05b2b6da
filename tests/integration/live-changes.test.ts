/**
 * The change log of the live event stream (drizzle/0008_live_changes.sql): the triggers record
 * what a stream shows at commit, never for a rollback, ring `reelin_live` with the team's id, and
 * number changes in commit order (on PostgreSQL, where transactions overlap); pruning keeps a mark.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { asc, eq, sql } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateDatabase, openDatabase, type DatabaseConnection } from '../../src/db/database.js';
import {
  LIVE_CHANNEL,
  listLiveChanges,
  pruneLiveChanges,
  readLiveHorizon,
} from '../../src/db/queries/live-changes.queries.js';
import { insertAccount } from '../../src/db/queries/tenancy.queries.js';
import { insertVideo } from '../../src/db/queries/videos.queries.js';
import { liveChanges, videos } from '../../src/db/schema.js';
import { listenOnChannel } from '../../src/webhooks/event-bell.js';
import { backends, createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { until } from '../support/wait.js';

let tempDir: string;
beforeAll(async () => {
  tempDir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-live-changes-'));
});
afterAll(async () => {
  await fs.rm(tempDir, { recursive: true, force: true });
});

describe.each(backends)('the live change log (%s)', (backend) => {
  let database: TestDatabase;
  let connection: DatabaseConnection;
  let account: { userId: string; teamId: string; projectId: string };

  beforeAll(async () => {
    database = await createTestDatabase(backend, path.join(tempDir, backend));
    connection = await openDatabase(database.config);
    await migrateDatabase(connection);
    account = await insertAccount(connection.db, {
      email: `live-${randomUUID()}@example.com`,
      userName: 'Live',
      teamName: 'Live',
      projectName: 'p',
    });
  });
  afterAll(async () => {
    await connection?.close();
    await database?.drop();
  });

  const newVideo = (name: string) =>
    connection.db.transaction((tx) =>
      insertVideo(tx, { ...account, name, fileName: `${name}.mp4`, mimeType: 'video/mp4' }),
    );
  const rename = (id: string, name: string) => connection.db.update(videos).set({ name }).where(eq(videos.id, id));
  const changesAfter = async (seq: number) =>
    listLiveChanges(connection.db, { teamId: account.teamId, afterSeq: seq, limit: 100 });

  it('records creation, change and deletion at commit, and nothing for a rollback', async () => {
    const { latestSeq } = await readLiveHorizon(connection.db);
    const video = await newVideo('logged');
    await rename(video.id, 'renamed');
    await connection.db
      .transaction(async (tx) => {
        await tx.update(videos).set({ name: 'never' }).where(eq(videos.id, video.id));
        throw new Error('roll back');
      })
      .catch(() => undefined);
    await connection.db.delete(videos).where(eq(videos.id, video.id));
    const rows = await changesAfter(latestSeq);
    expect(rows.map((row) => [row.kind, row.videoId])).toEqual([
      ['video', video.id],
      ['video', video.id],
      ['video.deleted', video.id],
    ]);
    expect(rows.map((row) => row.seq)).toEqual([...rows.map((row) => row.seq)].sort((a, b) => a - b));
    expect((await readLiveHorizon(connection.db)).latestSeq).toBe(rows.at(-1)?.seq);
  });

  it("notifies reelin_live with the team's id when a change commits", async () => {
    const heard: string[] = [];
    const stop = await listenOnChannel(
      connection,
      LIVE_CHANNEL,
      (payload) => heard.push(payload),
      () => undefined,
    );
    try {
      await newVideo('rung');
      await until('the notification', () => heard.includes(account.teamId));
    } finally {
      await stop();
    }
  });

  it('prunes changes older than a date and remembers how far', async () => {
    await newVideo('old');
    const { latestSeq } = await readLiveHorizon(connection.db);
    const pruned = await pruneLiveChanges(connection.db, new Date(Date.now() + 60_000));
    expect(pruned).toBeGreaterThan(0);
    expect(await readLiveHorizon(connection.db)).toEqual({ latestSeq, prunedThroughSeq: latestSeq });
    expect(await connection.db.select().from(liveChanges)).toEqual([]);
    expect(await pruneLiveChanges(connection.db, new Date())).toBe(0);
  });

  it.runIf(backend === 'postgres')('numbers changes in the order their transactions commit', async () => {
    const first = await newVideo('first');
    const second = await newVideo('second');
    const { latestSeq } = await readLiveHorizon(connection.db);
    const url = (database.config as { url: string }).url;
    const early = new pg.Client({ connectionString: url });
    await early.connect();
    try {
      // `early` writes first but commits last: its change must be numbered after the other one.
      await early.query('begin');
      await early.query('update videos set name = $1 where id = $2', ['early', first.id]);
      await rename(second.id, 'late');
      await early.query('commit');
    } finally {
      await early.end();
    }
    const rows = await connection.db
      .select({ videoId: liveChanges.videoId })
      .from(liveChanges)
      .where(sql`${liveChanges.seq} > ${latestSeq}`)
      .orderBy(asc(liveChanges.seq));
    expect(rows.map((row) => row.videoId)).toEqual([second.id, first.id]);
  });
});
