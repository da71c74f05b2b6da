/**
 * What the sweep of orphaned multipart uploads asks the database: which imports still own the
 * uploads the store lists, how a FAILED import past its retention forgets its upload, and how it
 * forgets the key pair of its S3 source.
 */
import { and, eq, inArray, isNotNull, lt, sql } from 'drizzle-orm';
import type { Database } from '../database.js';
import { importParts, videoImports } from '../schema.js';

export interface UploadOwner {
  videoId: string;
  uploadId: string;
  status: 'INITIAL' | 'IN_PROGRESS' | 'DONE' | 'FAILED';
  finishedAt: Date | null;
}

const recordedUploadId = sql<string>`${videoImports.uploadState}->>'uploadId'`;

/** The imports whose recorded upload state names one of `uploadIds`. */
export async function findUploadOwners(db: Database, uploadIds: readonly string[]): Promise<UploadOwner[]> {
  if (uploadIds.length === 0) return [];
  return db
    .select({
      videoId: videoImports.videoId,
      uploadId: recordedUploadId,
      status: videoImports.status,
      finishedAt: videoImports.finishedAt,
    })
    .from(videoImports)
    .where(inArray(recordedUploadId, [...uploadIds]));
}

/**
 * Forgets the upload of a FAILED import (its upload was aborted): no upload state, no recorded
 * parts, so a restart copies every part into a new upload. False when the import is no longer
 * FAILED with that upload (restarted meanwhile, or deleted); then nothing changes.
 */
export async function clearFailedImportUpload(tx: Database, videoId: string, uploadId: string): Promise<boolean> {
  const rows = await tx
    .update(videoImports)
    .set({ uploadState: null })
    .where(and(eq(videoImports.videoId, videoId), eq(videoImports.status, 'FAILED'), eq(recordedUploadId, uploadId)))
    .returning({ videoId: videoImports.videoId });
  if (rows.length === 0) return false;
  await tx.delete(importParts).where(eq(importParts.videoId, videoId));
  return true;
}

/**
 * Deletes the stored S3 key pairs of imports that FAILED before `failedBefore`: past the retention a
 * restart is no longer offered with them. Returns the ids of the imports whose pair was deleted.
 */
export async function clearExpiredFailedImportCredentials(db: Database, failedBefore: Date): Promise<string[]> {
  const rows = await db
    .update(videoImports)
    .set({ sourceCredentials: null })
    .where(
      and(
        eq(videoImports.status, 'FAILED'),
        isNotNull(videoImports.sourceCredentials),
        lt(videoImports.finishedAt, failedBefore),
      ),
    )
    .returning({ videoId: videoImports.videoId });
  return rows.map((row) => row.videoId);
}
