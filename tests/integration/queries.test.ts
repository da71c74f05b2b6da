import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { count, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { migrateDatabase, openDatabase, type Database, type DatabaseConnection } from '../../src/db/database.js';
import type { PageRequest } from '../../src/db/paging.js';
import { listEventsOfVideo, recordEvent } from '../../src/db/queries/events.queries.js';
import {
  findImportForCopy,
  insertImport,
  listRecordedParts,
  markImportDone,
  markImportFailed,
  markImportRestarted,
  markImportStarted,
  recordParts,
  saveImportProgress,
  saveUploadState,
  type NewImport,
} from '../../src/db/queries/imports.queries.js';
import {
  findActiveApiKeyOwner,
  findDefaultTeam,
  findMemberTeam,
  insertAccount,
} from '../../src/db/queries/tenancy.queries.js';
import {
  deleteVideos,
  findVideoById,
  insertVideo,
  listVideoViews,
  type NewVideo,
  type VideoRow,
} from '../../src/db/queries/videos.queries.js';
import { apiKeys, importParts, projects, teamMembers, teams, users } from '../../src/db/schema.js';
import type { OperationError } from '../../src/domain/errors.js';
import type { EventType } from '../../src/domain/events.js';
import { bootstrapAdmin } from '../../src/services/bootstrap.service.js';
import { backends, createTestDatabase, type Backend, type TestDatabase } from '../support/test-database.js';

type ImportStatus = NonNullable<NewImport['status']>;
type Account = Awaited<ReturnType<typeof insertAccount>>;

let tempDir: string;

beforeAll(async () => {
  tempDir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-queries-'));
});

afterAll(async () => {
  await fs.rm(tempDir, { recursive: true, force: true });
});

/** Opens a fresh, migrated database of `backend`; the returned function closes and drops it. */
async function openMigrated(
  backend: Backend,
  folderName: string,
): Promise<{ connection: DatabaseConnection; dispose(): Promise<void> }> {
  const database: TestDatabase = await createTestDatabase(backend, path.join(tempDir, folderName));
  const connection = await openDatabase(database.config);
  await migrateDatabase(connection);
  return {
    connection,
    dispose: async () => {
      await connection.close();
      await database.drop();
    },
  };
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const failure: OperationError = { code: 'SOURCE_UNREACHABLE', message: 'the source went away', details: { part: 3 } };
const restart = {
  fetchUrl: 'https://cdn.example.com/moved.mp4',
  pinnedAddresses: ['203.0.113.9'],
  etag: '"v2"',
  lastModified: 'Tue, 01 Jul 2025 10:00:00 GMT',
  skipChecksumValidation: true,
};

describe.each(backends)('queries on %s', (backend: Backend) => {
  let opened: Awaited<ReturnType<typeof openMigrated>>;
  let db: Database;

  beforeAll(async () => {
    opened = await openMigrated(backend, `${backend}-queries`);
    db = opened.connection.db;
  });

  afterAll(async () => {
    await opened?.dispose();
  });

  async function newAccount(): Promise<Account> {
    const tag = randomUUID();
    return insertAccount(db, {
      email: `user-${tag}@example.com`,
      userName: `User ${tag}`,
      teamName: `Team ${tag}`,
      projectName: `Project ${tag}`,
    });
  }

  async function newVideo(account: Account, overrides: Partial<NewVideo> = {}): Promise<VideoRow> {
    return insertVideo(db, {
      teamId: account.teamId,
      userId: account.userId,
      projectId: account.projectId,
      name: 'clip.mp4',
      fileName: 'clip.mp4',
      mimeType: 'video/mp4',
      fileSizeBytes: 10_000_000,
      ...overrides,
    });
  }

  async function newImport(account: Account, status: ImportStatus): Promise<string> {
    const video = await newVideo(account);
    await insertImport(db, {
      videoId: video.id,
      sourceUrl: 'https://cdn.example.com/clip.mp4',
      fetchUrl: 'https://cdn.example.com/clip.mp4',
      pinnedAddresses: ['203.0.113.7'],
      totalBytes: 10_000_000,
      partSizeBytes: 4_000_000,
      maxConnections: 4,
      fullIngestion: false,
      status,
      ...(status === 'FAILED'
        ? {
            errorCode: 'SOURCE_UNREACHABLE',
            errorMessage: 'earlier failure',
            errorDetails: {},
            finishedAt: new Date('2025-01-01T00:00:00Z'),
          }
        : {}),
    });
    return video.id;
  }

  async function importOf(videoId: string) {
    const found = await findImportForCopy(db, videoId);
    if (!found) throw new Error(`import ${videoId} is missing`);
    return found.videoImport;
  }

  describe('teams', () => {
    async function addTeam(
      userId: string | null,
      name: string,
      createdAt: string,
      apiEnabled: boolean,
    ): Promise<string> {
      const [team] = await db
        .insert(teams)
        .values({ name, apiEnabled, createdAt: new Date(createdAt) })
        .returning({ id: teams.id });
      if (!team) throw new Error('team insert returned no row');
      if (userId !== null) await db.insert(teamMembers).values({ teamId: team.id, userId, role: 'MEMBER' });
      return team.id;
    }

    it('picks the oldest API-enabled team of the user as the default team', async () => {
      const account = await newAccount();
      await addTeam(null, 'older, not a member', '2019-01-01T00:00:00Z', true);
      await addTeam(account.userId, 'oldest, API disabled', '2020-01-01T00:00:00Z', false);
      const expected = await addTeam(account.userId, 'old, API enabled', '2021-01-01T00:00:00Z', true);
      await addTeam(account.userId, 'newer, API enabled', '2022-01-01T00:00:00Z', true);

      const team = await findDefaultTeam(db, account.userId);
      expect(team?.id).toBe(expected);
      expect(team?.name).toBe('old, API enabled');
    });

    it('finds no default team when none of the user’s teams has the API enabled', async () => {
      const account = await newAccount();
      await db.update(teams).set({ apiEnabled: false }).where(eq(teams.id, account.teamId));
      expect(await findDefaultTeam(db, account.userId)).toBeNull();
    });

    it('finds a team the user is a member of, and null for one they are not a member of or that does not exist', async () => {
      const account = await newAccount();
      const other = await newAccount();
      expect((await findMemberTeam(db, account.userId, account.teamId))?.id).toBe(account.teamId);
      expect(await findMemberTeam(db, account.userId, other.teamId)).toBeNull();
      expect(await findMemberTeam(db, account.userId, randomUUID())).toBeNull();
    });
  });

  describe('import state machine', () => {
    const now = new Date('2025-06-01T12:00:00.123Z');

    it('marks an INITIAL import started', async () => {
      const videoId = await newImport(await newAccount(), 'INITIAL');
      expect(await markImportStarted(db, videoId, now)).toBe(true);
      const row = await importOf(videoId);
      expect(row.status).toBe('IN_PROGRESS');
      expect(row.startedAt).toEqual(now);
      expect(row.updatedAt).toEqual(now);
    });

    it.each<ImportStatus>(['IN_PROGRESS', 'DONE', 'FAILED'])('refuses to mark a %s import started', async (status) => {
      const videoId = await newImport(await newAccount(), status);
      expect(await markImportStarted(db, videoId, now)).toBe(false);
      expect((await importOf(videoId)).status).toBe(status);
      expect((await importOf(videoId)).startedAt).toBeNull();
    });

    it('refuses to mark a missing import started', async () => {
      expect(await markImportStarted(db, randomUUID(), now)).toBe(false);
    });

    it('saves progress while the import is IN_PROGRESS', async () => {
      const videoId = await newImport(await newAccount(), 'INITIAL');
      await markImportStarted(db, videoId, now);
      expect(
        await saveImportProgress(db, videoId, {
          bytesCopied: 4_000_000,
          progressPercentage: 40,
          bytesPerSecond: 1_250_000,
          now,
        }),
      ).toBe(true);
      const row = await importOf(videoId);
      expect(row.bytesCopied).toBe(4_000_000);
      expect(row.progressPercentage).toBe(40);
      expect(row.bytesPerSecond).toBe(1_250_000);
    });

    it.each<ImportStatus>(['INITIAL', 'DONE', 'FAILED'])('refuses to save progress of a %s import', async (status) => {
      const videoId = await newImport(await newAccount(), status);
      expect(
        await saveImportProgress(db, videoId, { bytesCopied: 1, progressPercentage: 1, bytesPerSecond: 1, now }),
      ).toBe(false);
      expect((await importOf(videoId)).bytesCopied).toBe(0);
    });

    it('refuses to save progress after markImportFailed', async () => {
      const videoId = await newImport(await newAccount(), 'IN_PROGRESS');
      expect(await markImportFailed(db, videoId, failure, now)).toBe(true);
      expect(
        await saveImportProgress(db, videoId, {
          bytesCopied: 8_000_000,
          progressPercentage: 80,
          bytesPerSecond: 1,
          now,
        }),
      ).toBe(false);
      expect((await importOf(videoId)).bytesCopied).toBe(0);
    });

    it('refuses to save progress after the video was deleted', async () => {
      const videoId = await newImport(await newAccount(), 'IN_PROGRESS');
      await deleteVideos(db, [videoId]);
      expect(
        await saveImportProgress(db, videoId, {
          bytesCopied: 8_000_000,
          progressPercentage: 80,
          bytesPerSecond: 1,
          now,
        }),
      ).toBe(false);
      expect(await findImportForCopy(db, videoId)).toBeNull();
    });

    it('marks an IN_PROGRESS import done and publishes the storage key and crc32c on the video', async () => {
      const videoId = await newImport(await newAccount(), 'IN_PROGRESS');
      await saveImportProgress(db, videoId, {
        bytesCopied: 9_000_000,
        progressPercentage: 90,
        bytesPerSecond: 500,
        now,
      });
      // The largest CRC-32C, to prove the bigint column keeps all 32 unsigned bits.
      expect(
        await markImportDone(db, videoId, {
          crc32c: 4_294_967_295,
          storageKey: `teams/x/videos/${videoId}/source`,
          totalBytes: 10_000_000,
          now,
        }),
      ).toBe(true);
      const row = await importOf(videoId);
      expect(row).toMatchObject({
        status: 'DONE',
        bytesCopied: 10_000_000,
        progressPercentage: 100,
        bytesPerSecond: null,
        finishedAt: now,
        uploadState: null,
        errorCode: null,
      });
      const video = await findVideoById(db, videoId);
      expect(video?.storageKey).toBe(`teams/x/videos/${videoId}/source`);
      expect(video?.crc32c).toBe(4_294_967_295);
      expect(video?.updatedAt).toEqual(now);
    });

    it.each<ImportStatus>(['INITIAL', 'DONE', 'FAILED'])(
      'refuses to mark a %s import done and leaves the video unpublished',
      async (status) => {
        const videoId = await newImport(await newAccount(), status);
        expect(
          await markImportDone(db, videoId, { crc32c: 1, storageKey: 'teams/x/source', totalBytes: 10_000_000, now }),
        ).toBe(false);
        expect((await importOf(videoId)).status).toBe(status);
        const video = await findVideoById(db, videoId);
        expect(video?.storageKey).toBeNull();
        expect(video?.crc32c).toBeNull();
      },
    );

    it.each<ImportStatus>(['INITIAL', 'IN_PROGRESS'])('marks a %s import failed with its error', async (status) => {
      const videoId = await newImport(await newAccount(), status);
      await saveImportProgress(db, videoId, { bytesCopied: 1_000, progressPercentage: 1, bytesPerSecond: 500, now });
      expect(await markImportFailed(db, videoId, failure, now)).toBe(true);
      expect(await importOf(videoId)).toMatchObject({
        status: 'FAILED',
        bytesPerSecond: null,
        errorCode: 'SOURCE_UNREACHABLE',
        errorMessage: 'the source went away',
        errorDetails: { part: 3 },
        finishedAt: now,
        updatedAt: now,
      });
    });

    it.each<ImportStatus>(['DONE', 'FAILED'])('refuses to mark a %s import failed', async (status) => {
      const videoId = await newImport(await newAccount(), status);
      const before = await importOf(videoId);
      expect(await markImportFailed(db, videoId, failure, now)).toBe(false);
      const after = await importOf(videoId);
      expect(after.status).toBe(status);
      expect(after.errorMessage).toBe(before.errorMessage);
      expect(after.finishedAt).toEqual(before.finishedAt);
    });

    it('restarts a FAILED import with the source as checked again, clearing the error', async () => {
      const videoId = await newImport(await newAccount(), 'FAILED');
      expect(await markImportRestarted(db, videoId, { ...restart, now })).toBe(true);
      expect(await importOf(videoId)).toMatchObject({
        status: 'INITIAL',
        fetchUrl: restart.fetchUrl,
        pinnedAddresses: restart.pinnedAddresses,
        etag: '"v2"',
        lastModified: restart.lastModified,
        skipChecksumValidation: true,
        errorCode: null,
        errorMessage: null,
        errorDetails: null,
        finishedAt: null,
        updatedAt: now,
      });
    });

    it.each<ImportStatus>(['INITIAL', 'IN_PROGRESS', 'DONE'])('refuses to restart a %s import', async (status) => {
      const videoId = await newImport(await newAccount(), status);
      expect(await markImportRestarted(db, videoId, { ...restart, now })).toBe(false);
      const row = await importOf(videoId);
      expect(row.status).toBe(status);
      expect(row.fetchUrl).toBe('https://cdn.example.com/clip.mp4');
    });
  });

  describe('parts, deletion, listing and events', () => {
    it('records a part once: a second record of the same index keeps the first', async () => {
      const videoId = await newImport(await newAccount(), 'IN_PROGRESS');
      await recordParts(db, videoId, [
        { partIndex: 0, offsetBytes: 0, lengthBytes: 4_000_000, crc32c: 111, receipt: { etag: 'first' } },
      ]);
      await recordParts(db, videoId, [
        { partIndex: 0, offsetBytes: 0, lengthBytes: 4_000_000, crc32c: 222, receipt: { etag: 'second' } },
        { partIndex: 1, offsetBytes: 4_000_000, lengthBytes: 4_000_000, crc32c: 333, receipt: null },
      ]);
      expect(await listRecordedParts(db, videoId)).toEqual([
        { partIndex: 0, offsetBytes: 0, lengthBytes: 4_000_000, crc32c: 111, receipt: { etag: 'first' } },
        { partIndex: 1, offsetBytes: 4_000_000, lengthBytes: 4_000_000, crc32c: 333, receipt: null },
      ]);
    });

    it('deletes videos with their imports and parts, reporting what storage they held', async () => {
      const account = await newAccount();
      const masterId = await newImport(account, 'IN_PROGRESS');
      await recordParts(db, masterId, [
        { partIndex: 0, offsetBytes: 0, lengthBytes: 4_000_000, crc32c: 1, receipt: null },
        { partIndex: 1, offsetBytes: 4_000_000, lengthBytes: 4_000_000, crc32c: 2, receipt: null },
      ]);
      await saveUploadState(db, masterId, { store: 'fs' });
      const clip = await newVideo(account, {
        isClip: true,
        masterVideoId: masterId,
        storageKey: 'teams/t/videos/clip/source',
      });
      const untouched = await newImport(account, 'IN_PROGRESS');
      await recordParts(db, untouched, [
        { partIndex: 0, offsetBytes: 0, lengthBytes: 4_000_000, crc32c: 9, receipt: null },
      ]);

      const deleted = await deleteVideos(db, [clip.id, masterId]);

      expect(deleted.sort((a, b) => a.id.localeCompare(b.id))).toEqual(
        [
          {
            id: clip.id,
            teamId: account.teamId,
            storageKey: 'teams/t/videos/clip/source',
            uploadState: null,
            importInProgress: false,
          },
          {
            id: masterId,
            teamId: account.teamId,
            storageKey: null,
            uploadState: { store: 'fs' },
            importInProgress: true,
          },
        ].sort((a, b) => a.id.localeCompare(b.id)),
      );
      expect(await findVideoById(db, masterId)).toBeNull();
      expect(await findVideoById(db, clip.id)).toBeNull();
      expect(await findImportForCopy(db, masterId)).toBeNull();
      const [parts] = await db.select({ value: count() }).from(importParts).where(eq(importParts.videoId, masterId));
      expect(parts?.value).toBe(0);
      expect(await listRecordedParts(db, untouched)).toHaveLength(1);
      expect(await deleteVideos(db, [masterId])).toEqual([]);
    });

    it('pages, sorts and filters video lists of one team', async () => {
      const account = await newAccount();
      const outsider = await newAccount();
      await newVideo(outsider, { createdAt: new Date('2024-01-01T00:00:00Z') });
      const masters: string[] = [];
      for (let day = 1; day <= 5; day += 1)
        masters.push((await newVideo(account, { createdAt: new Date(`2024-01-0${day}T00:00:00Z`) })).id);
      const clips: string[] = [];
      for (let day = 6; day <= 7; day += 1) {
        clips.push(
          (
            await newVideo(account, {
              isClip: true,
              masterVideoId: masters[0],
              createdAt: new Date(`2024-01-0${day}T00:00:00Z`),
            })
          ).id,
        );
      }
      const request = (pageNumber: number, pageSize: number, sortDirection: 'ASC' | 'DESC'): PageRequest => ({
        pageNumber,
        pageSize,
        sortDirection,
        sortBy: 'createdAt',
      });
      const ids = (page: { items: { video: { id: string } }[] }) => page.items.map((item) => item.video.id);

      const first = await listVideoViews(db, { teamId: account.teamId, clipMode: 'EXCLUDE' }, request(0, 2, 'ASC'));
      expect({ ...first, items: ids(first) }).toEqual({
        pageNumber: 0,
        pageSize: 2,
        numberOfElements: 2,
        totalPages: 3,
        totalElements: 5,
        items: masters.slice(0, 2),
      });
      const last = await listVideoViews(db, { teamId: account.teamId, clipMode: 'EXCLUDE' }, request(2, 2, 'ASC'));
      expect({ ...last, items: ids(last) }).toEqual({
        pageNumber: 2,
        pageSize: 2,
        numberOfElements: 1,
        totalPages: 3,
        totalElements: 5,
        items: [masters[4]],
      });
      const beyond = await listVideoViews(db, { teamId: account.teamId, clipMode: 'EXCLUDE' }, request(3, 2, 'ASC'));
      expect({ ...beyond, items: ids(beyond) }).toEqual({
        pageNumber: 3,
        pageSize: 2,
        numberOfElements: 0,
        totalPages: 3,
        totalElements: 5,
        items: [],
      });

      const descending = await listVideoViews(db, { teamId: account.teamId }, request(0, 3, 'DESC'));
      expect(ids(descending)).toEqual([clips[1], clips[0], masters[4]]);
      expect(descending.totalElements).toBe(7);
      expect(descending.totalPages).toBe(3);

      const included = await listVideoViews(db, { teamId: account.teamId, clipMode: 'INCLUDE' }, request(0, 10, 'ASC'));
      expect(ids(included)).toEqual([...masters, ...clips]);
      const onlyClips = await listVideoViews(db, { teamId: account.teamId, clipMode: 'ONLY' }, request(0, 10, 'ASC'));
      expect(ids(onlyClips)).toEqual(clips);
      expect(onlyClips.totalElements).toBe(2);
      expect(onlyClips.items.map((item) => item.master?.id)).toEqual([masters[0], masters[0]]);
      const ofMaster = await listVideoViews(
        db,
        { teamId: account.teamId, masterVideoId: masters[0] },
        request(0, 10, 'DESC'),
      );
      expect(ids(ofMaster)).toEqual([clips[1], clips[0]]);
    });

    it('forgets events recorded in a transaction that rolled back', async () => {
      const account = await newAccount();
      const videoId = randomUUID();
      await expect(
        db.transaction(async (tx) => {
          await recordEvent(tx, { teamId: account.teamId, videoId, type: 'video_in.started' });
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      expect(await listEventsOfVideo(db, videoId)).toEqual([]);
    });

    it('lists the events of a video in recording order, even within one transaction', async () => {
      const account = await newAccount();
      const videoId = randomUUID();
      const types: EventType[] = [
        'video_in.started',
        'video_in.failed',
        'video_in.started',
        'video_in_ingestion.started',
        'video_in.done',
        'video.deleted',
      ];
      await db.transaction(async (tx) => {
        for (const [index, type] of types.slice(0, 4).entries())
          await recordEvent(tx, { teamId: account.teamId, videoId, type, data: { index } });
      });
      for (const [index, type] of types.slice(4).entries())
        await recordEvent(db, { teamId: account.teamId, videoId, type, data: { index: index + 4 } });
      await recordEvent(db, { teamId: account.teamId, videoId: randomUUID(), type: 'video.deleted' });

      const events = await listEventsOfVideo(db, videoId);
      expect(events.map((event) => event.type)).toEqual(types);
      expect(events.map((event) => event.data)).toEqual(types.map((_type, index) => ({ index })));
    });
  });
});

describe.each(backends)('bootstrapAdmin on %s', (backend: Backend) => {
  let opened: Awaited<ReturnType<typeof openMigrated>>;
  let db: Database;

  beforeAll(async () => {
    opened = await openMigrated(backend, `${backend}-bootstrap`);
    db = opened.connection.db;
  });

  afterAll(async () => {
    await opened?.dispose();
  });

  // Bootstrap acts only on an empty database, so every test starts from one.
  beforeEach(async () => {
    await db.execute(sql`truncate table users, teams, team_members, projects, api_keys cascade`);
  });

  async function counts(): Promise<Record<string, number>> {
    const of = async (table: typeof users | typeof teams | typeof teamMembers | typeof projects | typeof apiKeys) =>
      (await db.select({ value: count() }).from(table))[0]?.value ?? Number.NaN;
    return {
      users: await of(users),
      teams: await of(teams),
      teamMembers: await of(teamMembers),
      projects: await of(projects),
      apiKeys: await of(apiKeys),
    };
  }

  const one = { users: 1, teams: 1, teamMembers: 1, projects: 1, apiKeys: 1 };

  it('creates one admin with a team, a default project and a generated key stored only as its SHA-256', async () => {
    const result = await bootstrapAdmin(db, { email: 'admin@example.com', apiKey: null });
    const apiKey = result.generatedApiKey;
    expect(apiKey).toMatch(/^rln_[A-Za-z0-9_-]{43}$/);
    if (apiKey === null) return;
    expect(await counts()).toEqual(one);

    const [user] = await db.select().from(users);
    const [project] = await db.select().from(projects);
    const [member] = await db.select().from(teamMembers);
    expect(user?.email).toBe('admin@example.com');
    expect(member).toMatchObject({ userId: user?.id, role: 'OWNER' });
    expect(project).toMatchObject({ teamId: member?.teamId, isDefault: true });
    expect(await findActiveApiKeyOwner(db, sha256(apiKey))).toMatchObject({ userId: user?.id });

    const keyRows = await db.select().from(apiKeys);
    expect(keyRows[0]).toMatchObject({ keyHash: sha256(apiKey), keyHint: apiKey.slice(-3), active: true });
    expect(JSON.stringify(keyRows)).not.toContain(apiKey);
    expect(JSON.stringify(keyRows)).not.toContain(apiKey.slice(4));
  });

  it('creates nothing on a second bootstrap', async () => {
    const first = await bootstrapAdmin(db, { email: 'admin@example.com', apiKey: null });
    const keyHashes = (await db.select({ keyHash: apiKeys.keyHash }).from(apiKeys)).map((row) => row.keyHash);
    expect(await bootstrapAdmin(db, { email: 'admin@example.com', apiKey: null })).toEqual({ generatedApiKey: null });
    expect(await counts()).toEqual(one);
    expect((await db.select({ keyHash: apiKeys.keyHash }).from(apiKeys)).map((row) => row.keyHash)).toEqual(keyHashes);
    expect(keyHashes).toEqual([sha256(first.generatedApiKey ?? '')]);
  });

  it('registers a given admin API key once, however often it runs', async () => {
    const apiKey = `rln_given-${randomUUID()}`;
    expect(await bootstrapAdmin(db, { email: 'admin@example.com', apiKey })).toEqual({ generatedApiKey: null });
    expect(await bootstrapAdmin(db, { email: 'admin@example.com', apiKey })).toEqual({ generatedApiKey: null });
    expect(await counts()).toEqual(one);
    const [user] = await db.select().from(users);
    expect(await findActiveApiKeyOwner(db, sha256(apiKey))).toMatchObject({ userId: user?.id });
    const [key] = await db.select().from(apiKeys);
    expect(key).toMatchObject({ name: 'REELIN_ADMIN_API_KEY', keyHash: sha256(apiKey), keyHint: apiKey.slice(-3) });
  });

  it('re-activates a given admin API key that was deactivated', async () => {
    const apiKey = `rln_given-${randomUUID()}`;
    await bootstrapAdmin(db, { email: 'admin@example.com', apiKey });
    await db.update(apiKeys).set({ active: false });
    expect(await findActiveApiKeyOwner(db, sha256(apiKey))).toBeNull();
    await bootstrapAdmin(db, { email: 'admin@example.com', apiKey });
    expect(await findActiveApiKeyOwner(db, sha256(apiKey))).not.toBeNull();
    expect(await counts()).toEqual(one);
  });

  it.runIf(backend === 'postgres')('creates exactly one admin when several processes start together', async () => {
    if (opened.connection.kind !== 'postgres') throw new Error('expected PostgreSQL');
    const others = await Promise.all(
      [1, 2, 3].map(() =>
        openDatabase({ kind: 'postgres', url: opened.connection.kind === 'postgres' ? opened.connection.url : '' }),
      ),
    );
    try {
      const apiKey = `rln_given-${randomUUID()}`;
      const results = await Promise.all(
        others.map((other) => bootstrapAdmin(other.db, { email: 'admin@example.com', apiKey })),
      );
      expect(results).toEqual([{ generatedApiKey: null }, { generatedApiKey: null }, { generatedApiKey: null }]);
      expect(await counts()).toEqual(one);
    } finally {
      for (const other of others) await other.close();
    }
  });
});
