/**
 * The files ingestion made for a video, offered as pre-signed links: thumbnails with the poster,
 * full frames, and the web video. This service's own extension of the contract.
 */
import { AppError } from '../domain/errors.js';
import { fileStem } from '../domain/source-file.js';
import type { Database } from '../db/database.js';
import { listArtifacts, type ArtifactKind, type ArtifactRow } from '../db/queries/ingestion.queries.js';
import type { TeamScope } from './tenancy.service.js';
import { toBlobKey } from '../storage/blob-keys.js';
import type { BlobStore } from '../storage/blob-store.js';
import { storePresignedUrl, type DownloadLinkSigner } from '../storage/download-links.js';
import type { VideoService } from './video.service.js';

export type { ArtifactKind };

export interface ArtifactLink {
  id: string;
  kind: ArtifactKind;
  position: number;
  timestampMillis: number | null;
  width: number;
  height: number;
  sizeBytes: number;
  mimeType: string;
  presignedUrl: string;
  expiresAt: Date;
}

const extensions: Record<string, string> = {
  'image/jpeg': 'jpg',
  'image/webp': 'webp',
  'image/png': 'png',
  'video/mp4': 'mp4',
};

export class ArtifactService {
  constructor(
    private readonly deps: {
      db: Database;
      videos: VideoService;
      store: BlobStore;
      signer: DownloadLinkSigner;
      now?: () => Date;
    },
  ) {}

  /** Links to the artifacts of the given kinds; 409 VIDEO_NOT_FULLY_INGESTED when there are none yet. */
  async links(
    scope: TeamScope,
    videoId: string,
    kinds: readonly ArtifactKind[],
    options: { durationMinutes: number; baseUrl: string },
  ): Promise<ArtifactLink[]> {
    const view = await this.deps.videos.get(scope, videoId);
    const rows = await listArtifacts(this.deps.db, videoId, kinds);
    if (rows.length === 0) {
      const status = view.ingestion?.status ?? 'INITIAL';
      const why =
        view.ingestion?.full === false
          ? 'it was ingested without fullIngestion (metadata only)'
          : `its ingestion is ${status}`;
      throw new AppError('VIDEO_NOT_FULLY_INGESTED', `video ${videoId} has no ${describeKinds(kinds)}: ${why}`, {
        videoId,
        ingestionStatus: status,
      });
    }
    const signedAt = this.deps.now?.() ?? new Date();
    const expiresAt = new Date(signedAt.getTime() + options.durationMinutes * 60_000);
    const stem = fileStem(view.video.fileName);
    return Promise.all(rows.map((row) => this.link(row, stem, { signedAt, expiresAt }, options.baseUrl)));
  }

  private async link(
    row: ArtifactRow,
    stem: string,
    validity: { signedAt: Date; expiresAt: Date },
    baseUrl: string,
  ): Promise<ArtifactLink> {
    const { expiresAt } = validity;
    const suffix =
      row.kind === 'WEB_VIDEO'
        ? 'web'
        : `${row.kind.toLowerCase().replace('_', '-')}-${String(row.position + 1).padStart(2, '0')}`;
    const fileName = `${stem}-${suffix}.${extensions[row.mimeType] ?? 'bin'}`;
    return {
      id: row.id,
      kind: row.kind,
      position: row.position,
      timestampMillis: row.timestampMillis,
      width: row.width,
      height: row.height,
      sizeBytes: row.sizeBytes,
      mimeType: row.mimeType,
      presignedUrl:
        (await storePresignedUrl(this.deps.store, toBlobKey(row.storageKey), {
          fileName,
          mimeType: row.mimeType,
          ...validity,
        })) ?? `${baseUrl}${this.deps.signer.signArtifact(row.videoId, row.id, fileName, expiresAt)}`,
      expiresAt,
    };
  }
}

function describeKinds(kinds: readonly ArtifactKind[]): string {
  if (kinds.includes('WEB_VIDEO')) return 'web video';
  if (kinds.includes('FULL_FRAME')) return 'full frames';
  return 'thumbnails';
}
