import { aliasedTable, and, asc, count, eq, ilike, inArray, ne, notInArray, sql, type SQL } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import type { Database } from '../database.js';
import { preparedPerDatabase } from '../prepared.js';
import { pageOffset, pageOrder, toPage, type Page, type PageRequest, type TriState } from '../paging.js';
import { clipProcessings, videoImports, videoIngestions, videos } from '../schema.js';

export type VideoRow = typeof videos.$inferSelect;
export type NewVideo = typeof videos.$inferInsert;
export type ImportRow = typeof videoImports.$inferSelect;

/** A video with what its wire form shows: its import (masters) and its master's file (clips). */
export interface VideoView {
  video: VideoRow;
  videoImport: ImportRow | null;
  master: VideoRow | null;
  ingestion: IngestionRow | null;
  /** A clip's own processing (the cut). */
  processing: ClipProcessingRow | null;
  /** A master's free clip, if one was made. */
  freeClipId: string | null;
}

export type IngestionRow = typeof videoIngestions.$inferSelect;
export type ClipProcessingRow = typeof clipProcessings.$inferSelect;

/** A video's file as its wire form shows it. */
type FileColumns = 'fileName' | 'fileSizeBytes' | 'mimeType' | 'containerName' | 'fileLastModified';
type StateColumns = 'updatedAt' | 'status' | 'progressPercentage' | 'errorCode' | 'errorMessage' | 'errorDetails';

/**
 * A video with only the columns its wire form shows: what a page of videos reads. A whole
 * {@link VideoView} is one too, so the same presenter serves single reads and pages.
 */
export interface VideoListView {
  video: Pick<
    VideoRow,
    | 'id'
    | 'createdAt'
    | 'updatedAt'
    | 'userId'
    | 'teamId'
    | 'projectId'
    | 'name'
    | 'description'
    | 'masterVideoId'
    | 'isClip'
    | 'isSample'
    | FileColumns
  >;
  videoImport: Pick<ImportRow, StateColumns | 'bytesCopied' | 'totalBytes' | 'bytesPerSecond'> | null;
  master: Pick<VideoRow, 'id' | 'createdAt' | 'updatedAt' | FileColumns> | null;
  ingestion: Pick<
    IngestionRow,
    | StateColumns
    | 'etaSeconds'
    | 'webVideoAvailable'
    | 'thumbnailsAvailable'
    | 'fullFramesAvailable'
    | 'videoMetadataAvailable'
    | 'unavailableFeatures'
    | 'metadata'
    | 'qualityAssessment'
  > | null;
  processing: Pick<
    ClipProcessingRow,
    StateColumns | 'etaSeconds' | 'sourceVideoId' | 'startPositionMillis' | 'endPositionMillis'
  > | null;
  freeClipId: string | null;
}

export interface VideoFilter {
  teamId: string;
  projectId?: string | undefined;
  masterVideoId?: string | undefined;
  /** Only the master this video is a clip of. */
  clipId?: string | undefined;
  clipMode?: TriState | undefined;
  /** Only the videos whose import (copy) is in this state; videos without an import never match. */
  uploadStatus?: OperationStatus | undefined;
  /** Only the videos whose ingestion is in this state; a video with no ingestion yet is INITIAL. */
  ingestionStatus?: OperationStatus | undefined;
  /** Only the videos whose name contains this text, ignoring case; `%`, `_` and `\` match themselves. */
  nameContains?: string | undefined;
}

export type OperationStatus = ImportRow['status'];

/** A LIKE pattern matching `text` anywhere, its wildcards and escape character taken literally. */
function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
}

// pg-core's alias, not aliasedTable: with the latter joined, Drizzle types a selection holding a
// computed field (the page's count) as never.
const masters = alias(videos, 'master');
const freeClips = alias(clipProcessings, 'free_clip');
const clips = aliasedTable(videos, 'clip');

function selectViews(db: Database) {
  return db
    .select({
      video: videos,
      videoImport: videoImports,
      master: masters,
      ingestion: videoIngestions,
      processing: clipProcessings,
      freeClipId: freeClips.videoId,
    })
    .from(videos)
    .leftJoin(videoImports, eq(videoImports.videoId, videos.id))
    .leftJoin(masters, eq(masters.id, videos.masterVideoId))
    .leftJoin(videoIngestions, eq(videoIngestions.videoId, videos.id))
    .leftJoin(clipProcessings, eq(clipProcessings.videoId, videos.id))
    .leftJoin(freeClips, eq(freeClips.sourceVideoId, videos.id));
}

const fileColumnsOf = <T extends typeof videos | typeof masters>(table: T): Pick<T, FileColumns> => ({
  fileName: table.fileName,
  fileSizeBytes: table.fileSizeBytes,
  mimeType: table.mimeType,
  containerName: table.containerName,
  fileLastModified: table.fileLastModified,
});

const stateColumnsOf = <T extends typeof videoImports | typeof videoIngestions | typeof clipProcessings>(
  table: T,
): Pick<T, StateColumns> => ({
  updatedAt: table.updatedAt,
  status: table.status,
  progressPercentage: table.progressPercentage,
  errorCode: table.errorCode,
  errorMessage: table.errorMessage,
  errorDetails: table.errorDetails,
});

/**
 * The six tables of {@link selectViews}, but only the columns a video's wire form shows: a page of
 * 100 videos then reads and maps no import credentials, pinned addresses, upload state or storage
 * keys, which made most of the rows' bytes and of Drizzle's mapping work.
 */
function selectListViews(db: Database, totalElements: SQL<number>) {
  return db
    .select({
      totalElements,
      video: {
        id: videos.id,
        createdAt: videos.createdAt,
        updatedAt: videos.updatedAt,
        userId: videos.userId,
        teamId: videos.teamId,
        projectId: videos.projectId,
        name: videos.name,
        description: videos.description,
        masterVideoId: videos.masterVideoId,
        isClip: videos.isClip,
        isSample: videos.isSample,
        ...fileColumnsOf(videos),
      },
      videoImport: {
        ...stateColumnsOf(videoImports),
        bytesCopied: videoImports.bytesCopied,
        totalBytes: videoImports.totalBytes,
        bytesPerSecond: videoImports.bytesPerSecond,
      },
      master: {
        id: masters.id,
        createdAt: masters.createdAt,
        updatedAt: masters.updatedAt,
        ...fileColumnsOf(masters),
      },
      ingestion: {
        ...stateColumnsOf(videoIngestions),
        etaSeconds: videoIngestions.etaSeconds,
        webVideoAvailable: videoIngestions.webVideoAvailable,
        thumbnailsAvailable: videoIngestions.thumbnailsAvailable,
        fullFramesAvailable: videoIngestions.fullFramesAvailable,
        videoMetadataAvailable: videoIngestions.videoMetadataAvailable,
        unavailableFeatures: videoIngestions.unavailableFeatures,
        metadata: videoIngestions.metadata,
        qualityAssessment: videoIngestions.qualityAssessment,
      },
      processing: {
        ...stateColumnsOf(clipProcessings),
        etaSeconds: clipProcessings.etaSeconds,
        sourceVideoId: clipProcessings.sourceVideoId,
        startPositionMillis: clipProcessings.startPositionMillis,
        endPositionMillis: clipProcessings.endPositionMillis,
      },
      freeClipId: freeClips.videoId,
    })
    .from(videos)
    .leftJoin(videoImports, eq(videoImports.videoId, videos.id))
    .leftJoin(masters, eq(masters.id, videos.masterVideoId))
    .leftJoin(videoIngestions, eq(videoIngestions.videoId, videos.id))
    .leftJoin(clipProcessings, eq(clipProcessings.videoId, videos.id))
    .leftJoin(freeClips, eq(freeClips.sourceVideoId, videos.id));
}

export async function insertVideo(tx: Database, video: NewVideo): Promise<VideoRow> {
  const [row] = await tx.insert(videos).values(video).returning();
  if (!row) throw new Error('insert into videos returned no row');
  return row;
}

/** A video of any of the teams `teamIds`, found in one query. */
export async function findVideoView(
  db: Database,
  teamIds: readonly string[],
  videoId: string,
): Promise<VideoView | null> {
  if (teamIds.length === 0) return null;
  const [row] = await selectViews(db)
    .where(and(inArray(videos.teamId, [...teamIds]), eq(videos.id, videoId)))
    .limit(1);
  return row ?? null;
}

/** A video with what its import status shows: its import (null: not imported) and its ingestion. */
export type ImportStatusView = Pick<VideoView, 'video' | 'videoImport' | 'ingestion'>;

const importStatusViewStatement = preparedPerDatabase((db) =>
  db
    .select({ video: videos, videoImport: videoImports, ingestion: videoIngestions })
    .from(videos)
    .leftJoin(videoImports, eq(videoImports.videoId, videos.id))
    .leftJoin(videoIngestions, eq(videoIngestions.videoId, videos.id))
    // One array parameter, not inArray: Drizzle spreads an array into one parameter per element,
    // which a prepared statement's fixed text cannot hold.
    .where(
      and(
        eq(videos.id, sql.placeholder('videoId')),
        sql`${videos.teamId} = any(${sql.placeholder('teamIds')}::uuid[])`,
      ),
    )
    .limit(1)
    .prepare('find_import_status_view'),
);

/**
 * A video of any of the teams `teamIds` with its import and ingestion, found in one prepared query,
 * or null: three tables of the six a whole view joins, as an import's status needs no more.
 */
export async function findImportStatusView(
  db: Database,
  teamIds: readonly string[],
  videoId: string,
): Promise<ImportStatusView | null> {
  if (teamIds.length === 0) return null;
  const [row] = await importStatusViewStatement(db).execute({ videoId, teamIds: [...teamIds] });
  return row ?? null;
}

function filterConditions(db: Database, filter: VideoFilter): SQL[] {
  const conditions: SQL[] = [eq(videos.teamId, filter.teamId)];
  if (filter.projectId) conditions.push(eq(videos.projectId, filter.projectId));
  if (filter.masterVideoId) conditions.push(eq(videos.masterVideoId, filter.masterVideoId));
  if (filter.clipId) {
    const masterOfClip = db.select({ id: clips.masterVideoId }).from(clips).where(eq(clips.id, filter.clipId));
    conditions.push(inArray(videos.id, masterOfClip));
  }
  if (filter.clipMode === 'EXCLUDE') conditions.push(eq(videos.isClip, false));
  if (filter.clipMode === 'ONLY') conditions.push(eq(videos.isClip, true));
  if (filter.uploadStatus) {
    const imported = db
      .select({ id: videoImports.videoId })
      .from(videoImports)
      .where(eq(videoImports.status, filter.uploadStatus));
    conditions.push(inArray(videos.id, imported));
  }
  if (filter.ingestionStatus === 'INITIAL') {
    const begun = db
      .select({ id: videoIngestions.videoId })
      .from(videoIngestions)
      .where(ne(videoIngestions.status, 'INITIAL'));
    conditions.push(notInArray(videos.id, begun));
  } else if (filter.ingestionStatus) {
    const inState = db
      .select({ id: videoIngestions.videoId })
      .from(videoIngestions)
      .where(eq(videoIngestions.status, filter.ingestionStatus));
    conditions.push(inArray(videos.id, inState));
  }
  // Backslash is the escape character of LIKE by default on PostgreSQL (and PGlite).
  if (filter.nameContains !== undefined) conditions.push(ilike(videos.name, containsPattern(filter.nameContains)));
  return conditions;
}

export async function listVideoViews(
  db: Database,
  filter: VideoFilter,
  request: PageRequest,
): Promise<Page<VideoListView>> {
  const where = and(...filterConditions(db, filter));
  const countOf = () => db.select({ value: count() }).from(videos).where(where);
  // The count rides in the page's query as a scalar subquery, evaluated once: one statement and one
  // round trip instead of two. A page past the end (or of nothing) has no row to carry it.
  const rows = await selectListViews(db, sql<number>`(${countOf()})`.mapWith(Number))
    .where(where)
    .orderBy(...pageOrder(request, videos))
    .limit(request.pageSize)
    .offset(pageOffset(request));
  const [first] = rows;
  if (first === undefined) {
    const [total] = await countOf();
    return toPage(request, [], total?.value ?? 0);
  }
  const items = rows.map(({ totalElements: _, ...view }): VideoListView => view);
  return toPage(request, items, first.totalElements);
}

export async function updateVideoText(
  db: Database,
  teamId: string,
  videoId: string,
  changes: { name?: string | undefined; description?: string | null | undefined },
): Promise<boolean> {
  const rows = await db
    .update(videos)
    .set({ ...changes, updatedAt: new Date() })
    .where(and(eq(videos.teamId, teamId), eq(videos.id, videoId)))
    .returning({ id: videos.id });
  return rows.length > 0;
}

/** The ids of the videos derived from a video (its clips), oldest first. */
export async function listDerivedVideoIds(db: Database, videoId: string): Promise<string[]> {
  const rows = await db
    .select({ id: videos.id })
    .from(videos)
    .where(eq(videos.masterVideoId, videoId))
    .orderBy(asc(videos.createdAt), asc(videos.id));
  return rows.map((row) => row.id);
}

export interface DeletedVideo {
  id: string;
  teamId: string;
  storageKey: string | null;
  uploadState: Record<string, unknown> | null;
  importInProgress: boolean;
}

/** Deletes videos (their imports and parts cascade) and says what storage they held. */
export async function deleteVideos(tx: Database, videoIds: string[]): Promise<DeletedVideo[]> {
  if (videoIds.length === 0) return [];
  const held = await tx
    .select({
      id: videos.id,
      teamId: videos.teamId,
      storageKey: videos.storageKey,
      uploadState: videoImports.uploadState,
      importStatus: videoImports.status,
    })
    .from(videos)
    .leftJoin(videoImports, eq(videoImports.videoId, videos.id))
    .where(inArray(videos.id, videoIds));
  await tx.delete(videos).where(inArray(videos.id, videoIds));
  return held.map((row) => ({
    id: row.id,
    teamId: row.teamId,
    storageKey: row.storageKey,
    uploadState: row.uploadState,
    importInProgress: row.importStatus === 'INITIAL' || row.importStatus === 'IN_PROGRESS',
  }));
}

/** A video by id alone: only for requests whose credential is a signed link to that video. */
export async function findVideoById(db: Database, videoId: string): Promise<VideoRow | null> {
  const [row] = await db.select().from(videos).where(eq(videos.id, videoId)).limit(1);
  return row ?? null;
}

/** Which of `videoIds` still exist. */
export async function findExistingVideoIds(db: Database, videoIds: readonly string[]): Promise<Set<string>> {
  if (videoIds.length === 0) return new Set();
  const rows = await db
    .select({ id: videos.id })
    .from(videos)
    .where(inArray(videos.id, [...videoIds]));
  return new Set(rows.map((row) => row.id));
}

/**
 * The videos `videoIds` of team `teamId`, in the columns their wire form shows (as a page reads
 * them), in one query: what the live event stream sends for a batch of changed videos.
 */
export async function listVideoViewsByIds(
  db: Database,
  teamId: string,
  videoIds: readonly string[],
): Promise<VideoListView[]> {
  if (videoIds.length === 0) return [];
  const rows = await selectListViews(db, sql<number>`0`.mapWith(Number)).where(
    and(eq(videos.teamId, teamId), inArray(videos.id, [...videoIds])),
  );
  return rows.map(({ totalElements: _, ...view }): VideoListView => view);
}
