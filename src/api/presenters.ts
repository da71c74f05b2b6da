/**
 * Database rows to wire objects. Ingestion is not part of this service yet, so every video shows
 * ingestion INITIAL with nothing available; the shape is the contract's.
 */
import type { z } from 'zod';
import type { ProjectRow } from '../db/queries/projects.queries.js';
import type { TeamRow, UserRow } from '../db/queries/tenancy.queries.js';
import type { ImportRow, VideoRow, VideoView } from '../db/queries/videos.queries.js';
import type { account, project, team, video, videoFile, videoIngestion, videoInStatus, videoUpload } from './schemas.js';

const iso = (date: Date): string => date.toISOString();

function presentFile(row: VideoRow): z.input<typeof videoFile> {
  return {
    name: row.fileName,
    size: row.fileSizeBytes,
    type: row.mimeType,
    containerName: row.containerName,
    lastModified: row.fileLastModified ? iso(row.fileLastModified) : null,
  };
}

function presentUpload(row: VideoRow, videoImport: ImportRow): z.input<typeof videoUpload> {
  return {
    file: presentFile(row),
    uploadState: {
      updatedAt: iso(videoImport.updatedAt),
      uploadStatus: videoImport.status,
      progressPercentage: videoImport.progressPercentage,
      ...(videoImport.status === 'FAILED'
        ? { error: { code: videoImport.errorCode ?? 'INTERNAL_SERVER_ERROR', message: videoImport.errorMessage ?? '', details: videoImport.errorDetails ?? {} } }
        : {}),
    },
  };
}

function presentIngestion(row: VideoRow): z.input<typeof videoIngestion> {
  return {
    ingestionState: {
      updatedAt: iso(row.createdAt),
      etaSeconds: null,
      ingestionStatus: 'INITIAL',
      progressPercentage: 0,
      webVideoAvailable: false,
      thumbnailsAvailable: false,
      fullFramesAvailable: false,
      videoMetadataAvailable: false,
    },
    metadata: null,
    qualityAssessment: null,
  };
}

export function presentVideoInStatus(view: VideoView & { videoImport: ImportRow }): z.input<typeof videoInStatus> {
  return { videoId: view.video.id, upload: presentUpload(view.video, view.videoImport), ingestion: presentIngestion(view.video) };
}

export function presentVideo(view: VideoView): z.input<typeof video> {
  const row = view.video;
  return {
    id: row.id,
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
    userId: row.userId,
    teamId: row.teamId,
    projectId: row.projectId,
    name: row.name,
    description: row.description,
    upload: view.videoImport ? presentUpload(row, view.videoImport) : null,
    ingestion: presentIngestion(row),
    processing: null,
    masterVideo: view.master ? { id: view.master.id, createdAt: iso(view.master.createdAt), updatedAt: iso(view.master.updatedAt), videoFile: presentFile(view.master) } : null,
    flags: {
      isMaster: row.masterVideoId === null,
      isProcessing: false,
      isProcessed: false,
      isIngesting: false,
      isIngested: false,
      isClip: row.isClip,
      isSample: row.isSample,
    },
    clipId: null,
  };
}

export function presentTeam(row: TeamRow): z.input<typeof team> {
  return { id: row.id, createdAt: iso(row.createdAt), updatedAt: iso(row.updatedAt), name: row.name, apiEnabled: row.apiEnabled };
}

export function presentProject(row: ProjectRow): z.input<typeof project> {
  return { id: row.id, createdAt: iso(row.createdAt), updatedAt: iso(row.updatedAt), name: row.name, isSample: row.isSample, teamId: row.teamId };
}

export function presentAccount(user: UserRow, defaultTeam: TeamRow | null): z.input<typeof account> {
  return {
    user: { id: user.id, createdAt: iso(user.createdAt), updatedAt: iso(user.updatedAt), email: user.email, name: user.name, hasConfirmedEmail: user.hasConfirmedEmail },
    defaultTeam: defaultTeam ? presentTeam(defaultTeam) : null,
  };
}
