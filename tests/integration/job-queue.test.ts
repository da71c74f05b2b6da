import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { migrateDatabase, openDatabase, type DatabaseConnection } from '../../src/db/database.js';
import { jobNames, type JobContext, type JobHandlers, type JobName } from '../../src/jobs/catalog.js';
import { PgBossJobQueue, type QueueOptions } from '../../src/jobs/job-queue.js';
import { backends, createTestDatabase, type Backend, type TestDatabase } from '../support/test-database.js';
import { until } from '../support/wait.js';

const log = pino({ level: 'silent' });
const queueOptions: QueueOptions = { supervise: true, superviseIntervalSeconds: 1, pollIntervalSeconds: 1 };

interface HandledJob {
  name: JobName;
  videoId: string;
  jobId: string;
  startedAtMs: number;
}

let tempDir: string;

beforeAll(async () => {
  tempDir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-job-queue-'));
});

afterAll(async () => {
  await fs.rm(tempDir, { recursive: true, force: true });
});

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  await until(what, condition, Boolean, { timeoutMs, intervalMs: 5 });
}

describe.each(backends)('PgBossJobQueue on %s', (backend: Backend) => {
  const handled: HandledJob[] = [];
  /** Handlers of a video whose id is here wait for the promise before they return. */
  const gates = new Map<string, Promise<void>>();
  const opened: { database: TestDatabase; connection: DatabaseConnection }[] = [];
  const running: PgBossJobQueue[] = [];
  let databaseCounter = 0;

  const recording = (name: JobName) => async (payload: { videoId: string }, context: JobContext) => {
    handled.push({ name, videoId: payload.videoId, jobId: context.jobId, startedAtMs: performance.now() });
    await gates.get(payload.videoId);
  };
  const handlers = Object.fromEntries(jobNames.map((name) => [name, recording(name)])) as unknown as JobHandlers;

  const handledOf = (videoId: string) => handled.filter((job) => job.videoId === videoId);

  /** A fresh, migrated database, closed and dropped after the suite. */
  async function newDatabase(): Promise<DatabaseConnection> {
    databaseCounter += 1;
    const database = await createTestDatabase(backend, path.join(tempDir, `${backend}-${databaseCounter}`));
    const connection = await openDatabase(database.config);
    opened.push({ database, connection });
    await migrateDatabase(connection);
    return connection;
  }

  async function startQueue(
    connection: DatabaseConnection,
    options: QueueOptions = queueOptions,
  ): Promise<PgBossJobQueue> {
    const queue = await PgBossJobQueue.start(connection, options, log);
    running.push(queue);
    return queue;
  }

  async function startWorker(
    connection: DatabaseConnection,
    options: QueueOptions = queueOptions,
  ): Promise<PgBossJobQueue> {
    const queue = await startQueue(connection, options);
    await queue.work(handlers, {
      concurrency: Object.fromEntries(jobNames.map((name) => [name, 2])) as Record<JobName, number>,
    });
    return queue;
  }

  /** The pg-boss state of the jobs carrying `videoId`. */
  async function jobStates(connection: DatabaseConnection, videoId: string): Promise<string[]> {
    const result = (await connection.db.execute(
      sql`select state from pgboss.job where data->>'videoId' = ${videoId} order by created_on`,
    )) as unknown as { rows: { state: string }[] };
    return result.rows.map((row) => row.state);
  }

  afterAll(async () => {
    for (const queue of running.splice(0)) await queue.stop(1_000);
    for (const { connection, database } of opened.splice(0)) {
      await connection.close();
      await database.drop();
    }
  });

  beforeEach(() => {
    handled.length = 0;
    gates.clear();
  });

  describe('with one worker on a shared database', () => {
    let connection: DatabaseConnection;
    let queue: PgBossJobQueue;

    beforeAll(async () => {
      connection = await newDatabase();
      queue = await startWorker(connection);
    });

    it('handles a job sent in a committed transaction exactly once', async () => {
      const copyId = randomUUID();
      const exhaustedId = randomUUID();
      await connection.db.transaction(async (tx) => {
        await queue.send(tx, 'copy-video', { videoId: copyId });
        await queue.send(tx, 'copy-video-exhausted', { videoId: exhaustedId });
      });
      await waitFor(() => handledOf(copyId).length > 0 && handledOf(exhaustedId).length > 0, 10_000, 'both jobs');
      // Once each job's one row is completed, nothing can hand it to a worker again.
      await until(
        'both jobs to complete',
        async () => [await jobStates(connection, copyId), await jobStates(connection, exhaustedId)],
        (states) => states.every((each) => each.join() === 'completed'),
      );
      expect(handledOf(copyId).map((job) => job.name)).toEqual(['copy-video']);
      expect(handledOf(exhaustedId).map((job) => job.name)).toEqual(['copy-video-exhausted']);
    });

    it('never handles a job sent in a transaction that rolled back', async () => {
      const videoId = randomUUID();
      await expect(
        connection.db.transaction(async (tx) => {
          await queue.send(tx, 'copy-video-exhausted', { videoId });
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      // No row: there is nothing a worker could ever take, now or later.
      expect(await jobStates(connection, videoId)).toEqual([]);

      // The worker was alive all along: a committed job is handled.
      const committedId = randomUUID();
      await connection.db.transaction((tx) => queue.send(tx, 'copy-video-exhausted', { videoId: committedId }));
      await waitFor(() => handledOf(committedId).length === 1, 5_000, 'the committed job');
      expect(handledOf(videoId)).toEqual([]);
    });

    it('keeps one of two copy-video jobs of the same video sent back to back while none runs', async () => {
      const videoId = randomUUID();
      const otherId = randomUUID();
      // One transaction, so the worker cannot start the first job before the second is sent.
      await connection.db.transaction(async (tx) => {
        await queue.send(tx, 'copy-video', { videoId });
        await queue.send(tx, 'copy-video', { videoId });
        await queue.send(tx, 'copy-video', { videoId: otherId });
      });
      await waitFor(() => handledOf(videoId).length > 0 && handledOf(otherId).length > 0, 10_000, 'the jobs');
      // One row, completed: the second send was dropped, and the kept job cannot be handed out again.
      await until(
        'the jobs to complete',
        async () => [await jobStates(connection, videoId), await jobStates(connection, otherId)],
        (states) => states.every((each) => each.join() === 'completed'),
      );
      expect(handledOf(videoId)).toHaveLength(1);
      expect(handledOf(otherId)).toHaveLength(1);
    });

    it('keeps one waiting copy-video job of a video while another of it runs', async () => {
      const videoId = randomUUID();
      let release: () => void = () => undefined;
      gates.set(
        videoId,
        new Promise<void>((resolve) => {
          release = resolve;
        }),
      );
      await connection.db.transaction((tx) => queue.send(tx, 'copy-video', { videoId }));
      await waitFor(() => handledOf(videoId).length === 1, 5_000, 'the first job to start');

      await connection.db.transaction((tx) => queue.send(tx, 'copy-video', { videoId }));
      await connection.db.transaction((tx) => queue.send(tx, 'copy-video', { videoId }));
      // A window to show an absence (the worker polls every second): a slow machine can only make it
      // miss a waiting job started too early, never fail a correct queue.
      await sleep(1_000);
      expect(handledOf(videoId)).toHaveLength(1);
      expect(await jobStates(connection, videoId)).toEqual(['active', 'created']);
      gates.delete(videoId);
      release();

      await waitFor(() => handledOf(videoId).length === 2, 5_000, 'the waiting job');
      await until(
        'both jobs to complete',
        () => jobStates(connection, videoId),
        (states) => states.join() === 'completed,completed',
      );
      expect(handledOf(videoId)).toHaveLength(2);
      expect(new Set(handledOf(videoId).map((job) => job.jobId)).size).toBe(2);
    });

    it('starts another queue on a database whose queues already exist (a restart, or a second process)', async () => {
      const sender = await startQueue(connection, { ...queueOptions, supervise: false });
      const videoId = randomUUID();
      await connection.db.transaction((tx) => sender.send(tx, 'copy-video-exhausted', { videoId }));
      await waitFor(() => handledOf(videoId).length === 1, 5_000, 'the job');
      // The job the new queue sent reached the first one's worker, once, and completed there.
      expect(handledOf(videoId)).toEqual([
        { name: 'copy-video-exhausted', videoId, jobId: expect.any(String), startedAtMs: expect.any(Number) },
      ]);
      await expect.poll(() => jobStates(connection, videoId), { timeout: 5_000 }).toEqual(['completed']);
      await sender.stop(1_000);
    });
  });

  describe('with a per-team ceiling of media jobs', () => {
    let connection: DatabaseConnection;
    let queue: PgBossJobQueue;

    beforeAll(async () => {
      connection = await newDatabase();
      queue = await startQueue(connection);
      await queue.work(handlers, {
        concurrency: Object.fromEntries(jobNames.map((name) => [name, 3])) as Record<JobName, number>,
        groupConcurrency: { 'ingest-video': 1, 'cut-clip': 1 },
      });
    });

    it("leaves a team's job past its ceiling queued while another team's job runs, and starts it when a slot frees", async () => {
      const [teamA, teamB] = [randomUUID(), randomUUID()];
      const [a1, a2, b1] = [randomUUID(), randomUUID(), randomUUID()];
      const releases: (() => void)[] = [];
      for (const videoId of [a1, a2, b1])
        gates.set(
          videoId,
          new Promise<void>((resolve) => {
            releases.push(resolve);
          }),
        );
      try {
        await connection.db.transaction((tx) => queue.send(tx, 'ingest-video', { videoId: a1 }, { groupId: teamA }));
        await waitFor(() => handledOf(a1).length === 1, 10_000, "team A's first job");
        // Team A's second job is older than team B's: without the ceiling, a free slot would be its.
        // (Claims racing for two jobs of one group at the same instant can both see room: the
        // team slot of jobs/media-slots.ts is the exact count; this is the queue's first filter.)
        await connection.db.transaction(async (tx) => {
          await queue.send(tx, 'ingest-video', { videoId: a2 }, { groupId: teamA });
          await queue.send(tx, 'ingest-video', { videoId: b1 }, { groupId: teamB });
        });
        await waitFor(() => handledOf(b1).length === 1, 10_000, "team B's job");
        // Three workers poll every second; give each a poll in which it could wrongly take A's second job.
        // (A window to show an absence: a slow machine can only make it miss a fault, never fail a
        // correct queue.)
        await sleep(2_500);
        expect(handledOf(a2)).toEqual([]);
        expect(await jobStates(connection, a2)).toEqual(['created']);
        gates.delete(a1);
        releases[0]?.();
        await waitFor(() => handledOf(a2).length === 1, 10_000, "team A's second job");
      } finally {
        for (const release of releases) release();
      }
    });

    it('does not claim a job sent to start later before its time', async () => {
      const videoId = randomUUID();
      const sentAtMs = performance.now();
      await connection.db.transaction((tx) =>
        queue.send(tx, 'ingest-video', { videoId }, { groupId: randomUUID(), startAfterSeconds: 2 }),
      );
      await waitFor(() => handledOf(videoId).length === 1, 10_000, 'the deferred job');
      expect((handledOf(videoId)[0] as HandledJob).startedAtMs - sentAtMs).toBeGreaterThanOrEqual(1_500);
    });

    it('calls a running job off and queues it again to start later: cancelled, not completed, and no retry used', async () => {
      const videoId = randomUUID();
      let release: () => void = () => undefined;
      gates.set(
        videoId,
        new Promise<void>((resolve) => {
          release = resolve;
        }),
      );
      await connection.db.transaction((tx) => queue.send(tx, 'ingest-video', { videoId }, { groupId: randomUUID() }));
      await waitFor(() => handledOf(videoId).length === 1, 10_000, 'the job to start');
      const first = handledOf(videoId)[0] as HandledJob;
      // What a handler that finds its team's slots taken does, before it returns.
      await connection.db.transaction((tx) =>
        queue.requeueLater(tx, 'ingest-video', first.jobId, { videoId }, { startAfterSeconds: 1 }),
      );
      gates.delete(videoId);
      release();
      await waitFor(() => handledOf(videoId).length === 2, 10_000, 'the job queued again');
      expect(handledOf(videoId)[1]?.jobId).not.toBe(first.jobId);
      expect((handledOf(videoId)[1] as HandledJob).startedAtMs - first.startedAtMs).toBeGreaterThanOrEqual(500);
      const states = async () => {
        const result = (await connection.db.execute(
          sql`select id, state, retry_count from pgboss.job where data->>'videoId' = ${videoId} order by created_on`,
        )) as unknown as { rows: { id: string; state: string; retry_count: number }[] };
        return result.rows;
      };
      const rows = await until(
        'the job queued again to complete',
        states,
        (each) => each.at(-1)?.state === 'completed',
      );
      expect(rows.map((row) => [row.id === first.jobId, row.state, row.retry_count])).toEqual([
        [true, 'cancelled', 0],
        [false, 'completed', 0],
      ]);
    });

    it("cancels the queued jobs of a key in the caller's transaction, and only when it commits", async () => {
      const videoId = randomUUID();
      await connection.db.transaction(async (tx) => {
        await queue.send(tx, 'ingest-video', { videoId }, { startAfterSeconds: 60 });
        await queue.send(tx, 'cut-clip', { videoId }, { startAfterSeconds: 60 });
      });
      await expect(
        connection.db.transaction(async (tx) => {
          expect(await queue.cancelQueued(tx, 'ingest-video', videoId)).toBe(1);
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      expect(await jobStates(connection, videoId)).toEqual(['created', 'created']);
      const cancelled = await connection.db.transaction(async (tx) => [
        await queue.cancelQueued(tx, 'ingest-video', videoId),
        await queue.cancelQueued(tx, 'cut-clip', videoId),
      ]);
      expect(cancelled).toEqual([1, 1]);
      expect(await jobStates(connection, videoId)).toEqual(['cancelled', 'cancelled']);
      expect(await connection.db.transaction((tx) => queue.cancelQueued(tx, 'ingest-video', videoId))).toBe(0);
      expect(handledOf(videoId)).toEqual([]);
    });
  });

  it('wakes an idle worker for a new job in well under a second', async () => {
    const connection = await newDatabase();
    // Polling every 30 s, so only LISTEN/NOTIFY can deliver a job within the bound.
    const queue = await startWorker(connection, { ...queueOptions, pollIntervalSeconds: 30 });
    const latenciesMs: number[] = [];
    let previous: string | null = null;
    for (let round = 0; round < 5; round += 1) {
      // Idle: the previous job is completed, and the worker is back to waiting for a notification.
      if (previous !== null)
        await until(
          `job ${round} to complete`,
          () => jobStates(connection, previous ?? ''),
          (states) => states.join() === 'completed',
        );
      const videoId = randomUUID();
      previous = videoId;
      const sentAtMs = performance.now();
      await connection.db.transaction((tx) => queue.send(tx, 'copy-video', { videoId }));
      await waitFor(() => handledOf(videoId).length === 1, 15_000, `job ${round + 1}`);
      latenciesMs.push(Math.round((handledOf(videoId)[0] as HandledJob).startedAtMs - sentAtMs));
    }
    console.log(`[${backend}] send -> handler start latencies (ms): ${latenciesMs.join(', ')}`);
    // The bound is the behaviour under test: a notified worker starts the job at once, a polling one
    // only at its next poll (30 s). 5 s leaves a busy machine room and still fails a worker that polls.
    for (const latencyMs of latenciesMs) expect(latencyMs).toBeLessThan(5_000);
  });

  it('stops, after which it handles nothing further', async () => {
    const connection = await newDatabase();
    const queue = await startWorker(connection);
    await expect(queue.stop(1_000)).resolves.toBeUndefined();

    const videoId = randomUUID();
    await connection.db.transaction((tx) => queue.send(tx, 'copy-video-exhausted', { videoId }));
    expect(await jobStates(connection, videoId)).toEqual(['created']);
    // A live worker polling every second would have taken it by now. (A window to show an absence: a
    // slow machine can only make it miss a fault, never fail a correct queue.)
    await sleep(1_500);
    expect(handledOf(videoId)).toEqual([]);
    expect(await jobStates(connection, videoId)).toEqual(['created']);
  });
});
