/**
 * Deleting videos: the records (imports and parts cascade), a `video.deleted` event each, and the
 * cancellation of their queued ingestion and clip jobs, in one transaction that also rings the
 * event bell (`videos`), so every worker stops media work it runs on them at once; then their
 * stored data (storage/video-data.ts, which the copy uses too). Data that cannot be removed is logged, not fatal: the records are already gone.
 */
import type { Logger } from 'pino';
import type { Database } from '../db/database.js';
import { ringEventBell } from '../db/queries/event-bell.queries.js';
import { recordEvent } from '../db/queries/events.queries.js';
import { deleteVideos } from '../db/queries/videos.queries.js';
import type { BlobStore } from '../storage/blob-store.js';
import { deleteVideoData } from '../storage/video-data.js';

/** Cancels, in `tx`, a video's queued media jobs (the job queue's part this needs). */
export interface QueuedMediaJobs {
  cancelQueued(tx: Database, name: 'ingest-video' | 'cut-clip', videoId: string): Promise<number>;
}

/** Deletes the videos and their data; resolves with the ids that were deleted. */
export async function deleteVideosWithData(
  deps: { db: Database; store: BlobStore; queue: QueuedMediaJobs; log: Logger },
  videoIds: string[],
): Promise<string[]> {
  const deleted = await deps.db.transaction(async (tx) => {
    const rows = await deleteVideos(tx, videoIds);
    for (const row of rows) {
      await recordEvent(tx, { teamId: row.teamId, videoId: row.id, type: 'video.deleted' });
      await deps.queue.cancelQueued(tx, 'ingest-video', row.id);
      await deps.queue.cancelQueued(tx, 'cut-clip', row.id);
    }
    if (rows.length > 0) await ringEventBell(tx, 'videos');
    return rows;
  });
  for (const row of deleted) {
    try {
      await deleteVideoData(deps.store, { teamId: row.teamId, videoId: row.id, uploadState: row.uploadState });
    } catch (error) {
      deps.log.error({ err: error, videoId: row.id }, 'deleting the files of a deleted video failed');
    }
  }
  return deleted.map((row) => row.id);
}
