/**
 * Importing a master video from an HTTPS URL: validate and probe the source before anything is
 * created, then create the video, its import and the copy job in one transaction. Also restart and
 * abandon of failed imports.
 */
import type { Logger } from 'pino';
import { probeSource, type SourceInfo } from '../copy/probe.js';
import { AppError } from '../domain/errors.js';
import { choosePartSizeBytes, countParts } from '../domain/part-plan.js';
import { chooseFileName, describeFileType, httpDateToIso, isStrongEtag } from '../domain/source-file.js';
import type { Database } from '../db/database.js';
import { insertImport, listRecordedParts, markImportRestarted, resetImportForNewSource } from '../db/queries/imports.queries.js';
import { findDefaultProject, findProject } from '../db/queries/projects.queries.js';
import type { TeamRow } from '../db/queries/tenancy.queries.js';
import { findVideoView, insertVideo, type VideoView } from '../db/queries/videos.queries.js';
import type { JobQueue } from '../jobs/job-queue.js';
import type { OutboundClient } from '../net/outbound-client.js';
import { videoSourceKey } from '../storage/blob-keys.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { Principal } from './tenancy.service.js';
import { deleteVideosWithData } from './video-deletion.js';

/** A video imported from a URL, with its import. */
export type ImportView = VideoView & { videoImport: NonNullable<VideoView['videoImport']> };

export interface NewHttpsImport {
  name: string;
  description?: string | undefined;
  projectId?: string | undefined;
  fileName?: string | undefined;
  url: string;
  fullIngestion: boolean;
  crc32c?: number | undefined;
  maxConcurrentConnections: number;
}

export interface VideoImportDeps {
  db: Database;
  queue: JobQueue;
  client: OutboundClient;
  store: BlobStore;
  minPartSizeBytes: number;
  log: Logger;
  now?: () => Date;
}

export class VideoImportService {
  private readonly now: () => Date;

  constructor(private readonly deps: VideoImportDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  async createHttpsImport(principal: Principal, team: TeamRow, request: NewHttpsImport): Promise<ImportView> {
    const { db } = this.deps;
    const project = request.projectId === undefined ? await findDefaultProject(db, team.id) : await findProject(db, team.id, request.projectId);
    if (project === null) {
      throw new AppError('RESOURCE_NOT_FOUND', request.projectId === undefined ? `team ${team.id} has no default project` : `project ${request.projectId} was not found`, { projectId: request.projectId ?? null });
    }
    const source = await probeSource(this.deps.client, request.url).catch((error: unknown) => {
      throw withUrlField(error, request.url);
    });
    const fileName = chooseFileName({ fileName: request.fileName, url: new URL(request.url), name: request.name });
    const fileType = describeFileType(fileName, source.contentType);
    const videoId = await db.transaction(async (tx) => {
      const video = await insertVideo(tx, {
        teamId: team.id,
        userId: principal.userId,
        projectId: project.id,
        name: request.name,
        description: request.description ?? null,
        fileName,
        fileSizeBytes: source.totalBytes,
        mimeType: fileType.mimeType,
        containerName: fileType.containerName,
        fileLastModified: toDate(httpDateToIso(source.lastModified)),
      });
      await insertImport(tx, {
        videoId: video.id,
        sourceUrl: request.url,
        ...this.sourceColumns(source),
        partSizeBytes: this.partSizeFor(source.totalBytes),
        expectedCrc32c: request.crc32c ?? null,
        maxConnections: request.maxConcurrentConnections,
        fullIngestion: request.fullIngestion,
        status: 'INITIAL',
      });
      await this.deps.queue.send(tx, 'copy-video', { videoId: video.id });
      return video.id;
    });
    this.deps.log.info({ videoId, totalBytes: source.totalBytes, host: new URL(source.fetchUrl).host }, 'import created');
    return this.requireImportView(team.id, videoId);
  }

  /** Resumes a FAILED import from its recorded parts; the source is checked again first. */
  async restart(team: TeamRow, videoId: string, options: { skipChecksumValidation: boolean }): Promise<ImportView> {
    const { db } = this.deps;
    const view = await this.requireImportView(team.id, videoId);
    const current = view.videoImport;
    if (current.status !== 'FAILED') {
      throw new AppError('VIDEO_IN_OPERATION_NOT_FAILED', `the import of video ${videoId} is ${current.status}; only a FAILED import can be restarted`, { uploadStatus: current.status });
    }
    if (current.errorCode === 'CHECKSUM_MISMATCH' && !options.skipChecksumValidation) {
      throw new AppError('VIDEO_IN_RESTART_CHECKSUM_MISMATCH', 'the copy failed its CRC32C check; restart with skipChecksumValidation=true to accept the copied bytes, or abandon the import and import the file again', { expectedCrc32c: current.expectedCrc32c });
    }
    const recorded = await listRecordedParts(db, videoId);
    const isComplete = recorded.length === countParts(current.totalBytes, current.partSizeBytes);
    // A complete copy needs no source any more (e.g. a checksum mismatch accepted with skip).
    const source = isComplete ? null : await probeSource(this.deps.client, current.sourceUrl);
    const changed = source !== null && sourceChanged(current, source);
    if (changed) await this.deps.store.abortUpload(videoSourceKey(team.id, videoId), current.uploadState ?? null);
    await db.transaction(async (tx) => {
      const restarted = await markImportRestarted(tx, videoId, {
        ...(source === null ? { fetchUrl: current.fetchUrl, pinnedAddresses: current.pinnedAddresses, etag: current.etag, lastModified: current.lastModified } : this.sourceColumns(source)),
        skipChecksumValidation: options.skipChecksumValidation,
        now: this.now(),
      });
      if (!restarted) throw new AppError('VIDEO_IN_OPERATION_NOT_FAILED', `the import of video ${videoId} is no longer FAILED`);
      // The file changed since the parts were copied: they are worthless, start over with the new file.
      if (changed && source !== null) await resetImportForNewSource(tx, videoId, { totalBytes: source.totalBytes, partSizeBytes: this.partSizeFor(source.totalBytes) });
      await this.deps.queue.send(tx, 'copy-video', { videoId });
    });
    this.deps.log.info({ videoId, sourceChanged: changed, recordedParts: changed ? 0 : recorded.length }, 'import restarted');
    return this.requireImportView(team.id, videoId);
  }

  /** Deletes a FAILED import with its video record and its data. */
  async abandon(team: TeamRow, videoId: string): Promise<void> {
    const view = await this.requireImportView(team.id, videoId);
    if (view.videoImport.status !== 'FAILED') {
      throw new AppError('VIDEO_IN_OPERATION_NOT_FAILED', `the import of video ${videoId} is ${view.videoImport.status}; only a FAILED import can be abandoned`, { uploadStatus: view.videoImport.status });
    }
    await deleteVideosWithData(this.deps, [videoId]);
  }

  async requireImportView(teamId: string, videoId: string): Promise<ImportView> {
    const view = await findVideoView(this.deps.db, teamId, videoId);
    if (view === null) throw new AppError('RESOURCE_NOT_FOUND', `video ${videoId} was not found`, { videoId });
    if (view.videoImport === null) throw new AppError('RESOURCE_NOT_FOUND', `video ${videoId} was not imported from a URL`, { videoId });
    return { ...view, videoImport: view.videoImport };
  }

  private sourceColumns(source: SourceInfo) {
    return { fetchUrl: source.fetchUrl, pinnedAddresses: source.addresses, totalBytes: source.totalBytes, etag: source.etag, lastModified: source.lastModified };
  }

  private partSizeFor(totalBytes: number): number {
    return choosePartSizeBytes(totalBytes, Math.max(this.deps.minPartSizeBytes, this.deps.store.capabilities.minPartSizeBytes));
  }

}

/** Whether the file behind the URL is not the one the recorded parts came from. */
function sourceChanged(current: { totalBytes: number; etag: string | null; lastModified: string | null }, source: SourceInfo): boolean {
  if (source.totalBytes !== current.totalBytes) return true;
  if (isStrongEtag(current.etag) || isStrongEtag(source.etag)) return current.etag !== source.etag;
  return current.lastModified !== source.lastModified;
}

/** A refused URL also names the `url` field, as validation errors do. */
function withUrlField(error: unknown, url: string): unknown {
  if (!(error instanceof AppError) || error.code !== 'INVALID_HTTPS_URL' || error.validationErrors.length > 0) return error;
  return new AppError(error.code, error.message, error.details, { cause: error.cause, validationErrors: [{ field: 'url', value: url, message: error.message }] });
}

function toDate(iso: string | null): Date | null {
  return iso === null ? null : new Date(iso);
}
