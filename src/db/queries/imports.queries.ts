import { and, asc, eq, inArray } from 'drizzle-orm';
import type { OperationError } from '../../domain/errors.js';
import type { RecordedPart } from '../../domain/part-plan.js';
import type { Database } from '../database.js';
import { importParts, videoImports, videos } from '../schema.js';
import type { ImportRow } from './videos.queries.js';

export type NewImport = typeof videoImports.$inferInsert;

export interface ImportForCopy {
  videoImport: ImportRow;
  teamId: string;
}

export async function insertImport(tx: Database, values: NewImport): Promise<void> {
  await tx.insert(videoImports).values(values);
}

export async function findImportForCopy(db: Database, videoId: string): Promise<ImportForCopy | null> {
  const [row] = await db
    .select({ videoImport: videoImports, teamId: videos.teamId })
    .from(videoImports)
    .innerJoin(videos, eq(videos.id, videoImports.videoId))
    .where(eq(videoImports.videoId, videoId))
    .limit(1);
  return row ?? null;
}

export async function listRecordedParts(db: Database, videoId: string): Promise<RecordedPart[]> {
  return db
    .select({
      partIndex: importParts.partIndex,
      offsetBytes: importParts.offsetBytes,
      lengthBytes: importParts.lengthBytes,
      crc32c: importParts.crc32c,
      receipt: importParts.receipt,
    })
    .from(importParts)
    .where(eq(importParts.videoId, videoId))
    .orderBy(asc(importParts.partIndex));
}

/** Records copied parts; a part recorded twice (a job that ran again) keeps its first record. */
export async function recordParts(tx: Database, videoId: string, parts: readonly RecordedPart[]): Promise<void> {
  if (parts.length === 0) return;
  await tx
    .insert(importParts)
    .values(parts.map((part) => ({ videoId, ...part })))
    .onConflictDoNothing();
}

export async function deleteRecordedParts(tx: Database, videoId: string): Promise<void> {
  await tx.delete(importParts).where(eq(importParts.videoId, videoId));
}

/** INITIAL -> IN_PROGRESS; false when the import is not INITIAL (already started, or gone). */
export async function markImportStarted(tx: Database, videoId: string, now: Date): Promise<boolean> {
  const rows = await tx
    .update(videoImports)
    .set({ status: 'IN_PROGRESS', startedAt: now, updatedAt: now })
    .where(and(eq(videoImports.videoId, videoId), eq(videoImports.status, 'INITIAL')))
    .returning({ videoId: videoImports.videoId });
  return rows.length > 0;
}

/** Saves progress of a running copy; false when the import is no longer IN_PROGRESS (deleted, abandoned). */
export async function saveImportProgress(
  tx: Database,
  videoId: string,
  progress: { bytesCopied: number; progressPercentage: number; bytesPerSecond: number | null; now: Date },
): Promise<boolean> {
  const rows = await tx
    .update(videoImports)
    .set({
      bytesCopied: progress.bytesCopied,
      progressPercentage: progress.progressPercentage,
      bytesPerSecond: progress.bytesPerSecond,
      updatedAt: progress.now,
    })
    .where(and(eq(videoImports.videoId, videoId), eq(videoImports.status, 'IN_PROGRESS')))
    .returning({ videoId: videoImports.videoId });
  return rows.length > 0;
}

export async function saveUploadState(
  tx: Database,
  videoId: string,
  uploadState: Record<string, unknown>,
): Promise<void> {
  await tx.update(videoImports).set({ uploadState }).where(eq(videoImports.videoId, videoId));
}

/** IN_PROGRESS -> DONE, publishing the stored file on the video and dropping the source's credentials; false when it was not IN_PROGRESS. */
export async function markImportDone(
  tx: Database,
  videoId: string,
  result: { crc32c: number; storageKey: string; totalBytes: number; now: Date },
): Promise<boolean> {
  const rows = await tx
    .update(videoImports)
    // A DONE import never reads its source again: an S3 key pair is forgotten with the transition.
    .set({
      status: 'DONE',
      bytesCopied: result.totalBytes,
      progressPercentage: 100,
      bytesPerSecond: null,
      finishedAt: result.now,
      updatedAt: result.now,
      uploadState: null,
      sourceCredentials: null,
      errorCode: null,
      errorMessage: null,
      errorDetails: null,
    })
    .where(and(eq(videoImports.videoId, videoId), eq(videoImports.status, 'IN_PROGRESS')))
    .returning({ videoId: videoImports.videoId });
  if (rows.length === 0) return false;
  await tx
    .update(videos)
    .set({ storageKey: result.storageKey, crc32c: result.crc32c, updatedAt: result.now })
    .where(eq(videos.id, videoId));
  return true;
}

/** INITIAL or IN_PROGRESS -> FAILED with the error; false when the import had already ended or is gone. */
export async function markImportFailed(
  tx: Database,
  videoId: string,
  error: OperationError,
  now: Date,
): Promise<boolean> {
  const rows = await tx
    .update(videoImports)
    .set({
      status: 'FAILED',
      errorCode: error.code,
      errorMessage: error.message,
      errorDetails: error.details,
      bytesPerSecond: null,
      finishedAt: now,
      updatedAt: now,
    })
    .where(and(eq(videoImports.videoId, videoId), inArray(videoImports.status, ['INITIAL', 'IN_PROGRESS'])))
    .returning({ videoId: videoImports.videoId });
  return rows.length > 0;
}

export interface RestartChanges {
  fetchUrl: string;
  pinnedAddresses: string[];
  etag: string | null;
  lastModified: string | null;
  skipChecksumValidation: boolean;
  now: Date;
}

/** FAILED -> INITIAL with the source as it was checked again; false when the import is not FAILED. */
export async function markImportRestarted(tx: Database, videoId: string, changes: RestartChanges): Promise<boolean> {
  const rows = await tx
    .update(videoImports)
    .set({
      status: 'INITIAL',
      fetchUrl: changes.fetchUrl,
      pinnedAddresses: changes.pinnedAddresses,
      etag: changes.etag,
      lastModified: changes.lastModified,
      skipChecksumValidation: changes.skipChecksumValidation,
      errorCode: null,
      errorMessage: null,
      errorDetails: null,
      finishedAt: null,
      updatedAt: changes.now,
    })
    .where(and(eq(videoImports.videoId, videoId), eq(videoImports.status, 'FAILED')))
    .returning({ videoId: videoImports.videoId });
  return rows.length > 0;
}

/**
 * The source file changed before a restart: forget the old parts and upload, take the new size
 * (and, for a source that states its own checksum, the new file's).
 */
export async function resetImportForNewSource(
  tx: Database,
  videoId: string,
  source: { totalBytes: number; partSizeBytes: number; expectedCrc32c?: number | null },
): Promise<void> {
  await tx.delete(importParts).where(eq(importParts.videoId, videoId));
  await tx
    .update(videoImports)
    .set({
      totalBytes: source.totalBytes,
      partSizeBytes: source.partSizeBytes,
      uploadState: null,
      bytesCopied: 0,
      progressPercentage: 0,
      bytesPerSecond: null,
      ...(source.expectedCrc32c === undefined ? {} : { expectedCrc32c: source.expectedCrc32c }),
    })
    .where(eq(videoImports.videoId, videoId));
  await tx.update(videos).set({ fileSizeBytes: source.totalBytes }).where(eq(videos.id, videoId));
}
