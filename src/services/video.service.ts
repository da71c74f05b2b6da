/**
 * Reading, renaming and deleting videos, and issuing download links for their files.
 */
import type { Logger } from 'pino';
import { AppError } from '../domain/errors.js';
import { fileExtension } from '../domain/source-file.js';
import type { Database } from '../db/database.js';
import type { Page, PageRequest } from '../domain/paging.js';
import {
  findVideoView,
  listDerivedVideoIds,
  listVideoViews,
  updateVideoText,
  type ClipProcessingRow,
  type ImportRow,
  type IngestionRow,
  type VideoFilter,
  type VideoListView,
  type VideoRow,
  type VideoView,
} from '../db/queries/videos.queries.js';
import type { BlobStore } from '../storage/blob-store.js';
import { toBlobKey } from '../storage/blob-keys.js';
import { storePresignedUrl, type DownloadLinkSigner } from '../storage/download-links.js';
import { ownerTeam, teamIdsOf, type TeamScope } from './tenancy.service.js';
import { deleteVideosWithData, type QueuedMediaJobs } from './video-deletion.js';

/** What the video use cases return: a video with its import, ingestion, processing and master. */
export type { ClipProcessingRow, ImportRow, IngestionRow, VideoListView, VideoRow, VideoView };

export interface DownloadLink {
  videoId: string;
  presignedUrl: string;
  expiresAt: Date;
  fileSize: number;
  mimeType: string;
  fileExtension: string;
  suggestedFileName: string;
  crc32cChecksum: number;
}

export interface VideoServiceDeps {
  db: Database;
  store: BlobStore;
  /** Deleting a video cancels its queued ingestion and clip jobs. */
  queue: QueuedMediaJobs;
  signer: DownloadLinkSigner;
  log: Logger;
  now?: () => Date;
}

export class VideoService {
  private readonly now: () => Date;

  constructor(private readonly deps: VideoServiceDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  /** A video of a team in `scope`; 404 elsewhere, 403 in a team of the caller's without API access. */
  async get(scope: TeamScope, videoId: string): Promise<VideoView> {
    const view = await findVideoView(this.deps.db, teamIdsOf(scope), videoId);
    if (view === null) throw new AppError('RESOURCE_NOT_FOUND', `video ${videoId} was not found`, { videoId });
    ownerTeam(scope, view.video.teamId);
    return view;
  }

  list(filter: VideoFilter, page: PageRequest): Promise<Page<VideoListView>> {
    return listVideoViews(this.deps.db, filter, page);
  }

  async listDerived(scope: TeamScope, videoId: string, page: PageRequest): Promise<Page<VideoListView>> {
    const { video } = await this.get(scope, videoId);
    return listVideoViews(this.deps.db, { teamId: video.teamId, masterVideoId: videoId }, page);
  }

  async update(
    scope: TeamScope,
    videoId: string,
    changes: { name?: string | undefined; description?: string | undefined },
  ): Promise<VideoView> {
    const current = await this.get(scope, videoId);
    // An empty PATCH changes nothing, not even updatedAt.
    if (changes.name === undefined && changes.description === undefined) return current;
    if (!(await updateVideoText(this.deps.db, current.video.teamId, videoId, changes))) {
      throw new AppError('RESOURCE_NOT_FOUND', `video ${videoId} was not found`, { videoId });
    }
    return this.get(scope, videoId);
  }

  /**
   * Deletes a video and everything derived from it, with their files. When the caller lists the
   * derived ids it expects to go, a different list is a conflict (something was derived meanwhile).
   */
  async delete(scope: TeamScope, videoId: string, expectedDerivedIds: string[] | undefined): Promise<string[]> {
    await this.get(scope, videoId);
    const derivedIds = await listDerivedVideoIds(this.deps.db, videoId);
    if (expectedDerivedIds !== undefined && !sameIds(expectedDerivedIds, derivedIds)) {
      throw new AppError(
        'CONFLICTING_DERIVED_VIDEO_IDS',
        `video ${videoId} has derived videos [${derivedIds.join(', ')}], not the [${expectedDerivedIds.join(', ')}] given: list exactly the derived videos to delete`,
        { derivedVideoIds: derivedIds },
      );
    }
    return deleteVideosWithData(this.deps, [...derivedIds, videoId]);
  }

  /** A pre-signed, expiring download link for the video's stored file (the store's own URL when it signs them, as S3 does). */
  async createDownloadLink(
    scope: TeamScope,
    videoId: string,
    options: { durationMinutes: number; baseUrl: string },
  ): Promise<DownloadLink> {
    const { video } = await this.get(scope, videoId);
    const file = requireStoredFile(video);
    const signedAt = this.now();
    const expiresAt = new Date(signedAt.getTime() + options.durationMinutes * 60_000);
    const storeUrl = await storePresignedUrl(this.deps.store, toBlobKey(file.storageKey), {
      fileName: video.fileName,
      mimeType: video.mimeType,
      signedAt,
      expiresAt,
    });
    return {
      videoId,
      presignedUrl: storeUrl ?? `${options.baseUrl}${this.deps.signer.sign(videoId, video.fileName, expiresAt)}`,
      expiresAt,
      fileSize: file.sizeBytes,
      mimeType: video.mimeType,
      fileExtension: fileExtension(video.fileName),
      suggestedFileName: video.fileName,
      crc32cChecksum: file.crc32c,
    };
  }
}

export function requireStoredFile(video: VideoRow): { storageKey: string; sizeBytes: number; crc32c: number } {
  if (video.storageKey === null || video.fileSizeBytes === null || video.crc32c === null) {
    throw new AppError('CONFLICT', `the file of video ${video.id} is not stored yet: wait until its upload is DONE`, {
      videoId: video.id,
    });
  }
  return { storageKey: video.storageKey, sizeBytes: video.fileSizeBytes, crc32c: video.crc32c };
}

function sameIds(a: string[], b: string[]): boolean {
  const left = new Set(a.map((id) => id.toLowerCase()));
  return left.size === b.length && b.every((id) => left.has(id));
}
