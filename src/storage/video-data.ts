/** The stored data of a video, removed as one: its source file (or unfinished upload) and everything derived from it. */
import { videoPrefix, videoSourceKey } from './blob-keys.js';
import type { BlobStore, UploadState } from './blob-store.js';

/** Removes everything stored for a video, including an unfinished upload. Idempotent. */
export async function deleteVideoData(
  store: BlobStore,
  video: { teamId: string; videoId: string; uploadState: UploadState | null },
): Promise<void> {
  await store.abortUpload(videoSourceKey(video.teamId, video.videoId), video.uploadState);
  await store.deletePrefix(videoPrefix(video.teamId, video.videoId));
}
