/**
 * What the sweep of orphaned multipart uploads asks the database: which imports still own the
 * uploads the store lists, and how a FAILED import past its retention forgets its upload.
 */
import { and, eq, inArray, sql } from 'drizzle-orm';
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
    .select({ videoId: videoImports.videoId, uploadId: recordedUploadId, status: videoImports.status, finishedAt: videoImports.finishedAt })
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
