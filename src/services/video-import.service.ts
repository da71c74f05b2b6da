/**
 * Importing a master video from an HTTPS URL or an S3 object: validate and probe the source before
 * anything is created, then create the video, its import and the copy job in one transaction. Also
 * restart and abandon of failed imports.
 */
import type { Logger } from 'pino';
import { probeSource, type SourceInfo } from '../copy/probe.js';
import {
  locateS3Object,
  probeS3Object,
  sealS3Credentials,
  storedS3Source,
  type S3SourceInfo,
} from '../copy/s3-source.js';
import { AppError } from '../domain/errors.js';
import {
  awsRegionalEndpoint,
  isValidRegion,
  normalizeS3Endpoint,
  s3ObjectUrl,
  s3SourceUrl,
  type S3ObjectLocation,
} from '../domain/s3-object.js';
import { choosePartSizeBytes, countParts } from '../domain/part-plan.js';
import { chooseFileName, describeFileType, httpDateToIso, isStrongEtag } from '../domain/source-file.js';
import type { Database } from '../db/database.js';
import {
  insertImport,
  listRecordedParts,
  markImportRestarted,
  resetImportForNewSource,
  type NewImport,
} from '../db/queries/imports.queries.js';
import { findDefaultProject, findProject } from '../db/queries/projects.queries.js';
import type { TeamRow } from '../db/queries/tenancy.queries.js';
import { findImportStatusView, insertVideo, type ImportStatusView } from '../db/queries/videos.queries.js';
import type { OutboundClient } from '../net/outbound-client.js';
import { videoSourceKey } from '../storage/blob-keys.js';
import type { BlobStore } from '../storage/blob-store.js';
import { ownerTeam, scopeOf, teamIdsOf, type Principal, type TeamScope } from './tenancy.service.js';
import { deleteVideosWithData, type QueuedMediaJobs } from './video-deletion.js';

/** A video imported from a URL, with its import and its ingestion. */
export type ImportView = ImportStatusView & { videoImport: NonNullable<ImportStatusView['videoImport']> };

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

export interface NewS3Import {
  name: string;
  description?: string | undefined;
  projectId?: string | undefined;
  fileName?: string | undefined;
  objectKey: string;
  s3Bucket: {
    bucket: string;
    accessKey: string;
    secretAccessKey: string;
    /** This service's extension: an allow-listed self-hosted endpoint; absent: AWS. */
    endpoint?: string | undefined;
    region?: string | undefined;
  };
  fullIngestion: boolean;
}

/** Connections an S3 copy opens (the HTTPS import's default; the S3 route has no such parameter). */
const S3_CONNECTIONS = 10;

/** The job queue as importing uses it: each import's copy job, sent in the transaction that creates or restarts it. */
export interface ImportJobs extends QueuedMediaJobs {
  send(tx: Database, name: 'copy-video', payload: { videoId: string }): Promise<void>;
}

export interface VideoImportDeps {
  db: Database;
  queue: ImportJobs;
  client: OutboundClient;
  store: BlobStore;
  minPartSizeBytes: number;
  s3: {
    /** Allow-listed self-hosted endpoints (normalized base URLs). */
    endpoints: readonly string[];
    defaultRegion: string;
    /** Seals the S3 key pairs at rest (the key-encryption key of the webhook signing keys). */
    kek: Buffer;
  };
  log: Logger;
  now?: () => Date;
}

/** What the create step stores about a probed source, whatever its kind. */
type SourceColumns = Omit<
  NewImport,
  | 'videoId'
  | 'partSizeBytes'
  | 'maxConnections'
  | 'fullIngestion'
  | 'status'
  | 'totalBytes'
  | 'fetchUrl'
  | 'pinnedAddresses'
  | 'etag'
  | 'lastModified'
>;

export class VideoImportService {
  private readonly now: () => Date;

  constructor(private readonly deps: VideoImportDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  async createHttpsImport(principal: Principal, team: TeamRow, request: NewHttpsImport): Promise<ImportView> {
    const project = await this.requireProject(team, request.projectId);
    const source = await probeSource(this.deps.client, request.url).catch((error: unknown) => {
      throw withUrlField(error, 'url', request.url);
    });
    const fileName = chooseFileName({ fileName: request.fileName, url: new URL(request.url), name: request.name });
    return this.createImport(
      principal,
      team,
      { projectId: project.id, request, fileName, source, maxConnections: request.maxConcurrentConnections },
      {
        sourceUrl: request.url,
        expectedCrc32c: request.crc32c ?? null,
      },
    );
  }

  /**
   * Imports an S3 object: the endpoint must be allow-listed (AWS when none is named), the object is
   * located and probed with the caller's key pair, and the pair is stored sealed for the copy.
   * Its expected CRC32C is the one S3 keeps for the whole object, when it keeps one.
   */
  async createS3Import(principal: Principal, team: TeamRow, request: NewS3Import): Promise<ImportView> {
    const project = await this.requireProject(team, request.projectId);
    const { bucket, accessKey, secretAccessKey } = request.s3Bucket;
    const endpoint = this.allowedEndpoint(request.s3Bucket.endpoint);
    const field =
      endpoint === null
        ? { name: 's3Bucket.bucket', value: bucket }
        : { name: 's3Bucket.endpoint', value: request.s3Bucket.endpoint ?? null };
    const credentials = { accessKeyId: accessKey, secretAccessKey };
    const refused = (error: unknown): never => {
      throw withUrlField(error, field.name, field.value);
    };
    const location = await locateS3Object(
      this.deps.client,
      { endpoint, region: request.s3Bucket.region ?? null, bucket, objectKey: request.objectKey },
      this.deps.s3.defaultRegion,
    ).catch(refused);
    const source = await probeS3Object(this.deps.client, location, credentials).catch(refused);
    const fileName = chooseFileName({
      fileName: request.fileName,
      url: new URL(s3ObjectUrl(location)),
      name: request.name,
    });
    return this.createImport(
      principal,
      team,
      { projectId: project.id, request, fileName, source, maxConnections: S3_CONNECTIONS },
      {
        sourceKind: 's3',
        sourceUrl: s3SourceUrl(bucket, request.objectKey),
        ...s3Columns(location),
        sourceCredentials: sealS3Credentials(credentials, this.deps.s3.kek),
        expectedCrc32c: source.crc32c,
      },
    );
  }

  private async createImport(
    principal: Principal,
    team: TeamRow,
    input: {
      projectId: string;
      request: { name: string; description?: string | undefined; fullIngestion: boolean };
      fileName: string;
      source: SourceInfo;
      maxConnections: number;
    },
    columns: SourceColumns,
  ): Promise<ImportView> {
    const { db } = this.deps;
    const { request, source, fileName } = input;
    const fileType = describeFileType(fileName, source.contentType);
    const videoId = await db.transaction(async (tx) => {
      const video = await insertVideo(tx, {
        teamId: team.id,
        userId: principal.userId,
        projectId: input.projectId,
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
        ...columns,
        ...this.sourceColumns(source),
        partSizeBytes: this.partSizeFor(source.totalBytes),
        maxConnections: input.maxConnections,
        fullIngestion: request.fullIngestion,
        status: 'INITIAL',
      });
      await this.deps.queue.send(tx, 'copy-video', { videoId: video.id });
      return video.id;
    });
    this.deps.log.info(
      {
        videoId,
        totalBytes: source.totalBytes,
        host: new URL(source.fetchUrl).host,
        sourceKind: columns.sourceKind ?? 'https',
      },
      'import created',
    );
    return this.requireImportView(scopeOf(team), videoId);
  }

  private async requireProject(team: TeamRow, projectId: string | undefined) {
    const { db } = this.deps;
    const project =
      projectId === undefined ? await findDefaultProject(db, team.id) : await findProject(db, [team.id], projectId);
    if (project === null) {
      throw new AppError(
        'RESOURCE_NOT_FOUND',
        projectId === undefined ? `team ${team.id} has no default project` : `project ${projectId} was not found`,
        { projectId: projectId ?? null },
      );
    }
    return project;
  }

  /** The requested self-hosted endpoint when it is allow-listed; null for AWS. */
  private allowedEndpoint(requested: string | undefined): string | null {
    if (requested === undefined) return null;
    const normalized = normalizeS3Endpoint(requested);
    if (normalized !== null && this.deps.s3.endpoints.includes(normalized)) return normalized;
    const message =
      'is not an S3 endpoint this service may import from: leave it out for AWS, or ask the operator to add it to REELIN_S3_IMPORT_ENDPOINTS';
    throw new AppError('VALIDATION_ERROR', `the request is not valid: s3Bucket.endpoint: ${message}`, null, {
      validationErrors: [{ field: 's3Bucket.endpoint', value: requested, message }],
    });
  }

  /**
   * An S3 import may reach its endpoint only while the operator allows it: the operator may have
   * taken a self-hosted endpoint off REELIN_S3_IMPORT_ENDPOINTS since the import was created.
   * AWS's regional endpoints need no allow-listing.
   */
  private assertStoredEndpointAllowed(current: ImportView['videoImport']): void {
    if (current.sourceKind !== 's3') return;
    const { s3Endpoint: endpoint, s3Region: region } = current;
    const isAws = region !== null && isValidRegion(region) && endpoint === awsRegionalEndpoint(region);
    if (endpoint !== null && (isAws || this.deps.s3.endpoints.includes(endpoint))) return;
    const message =
      'is no longer an S3 endpoint this service may import from (REELIN_S3_IMPORT_ENDPOINTS changed since the import was created): abandon the import, or ask the operator to allow the endpoint again';
    throw new AppError('VALIDATION_ERROR', `the import cannot be restarted: s3Bucket.endpoint: ${message}`, null, {
      validationErrors: [{ field: 's3Bucket.endpoint', value: endpoint, message }],
    });
  }

  /** Probes the source of a stored import again, as it was located when the import was created. */
  private async probeStoredSource(
    current: ImportView['videoImport'],
  ): Promise<SourceInfo & Partial<Pick<S3SourceInfo, 'crc32c'>>> {
    if (current.sourceKind === 'https') return probeSource(this.deps.client, current.sourceUrl);
    const { location, credentials } = storedS3Source(current, this.deps.s3.kek);
    return probeS3Object(this.deps.client, location, credentials);
  }

  /** Resumes a FAILED import from its recorded parts; the source is checked again first. */
  async restart(scope: TeamScope, videoId: string, options: { skipChecksumValidation: boolean }): Promise<ImportView> {
    const { db } = this.deps;
    const view = await this.requireImportView(scope, videoId);
    const team = ownerTeam(scope, view.video.teamId);
    const current = view.videoImport;
    if (current.status !== 'FAILED') {
      throw new AppError(
        'VIDEO_IN_OPERATION_NOT_FAILED',
        `the import of video ${videoId} is ${current.status}; only a FAILED import can be restarted`,
        { uploadStatus: current.status },
      );
    }
    if (current.errorCode === 'CHECKSUM_MISMATCH' && !options.skipChecksumValidation) {
      throw new AppError(
        'VIDEO_IN_RESTART_CHECKSUM_MISMATCH',
        'the copy failed its CRC32C check; restart with skipChecksumValidation=true to accept the copied bytes, or abandon the import and import the file again',
        { expectedCrc32c: current.expectedCrc32c },
      );
    }
    this.assertStoredEndpointAllowed(current);
    const recorded = await listRecordedParts(db, videoId);
    const isComplete = recorded.length === countParts(current.totalBytes, current.partSizeBytes);
    if (current.sourceKind === 's3' && current.sourceCredentials === null && !isComplete) {
      throw new AppError(
        'CONFLICT',
        `the S3 key pair of the import of video ${videoId} was deleted when the retention of failed imports (REELIN_S3_FAILED_UPLOAD_RETENTION_HOURS) ended: abandon the import and import the object again`,
        { videoId },
      );
    }
    // A complete copy needs no source any more (e.g. a checksum mismatch accepted with skip).
    const source = isComplete ? null : await this.probeStoredSource(current);
    const changed = source !== null && sourceChanged(current, source);
    if (changed) await this.deps.store.abortUpload(videoSourceKey(team.id, videoId), current.uploadState ?? null);
    await db.transaction(async (tx) => {
      const restarted = await markImportRestarted(tx, videoId, {
        ...(source === null
          ? {
              fetchUrl: current.fetchUrl,
              pinnedAddresses: current.pinnedAddresses,
              etag: current.etag,
              lastModified: current.lastModified,
            }
          : this.sourceColumns(source)),
        skipChecksumValidation: options.skipChecksumValidation,
        now: this.now(),
      });
      if (!restarted)
        throw new AppError('VIDEO_IN_OPERATION_NOT_FAILED', `the import of video ${videoId} is no longer FAILED`);
      // The file changed since the parts were copied: they are worthless, start over with the new file.
      if (changed && source !== null) {
        await resetImportForNewSource(tx, videoId, {
          totalBytes: source.totalBytes,
          partSizeBytes: this.partSizeFor(source.totalBytes),
          // An S3 object's own checksum belongs to the file it came with.
          ...(source.crc32c === undefined ? {} : { expectedCrc32c: source.crc32c }),
        });
      }
      await this.deps.queue.send(tx, 'copy-video', { videoId });
    });
    this.deps.log.info(
      { videoId, sourceChanged: changed, recordedParts: changed ? 0 : recorded.length },
      'import restarted',
    );
    return this.requireImportView(scopeOf(team), videoId);
  }

  /** Deletes a FAILED import with its video record and its data. */
  async abandon(scope: TeamScope, videoId: string): Promise<void> {
    const view = await this.requireImportView(scope, videoId);
    if (view.videoImport.status !== 'FAILED') {
      throw new AppError(
        'VIDEO_IN_OPERATION_NOT_FAILED',
        `the import of video ${videoId} is ${view.videoImport.status}; only a FAILED import can be abandoned`,
        { uploadStatus: view.videoImport.status },
      );
    }
    await deleteVideosWithData(this.deps, [videoId]);
  }

  /** A video imported from a URL, of a team in `scope`; 404 elsewhere, 403 in a team of the caller's without API access. */
  async requireImportView(scope: TeamScope, videoId: string): Promise<ImportView> {
    const view = await findImportStatusView(this.deps.db, teamIdsOf(scope), videoId);
    if (view === null) throw new AppError('RESOURCE_NOT_FOUND', `video ${videoId} was not found`, { videoId });
    ownerTeam(scope, view.video.teamId);
    if (view.videoImport === null)
      throw new AppError('RESOURCE_NOT_FOUND', `video ${videoId} was not imported from a URL`, { videoId });
    return { ...view, videoImport: view.videoImport };
  }

  private sourceColumns(source: SourceInfo) {
    return {
      fetchUrl: source.fetchUrl,
      pinnedAddresses: source.addresses,
      totalBytes: source.totalBytes,
      etag: source.etag,
      lastModified: source.lastModified,
    };
  }

  private partSizeFor(totalBytes: number): number {
    return choosePartSizeBytes(
      totalBytes,
      Math.max(this.deps.minPartSizeBytes, this.deps.store.capabilities.minPartSizeBytes),
    );
  }
}

/** Whether the file behind the URL is not the one the recorded parts came from. */
function sourceChanged(
  current: { totalBytes: number; etag: string | null; lastModified: string | null },
  source: SourceInfo,
): boolean {
  if (source.totalBytes !== current.totalBytes) return true;
  if (isStrongEtag(current.etag) || isStrongEtag(source.etag)) return current.etag !== source.etag;
  return current.lastModified !== source.lastModified;
}

/** A refused URL also names the field it came from (`url`, `s3Bucket.endpoint`), as validation errors do. */
function withUrlField(error: unknown, field: string, value: unknown): unknown {
  if (!(error instanceof AppError) || error.code !== 'INVALID_HTTPS_URL' || error.validationErrors.length > 0)
    return error;
  return new AppError(error.code, error.message, error.details, {
    cause: error.cause,
    validationErrors: [{ field, value, message: error.message }],
  });
}

function s3Columns(location: S3ObjectLocation) {
  return {
    s3Endpoint: location.endpoint,
    s3Region: location.region,
    s3Bucket: location.bucket,
    s3ObjectKey: location.objectKey,
    s3Addressing: location.addressing,
  };
}

function toDate(iso: string | null): Date | null {
  return iso === null ? null : new Date(iso);
}
