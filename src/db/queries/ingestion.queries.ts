/**
 * Ingestion state and the artifacts it makes. Every transition is guarded by the state it
 * expects, so a job that runs twice (a retry after a crash) never moves a state backwards.
 */
import { and, asc, eq, inArray } from 'drizzle-orm';
import type { OperationError } from '../../domain/errors.js';
import type { Database } from '../database.js';
import { teams, videoArtifacts, videoIngestions, videos } from '../schema.js';
import type { IngestionRow } from './videos.queries.js';

export type ArtifactRow = typeof videoArtifacts.$inferSelect;
export type ArtifactKind = ArtifactRow['kind'];
export type NewArtifact = Omit<typeof videoArtifacts.$inferInsert, 'id' | 'createdAt' | 'videoId' | 'kind'>;

export interface IngestionWork {
  video: typeof videos.$inferSelect;
  ingestion: IngestionRow;
  freeClipEnabled: boolean;
}

export async function insertIngestion(tx: Database, videoId: string, full: boolean): Promise<void> {
  await tx.insert(videoIngestions).values({ videoId, full, status: 'INITIAL' }).onConflictDoNothing();
}

/** What an ingestion job needs: the video, its ingestion, and its team's clip setting. */
export async function findIngestionWork(db: Database, videoId: string): Promise<IngestionWork | null> {
  const [row] = await db
    .select({ video: videos, ingestion: videoIngestions, freeClipEnabled: teams.freeClipEnabled })
    .from(videoIngestions)
    .innerJoin(videos, eq(videos.id, videoIngestions.videoId))
    .innerJoin(teams, eq(teams.id, videos.teamId))
    .where(eq(videoIngestions.videoId, videoId))
    .limit(1);
  return row ?? null;
}

/** INITIAL → IN_PROGRESS; false when it had already started (a retried job) or ended. */
export async function markIngestionStarted(
  tx: Database,
  videoId: string,
  now: Date,
  unavailableFeatures: IngestionRow['unavailableFeatures'],
): Promise<boolean> {
  const rows = await tx
    .update(videoIngestions)
    .set({ status: 'IN_PROGRESS', startedAt: now, updatedAt: now, unavailableFeatures })
    .where(and(eq(videoIngestions.videoId, videoId), eq(videoIngestions.status, 'INITIAL')))
    .returning({ videoId: videoIngestions.videoId });
  return rows.length > 0;
}

export type IngestionResults = Partial<
  Pick<
    IngestionRow,
    | 'progressPercentage'
    | 'etaSeconds'
    | 'metadata'
    | 'qualityAssessment'
    | 'webVideoAvailable'
    | 'thumbnailsAvailable'
    | 'fullFramesAvailable'
    | 'videoMetadataAvailable'
  >
>;

/** Saves progress or a stage's results while the ingestion runs; false when it is no longer running. */
export async function saveIngestionProgress(
  db: Database,
  videoId: string,
  results: IngestionResults,
  now: Date,
): Promise<boolean> {
  const rows = await db
    .update(videoIngestions)
    .set({ ...results, updatedAt: now })
    .where(and(eq(videoIngestions.videoId, videoId), eq(videoIngestions.status, 'IN_PROGRESS')))
    .returning({ videoId: videoIngestions.videoId });
  return rows.length > 0;
}

export async function markIngestionDone(tx: Database, videoId: string, now: Date): Promise<boolean> {
  const rows = await tx
    .update(videoIngestions)
    .set({ status: 'DONE', progressPercentage: 100, etaSeconds: 0, finishedAt: now, updatedAt: now })
    .where(and(eq(videoIngestions.videoId, videoId), eq(videoIngestions.status, 'IN_PROGRESS')))
    .returning({ videoId: videoIngestions.videoId });
  return rows.length > 0;
}

export async function markIngestionFailed(
  tx: Database,
  videoId: string,
  error: OperationError,
  now: Date,
): Promise<boolean> {
  const rows = await tx
    .update(videoIngestions)
    .set({
      status: 'FAILED',
      etaSeconds: null,
      errorCode: error.code,
      errorMessage: error.message,
      errorDetails: error.details,
      finishedAt: now,
      updatedAt: now,
    })
    .where(and(eq(videoIngestions.videoId, videoId), inArray(videoIngestions.status, ['INITIAL', 'IN_PROGRESS'])))
    .returning({ videoId: videoIngestions.videoId });
  return rows.length > 0;
}

/** Replaces the artifacts of one kind (a retried stage writes the same keys again). */
export async function replaceArtifacts(
  tx: Database,
  videoId: string,
  kind: ArtifactKind,
  artifacts: readonly NewArtifact[],
): Promise<void> {
  await tx.delete(videoArtifacts).where(and(eq(videoArtifacts.videoId, videoId), eq(videoArtifacts.kind, kind)));
  if (artifacts.length > 0)
    await tx.insert(videoArtifacts).values(artifacts.map((artifact) => ({ ...artifact, videoId, kind })));
}

export async function listArtifacts(
  db: Database,
  videoId: string,
  kinds: readonly ArtifactKind[],
): Promise<ArtifactRow[]> {
  return db
    .select()
    .from(videoArtifacts)
    .where(and(eq(videoArtifacts.videoId, videoId), inArray(videoArtifacts.kind, [...kinds])))
    .orderBy(asc(videoArtifacts.kind), asc(videoArtifacts.position));
}

export async function findArtifact(db: Database, videoId: string, artifactId: string): Promise<ArtifactRow | null> {
  const [row] = await db
    .select()
    .from(videoArtifacts)
    .where(and(eq(videoArtifacts.videoId, videoId), eq(videoArtifacts.id, artifactId)))
    .limit(1);
  return row ?? null;
}
