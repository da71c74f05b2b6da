/**
 * The media path's limits, kill and per-team ceiling through the real service, with stand-ins for
 * ffmpeg and ffprobe (tests/support/fake-media-tool.ts):
 * - a run that ignores SIGTERM past its wall-clock limit ends the ingestion FAILED with
 *   MEDIA_LIMIT_EXCEEDED, and none of its processes is left;
 * - media longer than a full ingestion takes is refused after its metadata, before any ffmpeg run;
 * - deleting a video while its ffmpeg runs (ignoring SIGTERM) leaves no process behind within 2 s,
 *   in one process and across processes (an API process deletes, a worker process runs ffmpeg);
 * - one team cannot take every media slot: with a ceiling of one, another team's ingestion starts
 *   while the first team's second one waits.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertAccount, insertApiKey } from '../../src/db/queries/tenancy.queries.js';
import { hashApiKey } from '../../src/services/tenancy.service.js';
import { callApi, startChildService, type ChildService } from '../support/child-service.js';
import { startE2eFixture, type E2eFixture } from '../support/e2e-fixture.js';
import { isRunning, realBinary, writeFakeTool, type FakeRun, type FakeTool } from '../support/fake-media-tool.js';
import { mediaFixture } from '../support/media-fixtures.js';
import { startOriginServer, type OriginServer } from '../support/origin-server.js';
import { backends, createPostgresTestDatabase, type PostgresTestDatabase } from '../support/test-database.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import { until } from '../support/wait.js';

const ingestionEnded = (video: any) => ['DONE', 'FAILED'].includes(video.ingestion.ingestionState.ingestionStatus);

/** Whether any process of these runs (the leader or the child it started) still runs. */
async function anyRunning(runs: readonly FakeRun[]): Promise<boolean> {
  const pids = runs.flatMap((run) => [run.pid, ...(run.childPid === null ? [] : [run.childPid])]);
  return (await Promise.all(pids.map(isRunning))).some(Boolean);
}

/** How long after `sinceMs` the last process of `runs` was gone. */
async function goneAfterMs(runs: readonly FakeRun[], sinceMs: number): Promise<number> {
  await until(
    'the processes to be gone',
    () => anyRunning(runs),
    (running) => !running,
    { timeoutMs: 10_000 },
  );
  return performance.now() - sinceMs;
}

describe.each(backends)('media limits through the service (%s)', (backend) => {
  let fx: E2eFixture;
  let tools: string;
  let ffmpeg: FakeTool;

  beforeAll(async () => {
    tools = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-fake-ffmpeg-'));
    ffmpeg = await writeFakeTool({ dir: tools, name: 'ffmpeg', behaviour: 'hang' });
    fx = await startE2eFixture(backend, {
      REELIN_FFMPEG_PATH: ffmpeg.path,
      // Every run gets 2 s (1% of each budget is less): a slow ffmpeg meets its limit at once.
      REELIN_MEDIA_TIME_LIMIT_FLOOR_SECONDS: '2',
      REELIN_MEDIA_TIME_LIMIT_PERCENT: '1',
      REELIN_MEDIA_MAX_DURATION_SECONDS: '5',
    });
    for (const name of ['short-4s', 'progressive'] as const)
      fx.origin.setFile(`/media/${name}.mp4`, { body: await fs.readFile(await mediaFixture(name)) });
    // A raw H.264 stream: no container, no index, so no duration.
    const { stdout } = await promisify(execFile)(
      await realBinary('ffmpeg'),
      [
        '-hide_banner',
        '-loglevel',
        'error',
        '-i',
        await mediaFixture('short-4s'),
        '-an',
        '-c:v',
        'copy',
        '-bsf:v',
        'h264_mp4toannexb',
        '-f',
        'h264',
        '-',
      ],
      { encoding: 'buffer', maxBuffer: 64 << 20 },
    );
    fx.origin.setFile('/media/raw.mp4', { body: stdout });
  }, 60_000);

  afterAll(async () => {
    await fx?.close();
    if (tools) await fs.rm(tools, { recursive: true, force: true });
  });

  const importFile = async (name: string, fullIngestion: boolean): Promise<string> => {
    const created = await fx.service.api('POST', `/api/v1/videos/in/https?fullIngestion=${fullIngestion}`, {
      body: { name, url: fx.url(`/media/${name}.mp4`) },
    });
    expect(created.status, created.text).toBe(201);
    return created.body.videoId as string;
  };

  it('stops an ffmpeg that ignores SIGTERM at its wall-clock limit, kills its whole group, and ends the ingestion FAILED with MEDIA_LIMIT_EXCEEDED', async () => {
    const videoId = await importFile('short-4s', true);
    const runs = await until(
      'the ffmpeg run',
      async () => (await ffmpeg.runs()).filter((run) => run.args.includes(videoId)),
      (found) => found.length === 1 && found[0]?.childPid != null,
      { timeoutMs: 30_000 },
    );
    expect(await anyRunning(runs)).toBe(true);
    const video = await fx.service.waitForVideo(videoId, ingestionEnded, 30_000);
    const state = video.ingestion.ingestionState;
    expect(state).toMatchObject({
      ingestionStatus: 'FAILED',
      videoMetadataAvailable: true,
      error: {
        code: 'MEDIA_LIMIT_EXCEEDED',
        message:
          'ingesting the video was stopped: ffmpeg did not finish within its time limit of 2 s, so it was stopped',
        details: { limit: 'time' },
      },
    });
    // The run settles only once its group leader is gone; the child went with it.
    expect(await anyRunning(runs)).toBe(false);
    // It failed for good: no retry started ffmpeg again.
    expect((await ffmpeg.runs()).filter((run) => run.args.includes(videoId))).toHaveLength(1);
  }, 60_000);

  it('refuses a full ingestion of media longer than the maximum after reading its metadata, before any ffmpeg run, and makes no clip of it', async () => {
    const videoId = await importFile('progressive', true);
    const video = await fx.service.waitForVideo(videoId, ingestionEnded, 30_000);
    expect(video.ingestion.ingestionState).toMatchObject({
      ingestionStatus: 'FAILED',
      videoMetadataAvailable: true,
      error: {
        code: 'MEDIA_LIMIT_EXCEEDED',
        message: 'the video lasts 12 s, longer than the 5 s this service ingests fully: only its metadata was read',
        details: { limit: 'duration', maxDurationMillis: 5_000 },
      },
    });
    expect(video.ingestion.metadata.durationInMillis).toBe(12_000);
    expect((await ffmpeg.runs()).filter((run) => run.args.includes(videoId))).toEqual([]);

    // Metadata-only ingestion is bounded whatever the duration: it ends DONE, without a clip.
    const metadataOnly = await importFile('progressive', false);
    const done = await fx.service.waitForVideo(metadataOnly, ingestionEnded, 30_000);
    expect(done.ingestion.ingestionState).toMatchObject({ ingestionStatus: 'DONE', videoMetadataAvailable: true });
    expect(done.clipId).toBeNull();
    expect((await fx.service.api('GET', `/api/v1/videos/${metadataOnly}/derived`)).body.totalElements).toBe(0);
  }, 60_000);

  it('reads the metadata of a raw H.264 stream and refuses its full ingestion: its duration is unknown', async () => {
    const videoId = await importFile('raw', true);
    const video = await fx.service.waitForVideo(videoId, ingestionEnded, 30_000);
    expect(video.ingestion.ingestionState).toMatchObject({
      ingestionStatus: 'FAILED',
      videoMetadataAvailable: true,
      error: { code: 'MEDIA_LIMIT_EXCEEDED', details: { limit: 'duration', durationMillis: null } },
    });
    expect(video.ingestion.ingestionState.error.message).toMatch(
      /^the video's duration is unknown \(a live stream, a raw stream without an index, or a damaged file\)/,
    );
    expect(video.ingestion.metadata).toMatchObject({
      containerName: 'H.264 elementary stream',
      codecName: 'h264',
      frameWidth: 640,
      frameHeight: 360,
      durationInMillis: null,
    });
    expect((await ffmpeg.runs()).filter((run) => run.args.includes(videoId))).toEqual([]);
  }, 60_000);
});

describe.each(backends)('deleting a video while its ffmpeg runs (%s)', (backend) => {
  let fx: E2eFixture;
  let tools: string;
  let ffmpeg: FakeTool;

  beforeAll(async () => {
    tools = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-fake-ffmpeg-'));
    ffmpeg = await writeFakeTool({ dir: tools, name: 'ffmpeg', behaviour: 'hang' });
    fx = await startE2eFixture(backend, { REELIN_FFMPEG_PATH: ffmpeg.path });
    fx.origin.setFile('/media/short-4s.mp4', { body: await fs.readFile(await mediaFixture('short-4s')) });
  }, 60_000);

  afterAll(async () => {
    await fx?.close();
    if (tools) await fs.rm(tools, { recursive: true, force: true });
  });

  it('leaves no ffmpeg process behind within 2 s, even one that ignores SIGTERM, and ends the job without a retry', async () => {
    const created = await fx.service.api('POST', '/api/v1/videos/in/https?fullIngestion=true', {
      body: { name: 'Deleted', url: fx.url('/media/short-4s.mp4') },
    });
    const videoId = created.body.videoId as string;
    const runs = await until(
      'the ffmpeg run',
      async () => (await ffmpeg.runs()).filter((run) => run.args.includes(videoId)),
      (found) => found.length === 1 && found[0]?.childPid != null,
      { timeoutMs: 30_000 },
    );
    expect(await anyRunning(runs)).toBe(true);

    const deletingMs = performance.now();
    const deleted = await fx.service.api('DELETE', `/api/v1/videos/${videoId}`);
    expect(deleted.status, deleted.text).toBe(200);
    expect(deleted.body).toEqual([videoId]);
    const afterMs = await goneAfterMs(runs, deletingMs);
    console.log(`[${backend}] ffmpeg (ignoring SIGTERM) gone ${Math.round(afterMs)} ms after the DELETE was sent`);
    expect(afterMs).toBeLessThan(2_000);

    // The job ended (completed, not failed into a retry), and started no other ffmpeg.
    const states = await until(
      'the ingestion job to complete',
      async () => {
        const result = (await fx.service.app.connection.db.execute(
          sql`select state from pgboss.job where name = 'ingest-video' and data->>'videoId' = ${videoId}`,
        )) as unknown as { rows: { state: string }[] };
        return result.rows.map((row) => row.state);
      },
      (found) => found.length > 0 && found.every((state) => state === 'completed'),
      { timeoutMs: 10_000 },
    );
    expect(states).toEqual(['completed']);
    expect((await ffmpeg.runs()).filter((run) => run.args.includes(videoId))).toHaveLength(1);
    expect((await fx.service.api('GET', `/api/v1/videos/${videoId}`)).status).toBe(404);
  }, 60_000);
});

describe.runIf(process.env.TEST_DATABASE_URL)(
  'deleting a video while a worker process runs its ffmpeg, from an API process (PostgreSQL)',
  () => {
    const API_KEY = 'rln_media_limits_key_abcdefghijklmnopqrstuvwxyz0123';
    let pki: TestPki;
    let origin: OriginServer;
    let workDir: string;
    let database: PostgresTestDatabase;
    let ffmpeg: FakeTool;
    const children: ChildService[] = [];

    beforeAll(async () => {
      pki = await createTestPki();
      origin = await startOriginServer({ pki });
      origin.setFile('/media/short-4s.mp4', { body: await fs.readFile(await mediaFixture('short-4s')) });
      workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-media-processes-'));
      ffmpeg = await writeFakeTool({ dir: workDir, name: 'ffmpeg', behaviour: 'hang' });
      database = await createPostgresTestDatabase();
    }, 60_000);

    afterAll(async () => {
      for (const child of children) await child.kill('SIGKILL');
      await database?.drop();
      await origin?.close();
      await pki?.cleanup();
      if (workDir && !process.env.KEEP_LOGS) await fs.rm(workDir, { recursive: true, force: true });
    });

    it("stops the worker's ffmpeg, which ignores SIGTERM, within 2 s of the API process's DELETE", async () => {
      const env: Record<string, string> = {
        DATABASE_URL: database.url,
        REELIN_DATA_DIR: path.join(workDir, 'data'),
        REELIN_ADMIN_API_KEY: API_KEY,
        REELIN_ALLOW_PRIVATE_NETWORKS: '127.0.0.1/32',
        REELIN_ALLOWED_PORTS: String(origin.port),
        NODE_EXTRA_CA_CERTS: pki.caCertPath,
        REELIN_WEBHOOK_KEY_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
        REELIN_FFMPEG_PATH: ffmpeg.path,
        REELIN_LOG_LEVEL: 'info',
        REELIN_QUEUE_POLL_INTERVAL_SECONDS: '1',
        REELIN_SHUTDOWN_TIMEOUT_MS: '2000',
      };
      children.push(await startChildService('migrate', env, workDir));
      const api = await startChildService('api', env, workDir);
      children.push(api);
      children.push(await startChildService('worker', env, workDir));
      const baseUrl = api.url ?? '';

      const created = await callApi(baseUrl, API_KEY, 'POST', '/api/v1/videos/in/https?fullIngestion=true', {
        name: 'Deleted',
        url: origin.url('/media/short-4s.mp4'),
      });
      expect(created.status).toBe(201);
      const videoId = created.body.videoId as string;
      const runs = await until(
        "the worker's ffmpeg run",
        async () => (await ffmpeg.runs()).filter((run) => run.args.includes(videoId)),
        (found) => found.length === 1 && found[0]?.childPid != null,
        { timeoutMs: 60_000 },
      );

      const deletingMs = performance.now();
      const deleted = await callApi(baseUrl, API_KEY, 'DELETE', `/api/v1/videos/${videoId}`);
      expect(deleted.status).toBe(200);
      const afterMs = await goneAfterMs(runs, deletingMs);
      console.log(
        `[api + worker processes] ffmpeg (ignoring SIGTERM) gone ${Math.round(afterMs)} ms after the DELETE was sent to the API process`,
      );
      expect(afterMs).toBeLessThan(2_000);
    }, 120_000);
  },
);

describe.each(backends)('the per-team ceiling of media work (%s)', (backend) => {
  const OTHER_KEY = 'rln_other_team_key_abcdefghijklmnopqrstuvwxyz012345';
  let fx: E2eFixture;
  let tools: string;
  let ffprobe: FakeTool;

  beforeAll(async () => {
    tools = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-fake-ffprobe-'));
    // Every probe waits for the gate: a metadata-only ingestion runs as long as the test wants.
    ffprobe = await writeFakeTool({ dir: tools, name: 'ffprobe', behaviour: 'gate' });
    fx = await startE2eFixture(backend, {
      REELIN_FFPROBE_PATH: ffprobe.path,
      REELIN_MEDIA_JOBS_PER_TEAM: '1',
      REELIN_INGEST_JOBS_PER_WORKER: '3',
    });
    fx.origin.setFile('/media/short-4s.mp4', { body: await fs.readFile(await mediaFixture('short-4s')) });
    const db = fx.service.app.connection.db;
    const other = await insertAccount(db, {
      email: `other-${randomUUID()}@example.com`,
      userName: 'Other',
      teamName: 'Other team',
      projectName: 'Other project',
    });
    await insertApiKey(db, {
      userId: other.userId,
      name: 'other',
      description: null,
      keyHash: hashApiKey(OTHER_KEY),
      keyHint: OTHER_KEY.slice(-3),
    });
    for (const apiKey of [undefined, OTHER_KEY]) {
      const team = (await fx.service.api('GET', '/api/v1/account', { ...(apiKey ? { apiKey } : {}) })).body.defaultTeam;
      expect(
        (
          await fx.service.api('PATCH', `/api/v1/teams/${team.id}`, {
            body: { freeClipEnabled: false },
            ...(apiKey ? { apiKey } : {}),
          })
        ).status,
      ).toBe(200);
    }
  }, 60_000);

  afterAll(async () => {
    await fx?.close();
    if (tools) await fs.rm(tools, { recursive: true, force: true });
  });

  const importAs = async (apiKey: string | undefined, name: string): Promise<string> => {
    const created = await fx.service.api('POST', '/api/v1/videos/in/https', {
      body: { name, url: fx.url('/media/short-4s.mp4') },
      ...(apiKey ? { apiKey } : {}),
    });
    expect(created.status, created.text).toBe(201);
    return created.body.videoId as string;
  };
  const statusOf = async (videoId: string, apiKey?: string): Promise<string> =>
    (await fx.service.api('GET', `/api/v1/videos/${videoId}`, apiKey ? { apiKey } : {})).body.ingestion.ingestionState
      .ingestionStatus as string;

  it("starts another team's ingestion while the first team's second one waits for its slot, and then runs that one too", async () => {
    // Team A's two imports are copied first, so its second ingestion is queued before team B's.
    const [a1, a2] = [await importAs(undefined, 'A1'), await importAs(undefined, 'A2')];
    for (const videoId of [a1, a2]) await fx.service.waitForUpload(videoId, 'DONE');
    const b1 = await importAs(OTHER_KEY, 'B1');

    // Three ingestion slots on this worker, but team A may hold one: B's probe starts, and only one of A's
    // two does (either may win A's slot: both were queued before B's, and the one that finds the slot
    // taken is queued again).
    const running = await until(
      "team B's probe",
      () => ffprobe.runs(),
      (runs) => runs.some((run) => run.args.includes(b1)),
      { timeoutMs: 30_000 },
    );
    const teamARuns = running.filter((run) => run.args.includes(a1) || run.args.includes(a2));
    expect(teamARuns).toHaveLength(1);
    const [aFirst, aSecond] = teamARuns[0]!.args.includes(a1) ? [a1, a2] : [a2, a1];
    expect(running.filter((run) => run.args.includes(aSecond))).toEqual([]);
    expect(await statusOf(aFirst)).toBe('IN_PROGRESS');
    expect(await statusOf(aSecond)).toBe('INITIAL');
    expect(await statusOf(b1, OTHER_KEY)).toBe('IN_PROGRESS');

    await ffprobe.openGate();
    for (const [videoId, apiKey] of [
      [aFirst, undefined],
      [aSecond, undefined],
      [b1, OTHER_KEY],
    ] as const) {
      const status = await until(
        `the ingestion of ${videoId}`,
        () => statusOf(videoId, apiKey),
        (found) => ['DONE', 'FAILED'].includes(found),
        { timeoutMs: 30_000 },
      );
      expect(status, apiKey ?? 'team A').toBe('DONE');
    }
    // A's second probe started only after B's, once A's first one's slot was free.
    const runs = await ffprobe.runs();
    const order = runs.map((run) =>
      run.args.includes(aFirst) ? 'A1' : run.args.includes(aSecond) ? 'A2' : run.args.includes(b1) ? 'B1' : 'other',
    );
    expect(order.filter((name) => name === 'A2')).toHaveLength(1);
    expect(order.indexOf('A2')).toBeGreaterThan(order.indexOf('B1'));
  }, 120_000);
});
