/**
 * Service views to wire objects, in the contract's shapes. A video without an ingestion yet (its
 * copy is still running) shows ingestion INITIAL with nothing available.
 */
import type { z } from 'zod';
import { copyFigures } from '../domain/copy-figures.js';
import { buildPayload } from '../domain/webhooks.js';
import type { ArtifactLink } from '../services/artifact.service.js';
import type { ProjectRow } from '../services/project.service.js';
import type { AccountView, TeamRow } from '../services/tenancy.service.js';
import type { ImportView } from '../services/video-import.service.js';
import type { DownloadLink, VideoListView, VideoRow } from '../services/video.service.js';
import type { DeliveryView, SigningKeyRow, WebhookRow } from '../services/webhook.service.js';
import type {
  account,
  project,
  team,
  video,
  videoFile,
  videoIngestion,
  videoInStatus,
  videoMetadata,
  videoProcessing,
  videoUpload,
  qualityAssessment,
  videoArtifact,
  videoDownloadLink,
  webhook,
  webhookEvent,
  webhookPublicKey,
} from './schemas.js';

const iso = (date: Date): string => date.toISOString();
const isoOrNull = (date: Date | null): string | null => (date === null ? null : iso(date));

type FileRow = Pick<VideoRow, 'fileName' | 'fileSizeBytes' | 'mimeType' | 'containerName' | 'fileLastModified'>;
type StateRow = NonNullable<VideoListView['videoImport']>;

function presentFile(row: FileRow): z.input<typeof videoFile> {
  return {
    name: row.fileName,
    size: row.fileSizeBytes,
    type: row.mimeType,
    containerName: row.containerName,
    lastModified: row.fileLastModified ? iso(row.fileLastModified) : null,
  };
}

function presentUpload(row: FileRow, videoImport: StateRow): z.input<typeof videoUpload> {
  return {
    file: presentFile(row),
    uploadState: {
      updatedAt: iso(videoImport.updatedAt),
      uploadStatus: videoImport.status,
      progressPercentage: videoImport.progressPercentage,
      ...(videoImport.status === 'FAILED' ? { error: presentError(videoImport) } : {}),
      ...copyFigures(videoImport),
    },
  };
}

function presentError(row: {
  errorCode: string | null;
  errorMessage: string | null;
  errorDetails: Record<string, unknown> | null;
}) {
  return {
    code: row.errorCode ?? 'INTERNAL_SERVER_ERROR',
    message: row.errorMessage ?? '',
    details: row.errorDetails ?? {},
  };
}

function presentIngestion(
  row: Pick<VideoRow, 'createdAt'>,
  ingestion: VideoListView['ingestion'],
): z.input<typeof videoIngestion> {
  if (ingestion === null) {
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
  return {
    ingestionState: {
      updatedAt: iso(ingestion.updatedAt),
      etaSeconds: ingestion.etaSeconds,
      ingestionStatus: ingestion.status,
      progressPercentage: ingestion.progressPercentage,
      webVideoAvailable: ingestion.webVideoAvailable,
      thumbnailsAvailable: ingestion.thumbnailsAvailable,
      fullFramesAvailable: ingestion.fullFramesAvailable,
      videoMetadataAvailable: ingestion.videoMetadataAvailable,
      ...(ingestion.status === 'FAILED' ? { error: presentError(ingestion) } : {}),
      ...(ingestion.unavailableFeatures.length > 0 ? { unavailableFeatures: ingestion.unavailableFeatures } : {}),
    },
    // Stored as the media layer produced them; the response schema checks their shape.
    metadata: ingestion.metadata as z.input<typeof videoMetadata> | null,
    qualityAssessment: ingestion.qualityAssessment as z.input<typeof qualityAssessment> | null,
  };
}

function presentProcessing(processing: NonNullable<VideoListView['processing']>): z.input<typeof videoProcessing> {
  return {
    processingState: {
      updatedAt: iso(processing.updatedAt),
      etaSeconds: processing.etaSeconds,
      processingStatus: processing.status,
      progressPercentage: processing.progressPercentage,
      ...(processing.status === 'FAILED' ? { error: presentError(processing) } : {}),
    },
    sourceVideo: {
      videoId: processing.sourceVideoId,
      startPositionMilliseconds: processing.startPositionMillis,
      endPositionMilliseconds: processing.endPositionMillis,
    },
  };
}

export function presentVideoInStatus(view: ImportView): z.input<typeof videoInStatus> {
  return {
    videoId: view.video.id,
    upload: presentUpload(view.video, view.videoImport),
    ingestion: presentIngestion(view.video, view.ingestion),
  };
}

/** A video's wire form, from a whole view (single reads) or a page's narrower one. */
export function presentVideo(view: VideoListView): z.input<typeof video> {
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
    ingestion: presentIngestion(row, view.ingestion),
    processing: view.processing ? presentProcessing(view.processing) : null,
    masterVideo: view.master
      ? {
          id: view.master.id,
          createdAt: iso(view.master.createdAt),
          updatedAt: iso(view.master.updatedAt),
          videoFile: presentFile(view.master),
        }
      : null,
    flags: {
      isMaster: row.masterVideoId === null,
      isProcessing: view.processing?.status === 'INITIAL' || view.processing?.status === 'IN_PROGRESS',
      isProcessed: view.processing?.status === 'DONE',
      isIngesting: view.ingestion?.status === 'INITIAL' || view.ingestion?.status === 'IN_PROGRESS',
      isIngested: view.ingestion?.status === 'DONE',
      isClip: row.isClip,
      isSample: row.isSample,
    },
    clipId: view.freeClipId,
  };
}

export function presentTeam(row: TeamRow): z.input<typeof team> {
  return {
    id: row.id,
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
    name: row.name,
    apiEnabled: row.apiEnabled,
    freeClipEnabled: row.freeClipEnabled,
  };
}

export function presentProject(row: ProjectRow): z.input<typeof project> {
  return {
    id: row.id,
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
    name: row.name,
    isSample: row.isSample,
    teamId: row.teamId,
  };
}

export function presentAccount({ user, defaultTeam }: AccountView): z.input<typeof account> {
  return {
    user: {
      id: user.id,
      createdAt: iso(user.createdAt),
      updatedAt: iso(user.updatedAt),
      email: user.email,
      name: user.name,
      hasConfirmedEmail: user.hasConfirmedEmail,
    },
    defaultTeam: defaultTeam ? presentTeam(defaultTeam) : null,
  };
}

export function presentDownloadLink(link: DownloadLink): z.input<typeof videoDownloadLink> {
  return { ...link, expiresAt: iso(link.expiresAt) };
}

export function presentArtifactLink(link: ArtifactLink): z.input<typeof videoArtifact> {
  return { ...link, expiresAt: iso(link.expiresAt) };
}

export function presentWebhook(row: WebhookRow): z.input<typeof webhook> {
  return {
    id: row.id,
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
    teamId: row.teamId,
    name: row.name,
    description: row.description,
    url: row.url,
    rateLimitPerSecond: row.rateLimitPerSecond,
    maxTotalRetryDelayMinutes: row.maxTotalRetryDelayMinutes,
    eventTypes: row.eventTypes,
    active: row.active,
    hasSecret: row.sealedSecret !== null,
  };
}

export function presentWebhookEvent(view: DeliveryView): z.input<typeof webhookEvent> {
  const { delivery } = view;
  return {
    id: delivery.id,
    createdAt: iso(delivery.createdAt),
    updatedAt: iso(delivery.updatedAt),
    teamId: delivery.teamId,
    payload: buildPayload(delivery, Math.max(1, delivery.attemptCount)),
    nextAttemptEarliestAt: delivery.status === 'PENDING' ? isoOrNull(delivery.nextAttemptAt) : null,
    successful: delivery.status === 'SUCCEEDED',
    responses: view.attempts.map((attempt) => ({
      requestedAt: iso(attempt.requestedAt),
      responseTimeMillis: attempt.responseTimeMillis,
      statusCode: attempt.statusCode,
      responseBody: attempt.responseBody,
      errorCode: attempt.errorCode,
      errorMessage: attempt.errorMessage,
      responseRetryAt: isoOrNull(attempt.responseRetryAt),
      responseHeaders: attempt.responseHeaders,
    })),
  };
}

export function presentWebhookPublicKey(row: SigningKeyRow): z.input<typeof webhookPublicKey> {
  return {
    id: row.id,
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
    algorithm: 'EC',
    publicKey: row.publicKey,
    expiresAt: isoOrNull(row.expiresAt),
  };
}
