/**
 * Deleting a video stops the media work a worker runs on it, across processes: the deleting
 * transaction rings the event bell, and a worker's watch (its own connection and bell, as another
 * process would have on PostgreSQL) aborts the jobs of the video at once; a short poll is the
 * backstop when no ring arrives.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateDatabase, openDatabase, type DatabaseConnection } from '../../src/db/database.js';
import { listenForEvents, type BellRing, type EventBell } from '../../src/webhooks/event-bell.js';
import { ringEventBell } from '../../src/db/queries/event-bell.queries.js';
import { insertAccount } from '../../src/db/queries/tenancy.queries.js';
import { insertVideo } from '../../src/db/queries/videos.queries.js';
import { DeletedVideoWatch, VideoDeletedError } from '../../src/jobs/deleted-video-watch.js';
import type { JobName } from '../../src/jobs/catalog.js';
import { deleteVideosWithData } from '../../src/services/video-deletion.js';
import { FsBlobStore } from '../../src/storage/fs-blob-store.js';
import { backends, createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { until } from '../support/wait.js';

const log = pino({ level: 'silent' });
let tempDir: string;
beforeAll(async () => {
  tempDir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-deleted-watch-'));
});
afterAll(async () => {
  await fs.rm(tempDir, { recursive: true, force: true });
});

/** Resolves with the abort's reason and how long after `sinceMs` it came. */
function aborted(signal: AbortSignal, sinceMs: number): Promise<{ reason: unknown; afterMs: number }> {
  return new Promise((resolve) =>
    signal.addEventListener('abort', () => resolve({ reason: signal.reason, afterMs: performance.now() - sinceMs }), {
      once: true,
    }),
  );
}

describe.each(backends)('the deleted-video watch (%s)', (backend) => {
  let database: TestDatabase;
  /** The API process's connection (it deletes) and the worker's (it watches). */
  let api: DatabaseConnection;
  let worker: DatabaseConnection;
  let bell: EventBell;
  let account: { teamId: string; userId: string; projectId: string };
  const cancelled: { name: JobName; key: string }[] = [];
  const queue = {
    cancelQueued: async (_tx: unknown, name: JobName, key: string) => {
      cancelled.push({ name, key });
      return 0;
    },
  };

  beforeAll(async () => {
    database = await createTestDatabase(backend, path.join(tempDir, backend));
    api = await openDatabase(database.config);
    await migrateDatabase(api);
    // PGlite has one session: the "worker" shares it, as the single-process service does.
    worker = backend === 'postgres' ? await openDatabase(database.config) : api;
    bell = await listenForEvents(worker, () => undefined);
    account = await insertAccount(api.db, {
      email: `watch-${randomUUID()}@example.com`,
      userName: 'W',
      teamName: 'W',
      projectName: 'p',
    });
  });
  afterAll(async () => {
    await bell?.close();
    if (worker !== api) await worker?.close();
    await api?.close();
    await database?.drop();
  });

  const newVideo = async () =>
    (
      await insertVideo(api.db, {
        teamId: account.teamId,
        userId: account.userId,
        projectId: account.projectId,
        name: 'v',
        fileName: 'v.mp4',
        mimeType: 'video/mp4',
      })
    ).id;
  const store = () => new FsBlobStore(path.join(tempDir, `${backend}-store`));

  it('aborts the jobs of a video deleted by another connection as soon as the deletion commits, and only theirs', async () => {
    const rings: BellRing[] = [];
    const stopCounting = bell.onRing((ring) => rings.push(ring));
    // Polling once a minute: only the bell can be this quick.
    const watch = new DeletedVideoWatch({ db: worker.db, bell, pollIntervalMs: 60_000, log });
    watch.start();
    try {
      const [deletedId, keptId] = [await newVideo(), await newVideo()];
      const ingestion = watch.watch(deletedId);
      const clip = watch.watch(deletedId);
      const other = watch.watch(keptId);
      const deletingAtMs = performance.now();
      const stopped = Promise.all([aborted(ingestion.signal, deletingAtMs), aborted(clip.signal, deletingAtMs)]);
      const deleted = await deleteVideosWithData({ db: api.db, store: store(), queue, log }, [deletedId]);
      expect(deleted).toEqual([deletedId]);
      const [first, second] = await stopped;
      console.log(
        `[${backend}] media jobs of a deleted video aborted ${Math.round(first.afterMs)} and ${Math.round(second.afterMs)} ms after the deletion began`,
      );
      expect(first.reason).toBeInstanceOf(VideoDeletedError);
      // The bound is the behaviour under test: the bell aborts at once, the poll only within a minute.
      // 10 s is generous for a busy machine and still fails a watch that waits for its poll.
      expect(first.afterMs).toBeLessThan(10_000);
      expect(rings).toContain('videos');
      await watch.settled();
      expect(other.signal.aborted).toBe(false);
      expect(cancelled).toEqual([
        { name: 'ingest-video', key: deletedId },
        { name: 'cut-clip', key: deletedId },
      ]);
      for (const watched of [ingestion, clip, other]) watched.release();
    } finally {
      watch.stop();
      stopCounting();
    }
  });

  it('still stops the job, by its poll, when no ring arrives', async () => {
    const watch = new DeletedVideoWatch({ db: worker.db, bell: null, pollIntervalMs: 100, log });
    watch.start();
    try {
      const videoId = await newVideo();
      const watched = watch.watch(videoId);
      const stopped = aborted(watched.signal, performance.now());
      await deleteVideosWithData({ db: api.db, store: store(), queue, log }, [videoId]);
      const { reason } = await stopped;
      expect(reason).toMatchObject({ name: 'VideoDeletedError', videoId });
      watched.release();
    } finally {
      watch.stop();
    }
  });

  it('rings nothing and aborts nothing for a deletion that found no video', async () => {
    const rings: BellRing[] = [];
    const stopCounting = bell.onRing((ring) => rings.push(ring));
    try {
      expect(await deleteVideosWithData({ db: api.db, store: store(), queue, log }, [randomUUID()])).toEqual([]);
      // Rings arrive in the order their transactions committed: once a later transaction's ring is
      // here, a ring of the deletion would be too. The later one rings what no deletion rings.
      await api.db.transaction((tx) => ringEventBell(tx, 'deliveries'));
      await until('the later ring', () => rings.includes('deliveries'));
      expect(rings).toEqual(['deliveries']);
    } finally {
      stopCounting();
    }
  });
});
