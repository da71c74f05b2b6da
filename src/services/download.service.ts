/**
 * The files behind pre-signed download links: a video's stored file and the artifacts ingestion
 * made. A valid signature is the credential, so files are found by their ids alone, with no team.
 */
import { AppError } from '../domain/errors.js';
import type { Database } from '../db/database.js';
import { findArtifact } from '../db/queries/ingestion.queries.js';
import { findVideoById } from '../db/queries/videos.queries.js';
import { requireStoredFile } from './video.service.js';

/** A video's stored file. */
export interface VideoFileView {
  storageKey: string;
  sizeBytes: number;
  crc32c: number;
  mimeType: string;
  fileName: string;
  createdAt: Date;
}

/** A stored artifact (thumbnail, poster, full frame or web video). */
export interface ArtifactFileView {
  id: string;
  storageKey: string;
  sizeBytes: number;
  mimeType: string;
  createdAt: Date;
}

export class DownloadService {
  constructor(private readonly db: Database) {}

  /** 404 RESOURCE_NOT_FOUND for a video that is gone; 409 CONFLICT while its file is not stored yet. */
  async videoFile(videoId: string): Promise<VideoFileView> {
    const video = await findVideoById(this.db, videoId);
    if (video === null) throw new AppError('RESOURCE_NOT_FOUND', `video ${videoId} was not found`);
    const file = requireStoredFile(video);
    return { ...file, mimeType: video.mimeType, fileName: video.fileName, createdAt: video.createdAt };
  }

  /** 404 RESOURCE_NOT_FOUND for an artifact that is gone, e.g. replaced by a later ingestion. */
  async artifactFile(videoId: string, artifactId: string): Promise<ArtifactFileView> {
    const artifact = await findArtifact(this.db, videoId, artifactId);
    if (artifact === null) {
      throw new AppError(
        'RESOURCE_NOT_FOUND',
        `artifact ${artifactId} of video ${videoId} was not found (ingestion may have replaced it): request a new link`,
      );
    }
    const { id, storageKey, sizeBytes, mimeType, createdAt } = artifact;
    return { id, storageKey, sizeBytes, mimeType, createdAt };
  }
}
