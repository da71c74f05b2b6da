/**
 * A worker that stops while it ingests: its ffmpeg run is stopped at once (the process exits within
 * its grace period instead of waiting for the encode), the job goes back to the queue without using
 * up a retry, and the next process on the same database finishes the ingestion.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { callApi, type ApiAnswer } from '../support/child-service.js';
import { mediaFixture } from '../support/media-fixtures.js';
import { startOriginServer, type OriginServer } from '../support/origin-server.js';
import { ScriptedResolver } from '../support/scripted-resolver.js';
import { backends, createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import { TEST_API_KEY, testEnvironment } from '../support/test-service.js';

const ORIGIN_HOST = 'origin.reelin.test';

describe.each(backends)('stopping a worker in the middle of an ingestion (%s)', (backend) => {
  let pki: TestPki;
  let origin: OriginServer;
  let workDir: string;
  let database: TestDatabase;
  const apps: RunningApp[] = [];

  async function start(dataDir: string): Promise<RunningApp> {
    const resolver = new ScriptedResolver().set(ORIGIN_HOST, ['127.0.0.1']);
    const config = loadConfig(testEnvironment(dataDir, { REELIN_ALLOWED_PORTS: String(origin.port) }));
    const app = await startApp({ ...config, database: database.config }, 'serve', {
      extraCaCertificates: [pki.caCertPem],
      resolver,
    });
    apps.push(app);
    return app;
  }

  const api = (app: RunningApp, method: string, apiPath: string, body?: unknown): Promise<ApiAnswer> =>
    callApi(app.url ?? '', TEST_API_KEY, method, apiPath, body);

  async function waitFor(
    app: RunningApp,
    videoId: string,
    ready: (video: any) => boolean,
    timeoutMs: number,
  ): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown = null;
    while (Date.now() < deadline) {
      const response = await api(app, 'GET', `/api/v1/videos/${videoId}`);
      last = response.body;
      if (response.status === 200 && ready(response.body)) return response.body;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`video ${videoId} not ready within ${timeoutMs} ms: ${JSON.stringify(last)}`);
  }

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
    // Metadata is the first stage: once it is shown, ffmpeg is busy with the later ones.
    await waitFor(first, videoId, (video) => video.ingestion.ingestionState.videoMetadataAvailable === true, 60_000);

    const stopStarted = Date.now();
    await first.stop();
    apps.splice(apps.indexOf(first), 1);
    // The grace period is 2 s here: a job that ignored the shutdown would hold the stop until then.
    expect(Date.now() - stopStarted).toBeLessThan(1_000);

    const second = await start(workDir);
    const video = await waitFor(
      second,
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
