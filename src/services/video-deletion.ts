/**
 * Deleting videos: the records (imports and parts cascade) and a `video.deleted` event each, in
 * one transaction, then their stored data. Data that cannot be removed is logged, not fatal: the
 * records are already gone.
 */
import type { Logger } from 'pino';
import type { Database } from '../db/database.js';
import { recordEvent } from '../db/queries/events.queries.js';
import { deleteVideos } from '../db/queries/videos.queries.js';
import { videoPrefix, videoSourceKey } from '../storage/blob-keys.js';
import type { BlobStore, UploadState } from '../storage/blob-store.js';

/** Removes everything stored for a video, including an unfinished upload. Idempotent. */
export async function deleteVideoData(store: BlobStore, video: { teamId: string; videoId: string; uploadState: UploadState | null }): Promise<void> {
  await store.abortUpload(videoSourceKey(video.teamId, video.videoId), video.uploadState);
  await store.deletePrefix(videoPrefix(video.teamId, video.videoId));
}

/** Deletes the videos and their data; resolves with the ids that were deleted. */
export async function deleteVideosWithData(deps: { db: Database; store: BlobStore; log: Logger }, videoIds: string[]): Promise<string[]> {
  const deleted = await deps.db.transaction(async (tx) => {
    const rows = await deleteVideos(tx, videoIds);
    for (const row of rows) await recordEvent(tx, { teamId: row.teamId, videoId: row.id, type: 'video.deleted' });
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
