/**
 * Free clips: a derived video cut from its master. Creating one is idempotent per master (a
 * unique index allows one free clip per master), and every transition is guarded by the state
 * it expects.
 */
import { aliasedTable, and, eq, inArray } from 'drizzle-orm';
import type { OperationError } from '../../domain/errors.js';
import type { Database } from '../database.js';
import { clipProcessings, videos } from '../schema.js';
import type { ClipProcessingRow, VideoRow } from './videos.queries.js';

export interface ClipWork {
  clip: VideoRow;
  processing: ClipProcessingRow;
  master: VideoRow;
}

const masters = aliasedTable(videos, 'master');

export interface NewFreeClip {
  master: VideoRow;
  name: string;
  fileName: string;
  mimeType: string;
  containerName: string;
  startPositionMillis: number;
  endPositionMillis: number;
}

/** Creates the master's free clip and its processing; null when the master already has one. */
export async function createFreeClip(tx: Database, clip: NewFreeClip): Promise<string | null> {
  const { master } = clip;
  const [existing] = await tx
    .select({ videoId: clipProcessings.videoId })
    .from(clipProcessings)
    .where(eq(clipProcessings.sourceVideoId, master.id))
    .limit(1);
  if (existing) return null;
  const [video] = await tx
    .insert(videos)
    .values({
      teamId: master.teamId,
      userId: master.userId,
      projectId: master.projectId,
      masterVideoId: master.id,
      isClip: true,
      isSample: master.isSample,
      name: clip.name,
      description: master.description,
      fileName: clip.fileName,
      mimeType: clip.mimeType,
      containerName: clip.containerName,
    })
    .returning({ id: videos.id });
  if (!video) throw new Error('insert into videos returned no row');
  await tx.insert(clipProcessings).values({
    videoId: video.id,
    sourceVideoId: master.id,
    startPositionMillis: clip.startPositionMillis,
    endPositionMillis: clip.endPositionMillis,
    status: 'INITIAL',
  });
  return video.id;
}

export async function findClipWork(db: Database, clipVideoId: string): Promise<ClipWork | null> {
  const [row] = await db
    .select({ clip: videos, processing: clipProcessings, master: masters })
    .from(clipProcessings)
    .innerJoin(videos, eq(videos.id, clipProcessings.videoId))
    .innerJoin(masters, eq(masters.id, clipProcessings.sourceVideoId))
    .where(eq(clipProcessings.videoId, clipVideoId))
    .limit(1);
  return row ?? null;
}

export async function markClipStarted(tx: Database, clipVideoId: string, now: Date): Promise<boolean> {
  const rows = await tx
    .update(clipProcessings)
    .set({ status: 'IN_PROGRESS', startedAt: now, updatedAt: now })
    .where(and(eq(clipProcessings.videoId, clipVideoId), eq(clipProcessings.status, 'INITIAL')))
    .returning({ videoId: clipProcessings.videoId });
  return rows.length > 0;
}

export async function saveClipProgress(
  db: Database,
  clipVideoId: string,
  progress: { progressPercentage: number; etaSeconds: number | null },
  now: Date,
): Promise<boolean> {
  const rows = await db
    .update(clipProcessings)
    .set({ ...progress, updatedAt: now })
    .where(and(eq(clipProcessings.videoId, clipVideoId), eq(clipProcessings.status, 'IN_PROGRESS')))
    .returning({ videoId: clipProcessings.videoId });
  return rows.length > 0;
}

/** IN_PROGRESS → DONE, and the clip's video row gets its stored file. */
export async function markClipDone(
  tx: Database,
  clipVideoId: string,
  file: { storageKey: string; sizeBytes: number; crc32c: number },
  now: Date,
): Promise<boolean> {
  const rows = await tx
    .update(clipProcessings)
    .set({ status: 'DONE', progressPercentage: 100, etaSeconds: 0, finishedAt: now, updatedAt: now })
    .where(and(eq(clipProcessings.videoId, clipVideoId), eq(clipProcessings.status, 'IN_PROGRESS')))
    .returning({ videoId: clipProcessings.videoId });
  if (rows.length === 0) return false;
  await tx
    .update(videos)
    .set({
      storageKey: file.storageKey,
      fileSizeBytes: file.sizeBytes,
      crc32c: file.crc32c,
      fileLastModified: now,
      updatedAt: now,
    })
    .where(eq(videos.id, clipVideoId));
  return true;
}

export async function markClipFailed(
  tx: Database,
  clipVideoId: string,
  error: OperationError,
  now: Date,
): Promise<boolean> {
  const rows = await tx
    .update(clipProcessings)
    .set({
      status: 'FAILED',
      etaSeconds: null,
      errorCode: error.code,
      errorMessage: error.message,
      errorDetails: error.details,
      finishedAt: now,
      updatedAt: now,
    })
    .where(and(eq(clipProcessings.videoId, clipVideoId), inArray(clipProcessings.status, ['INITIAL', 'IN_PROGRESS'])))
    .returning({ videoId: clipProcessings.videoId });
  return rows.length > 0;
}
