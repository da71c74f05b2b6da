/**
 * A page of videos reads only the columns the wire form shows (`listVideoViews`), a single read
 * every column (`findVideoView`): the same video must present to the same JSON bytes either way,
 * whatever state its import, ingestion and clip processing are in.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { presentVideo } from '../../src/api/presenters.js';
import { migrateDatabase, openDatabase, type Database, type DatabaseConnection } from '../../src/db/database.js';
import { insertImport, type NewImport } from '../../src/db/queries/imports.queries.js';
import { insertAccount } from '../../src/db/queries/tenancy.queries.js';
import { findVideoView, insertVideo, listVideoViews, type NewVideo } from '../../src/db/queries/videos.queries.js';
import { clipProcessings, videoIngestions } from '../../src/db/schema.js';
import { backends, createTestDatabase, type Backend } from '../support/test-database.js';

type Status = 'INITIAL' | 'IN_PROGRESS' | 'DONE' | 'FAILED';
const statuses: Status[] = ['INITIAL', 'IN_PROGRESS', 'DONE', 'FAILED'];

let tempDir: string;

beforeAll(async () => {
  tempDir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-list-view-'));
});

afterAll(async () => {
  await fs.rm(tempDir, { recursive: true, force: true });
});

describe.each(backends)('a page of videos on %s', (backend: Backend) => {
  let connection: DatabaseConnection;
  let drop: () => Promise<void>;
  let db: Database;

  beforeAll(async () => {
    const database = await createTestDatabase(backend, path.join(tempDir, backend));
    drop = () => database.drop();
    connection = await openDatabase(database.config);
    await migrateDatabase(connection);
    db = connection.db;
  });

  afterAll(async () => {
    await connection?.close();
    await drop?.();
  });

  it('presents every video exactly as a single read of all its columns does', async () => {
    const tag = randomUUID();
    const account = await insertAccount(db, {
      email: `user-${tag}@example.com`,
      userName: `User ${tag}`,
      teamName: `Team ${tag}`,
      projectName: `Project ${tag}`,
    });
    let minute = 0;
    const newVideo = (overrides: Partial<NewVideo> = {}) =>
      insertVideo(db, {
        teamId: account.teamId,
        userId: account.userId,
        projectId: account.projectId,
        name: `video ${minute}`,
        fileName: `video-${minute}.mp4`,
        mimeType: 'video/mp4',
        createdAt: new Date(Date.UTC(2025, 0, 1, 0, (minute += 1))),
        ...overrides,
      });
    const failure = (status: Status) =>
      status === 'FAILED'
        ? { errorCode: 'MEDIA_UNREADABLE', errorMessage: 'no video stream', errorDetails: { stream: 0 } }
        : {};
    const importOf = (videoId: string, status: Status): NewImport => ({
      videoId,
      sourceUrl: 'https://cdn.example.com/a.mp4',
      fetchUrl: 'https://cdn.example.com/a.mp4',
      pinnedAddresses: ['203.0.113.7'],
      sourceCredentials: 'sealed-credentials',
      uploadState: { uploadId: 'multipart-1' },
      totalBytes: 10_000_000,
      partSizeBytes: 4_000_000,
      maxConnections: 4,
      fullIngestion: true,
      status,
      progressPercentage: status === 'DONE' ? 100 : status === 'IN_PROGRESS' ? 40 : 0,
      updatedAt: new Date('2025-02-01T10:00:00.123Z'),
      ...(status === 'FAILED'
        ? { errorCode: 'SOURCE_UNREACHABLE', errorMessage: 'the source went away', errorDetails: { part: 3 } }
        : {}),
    });

    // Masters: one without an import, one per import status; the stored ones are ingested in every
    // ingestion status (a full ingestion with metadata, quality and an unavailable feature among them).
    const bare = await newVideo({ description: 'no import' });
    const masters: string[] = [];
    for (const status of statuses) {
      const master = await newVideo({
        fileSizeBytes: 10_000_000,
        containerName: 'mov,mp4,m4a',
        fileLastModified: new Date('2024-12-24T08:00:00.000Z'),
        storageKey: status === 'DONE' ? `teams/t/videos/${minute}/source` : null,
        crc32c: status === 'DONE' ? 123456 : null,
      });
      await insertImport(db, importOf(master.id, status));
      masters.push(master.id);
    }
    const doneMaster = masters[2]!;
    for (const status of statuses) {
      const ingested = status === 'DONE' ? doneMaster : (await newVideo({ fileSizeBytes: 5_000 })).id;
      await db.insert(videoIngestions).values({
        videoId: ingested,
        full: true,
        status,
        progressPercentage: status === 'DONE' ? 100 : 55,
        etaSeconds: status === 'IN_PROGRESS' ? 12 : null,
        ...failure(status),
        metadata: status === 'DONE' ? { durationMillis: 5000, streams: [{ codec: 'h264', width: 640 }] } : null,
        qualityAssessment: status === 'DONE' ? { vmaf: 91.5 } : null,
        unavailableFeatures: status === 'DONE' ? [{ feature: 'SCAN_TYPE', reason: 'idet is missing' }] : [],
        webVideoAvailable: status === 'DONE',
        thumbnailsAvailable: status === 'DONE',
        fullFramesAvailable: false,
        videoMetadataAvailable: status !== 'INITIAL',
        updatedAt: new Date('2025-03-01T10:00:00.456Z'),
      });
    }
    // Clips of the stored master in every processing status. A master has one free clip at most, so
    // each is cut from another master: the first from the stored one, whose free clip it is.
    const sources = [doneMaster, masters[0]!, masters[1]!, masters[3]!];
    for (const [index, status] of statuses.entries()) {
      const clip = await newVideo({ isClip: true, masterVideoId: doneMaster, isSample: status === 'DONE' });
      await db.insert(clipProcessings).values({
        videoId: clip.id,
        sourceVideoId: sources[index]!,
        startPositionMillis: 1_000,
        endPositionMillis: 4_500,
        status,
        progressPercentage: status === 'DONE' ? 100 : 20,
        etaSeconds: status === 'IN_PROGRESS' ? 3 : null,
        ...failure(status),
        updatedAt: new Date('2025-04-01T10:00:00.789Z'),
      });
    }
    // The other team's video is not on the page.
    await insertVideo(db, {
      ...(await insertAccount(db, {
        email: `other-${tag}@example.com`,
        userName: 'Other',
        teamName: `Other ${tag}`,
        projectName: 'Other',
      }).then((other) => ({ teamId: other.teamId, userId: other.userId, projectId: other.projectId }))),
      name: 'elsewhere',
      fileName: 'elsewhere.mp4',
      mimeType: 'video/mp4',
    });

    const page = await listVideoViews(
      db,
      { teamId: account.teamId },
      { pageNumber: 0, pageSize: 100, sortBy: 'createdAt', sortDirection: 'ASC' },
    );
    expect(page.totalElements).toBe(12);
    expect(page.items).toHaveLength(12);
    const listed = page.items.map((item) => JSON.stringify(presentVideo(item)));
    const read = await Promise.all(
      page.items.map(async (item) => {
        const view = await findVideoView(db, [account.teamId], item.video.id);
        if (view === null) throw new Error(`video ${item.video.id} was not found`);
        return JSON.stringify(presentVideo(view));
      }),
    );
    expect(listed).toEqual(read);

    // The page holds what the fixtures made, so the comparison above covered each of these shapes.
    const presented = page.items.map((item) => presentVideo(item));
    expect(presented[0]).toMatchObject({ id: bare.id, description: 'no import', upload: null, processing: null });
    expect(presented.slice(1, 5).map((video) => video.upload?.uploadState.uploadStatus)).toEqual(statuses);
    expect(presented[4]?.upload?.uploadState).toEqual({
      updatedAt: '2025-02-01T10:00:00.123Z',
      uploadStatus: 'FAILED',
      progressPercentage: 0,
      error: { code: 'SOURCE_UNREACHABLE', message: 'the source went away', details: { part: 3 } },
      bytesCopied: 0,
      totalBytes: 10_000_000,
      bytesPerSecond: null,
      etaSeconds: null,
    });
    expect(presented[3]?.ingestion.ingestionState.ingestionStatus).toBe('DONE');
    expect(presented[3]?.ingestion.metadata).toEqual({
      durationMillis: 5000,
      streams: [{ codec: 'h264', width: 640 }],
    });
    expect(presented[3]?.clipId).toBe(page.items[8]?.video.id);
    expect(presented.slice(5, 8).map((video) => video.ingestion.ingestionState.ingestionStatus)).toEqual([
      'INITIAL',
      'IN_PROGRESS',
      'FAILED',
    ]);
    expect(presented.slice(8).map((video) => video.processing?.processingState.processingStatus)).toEqual(statuses);
    expect(presented[11]?.processing?.processingState.error).toEqual({
      code: 'MEDIA_UNREADABLE',
      message: 'no video stream',
      details: { stream: 0 },
    });
    expect(presented[11]?.masterVideo).toEqual({
      id: doneMaster,
      createdAt: '2025-01-01T00:04:00.000Z',
      updatedAt: page.items[3]?.video.updatedAt.toISOString(),
      videoFile: {
        name: 'video-3.mp4',
        size: 10_000_000,
        type: 'video/mp4',
        containerName: 'mov,mp4,m4a',
        lastModified: '2024-12-24T08:00:00.000Z',
      },
    });
  });
});
