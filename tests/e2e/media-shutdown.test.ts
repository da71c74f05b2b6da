/**
 * A worker that stops while it ingests: its ffmpeg run is stopped at once (the process exits within
 * its grace period instead of waiting for the encode), the job goes back to the queue without using
 * up a retry, and the next process on the same database finishes the ingestion.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningApp } from '../../src/app.js';
import { openDatabase } from '../../src/db/database.js';
import { isRunning } from '../support/fake-media-tool.js';
import { mediaFixture } from '../support/media-fixtures.js';
import { startOriginServer, type OriginServer } from '../support/origin-server.js';
import { ScriptedResolver } from '../support/scripted-resolver.js';
import { backends, createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import { serviceClient, startServiceApp } from '../support/test-service.js';
import { until } from '../support/wait.js';

const ORIGIN_HOST = 'origin.reelin.test';

/** Pids of the live ffmpeg runs (not ffprobe) whose arguments mention `text` (the video's id is in its file's path). */
async function ffmpegRunsAbout(text: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const args = (await fs.readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (args.some((arg) => path.basename(arg) === 'ffmpeg') && args.some((arg) => arg.includes(text)))
      if (await isRunning(Number(entry))) found.push(Number(entry));
  }
  return found;
}

describe.each(backends)('stopping a worker in the middle of an ingestion (%s)', (backend) => {
  let pki: TestPki;
  let origin: OriginServer;
  let workDir: string;
  let database: TestDatabase;
  const apps: RunningApp[] = [];

  async function start(dataDir: string): Promise<RunningApp> {
    // A long grace period: a job that ignored the stop would hold it far longer than one stopped at once.
    const app = await startServiceApp({
      dataDir,
      database: database.config,
      env: { REELIN_ALLOWED_PORTS: String(origin.port), REELIN_SHUTDOWN_TIMEOUT_MS: '60000' },
      extraCaCertificates: [pki.caCertPem],
      resolver: new ScriptedResolver().set(ORIGIN_HOST, ['127.0.0.1']),
    });
    apps.push(app);
    return app;
  }

  const api = (app: RunningApp, method: string, apiPath: string, body?: unknown) =>
    serviceClient(app.url ?? '').api(method, apiPath, body === undefined ? {} : { body });

  beforeAll(async () => {
    pki = await createTestPki();
    origin = await startOriginServer({ pki });
    workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-media-shutdown-'));
    database = await createTestDatabase(backend, path.join(workDir, 'db'));
    origin.setFile('/media/master.mp4', { body: await fs.readFile(await mediaFixture('progressive')) });
  }, 120_000);

  afterAll(async () => {
    for (const app of apps) await app.stop().catch(() => undefined);
    await database?.drop().catch(() => undefined);
    await origin?.close();
    await pki?.cleanup();
    if (workDir) await fs.rm(workDir, { recursive: true, force: true });
  });

  it('stops ffmpeg at once, queues the job again, and the next process finishes the ingestion', async () => {
    const first = await start(workDir);
    const team = (await api(first, 'GET', '/api/v1/account')).body.defaultTeam;
    await api(first, 'PATCH', `/api/v1/teams/${team.id}`, { freeClipEnabled: false });
    const created = await api(first, 'POST', '/api/v1/videos/in/https?fullIngestion=true', {
      name: 'Master',
      url: `https://${ORIGIN_HOST}:${origin.port}/media/master.mp4`,
    });
    expect(created.status).toBe(201);
    const videoId = created.body.videoId as string;
    // Stopped while ffmpeg works on this video (the metadata stage runs ffprobe, the later ones ffmpeg).
    const running = await until(
      `an ffmpeg run on ${videoId}`,
      () => ffmpegRunsAbout(videoId),
      (pids) => pids.length > 0,
      { timeoutMs: 60_000 },
    );

    const stopStarted = Date.now();
    await first.stop();
    apps.splice(apps.indexOf(first), 1);
    const stopMs = Date.now() - stopStarted;
    for (const pid of running) expect(await isRunning(pid), `ffmpeg ${pid} after the stop`).toBe(false);
    // Well inside the 60 s grace period, which a job that ignored the stop would use up.
    expect(stopMs).toBeLessThan(30_000);

    // The interrupted job ended and a new one waits, with none of its retries used.
    const connection = await openDatabase(database.config);
    try {
      const jobs = (await connection.db.execute(
        sql`select state, retry_count as "retryCount" from pgboss.job
            where name = 'ingest-video' and data->>'videoId' = ${videoId} order by created_on`,
      )) as unknown as { rows: { state: string; retryCount: number }[] };
      expect(jobs.rows).toEqual([
        { state: 'completed', retryCount: 0 },
        { state: 'created', retryCount: 0 },
      ]);
    } finally {
      await connection.close();
    }

    const second = await start(workDir);
    const video = await serviceClient(second.url ?? '').waitForVideo(
      videoId,
      (state) => ['DONE', 'FAILED'].includes(state.ingestion.ingestionState.ingestionStatus),
      120_000,
    );
    expect(video.ingestion.ingestionState.ingestionStatus).toBe('DONE');
    expect(video.ingestion.ingestionState.error ?? null).toBeNull();
    expect(video.flags).toMatchObject({ isIngested: true, isIngesting: false });
    const thumbnails = await api(second, 'GET', `/api/v1/videos/${videoId}/thumbnails`);
    expect(thumbnails.status).toBe(200);
  }, 240_000);
});
