/**
 * Many processes on one PostgreSQL: 2 `api` and 3 `worker` processes take 10 concurrent imports
 * (3 of them real media with full ingestion, so clips are cut too), and one worker is killed with
 * SIGKILL while it copies. Every import must end DONE with the source's bytes, every clip be made
 * once, and no job run twice to completion (events and pg-boss's completed jobs are counted).
 * Storage is the local S3 server (`REELIN_SCALE_TEST_STORAGE=fs` runs it on a shared data folder).
 *
 * A second, smaller topology proves the API processes keep no state of their own: a download link
 * one signs another serves, the webhook signing keys are the same through both, and the test-event
 * limit is counted across both.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ChildServices,
  callApi,
  childEnvironment,
  type ApiAnswer,
  type ChildService,
} from '../support/child-service.js';
import { mediaFixture } from '../support/media-fixtures.js';
import { startOriginServer, type OriginServer } from '../support/origin-server.js';
import { startS3TestServer, type S3TestServer } from '../support/s3-server.js';
import { createPostgresTestDatabase, type PostgresTestDatabase } from '../support/test-database.js';
import { until } from '../support/wait.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';

const API_KEY = 'rln_scale_test_key_abcdefghijklmnopqrstuvwxyz0123';
const MEBIBYTE = 1024 * 1024;
/** S3's smallest part (but the last), so the parts are the same on either store. */
const PART_SIZE = 5 * MEBIBYTE;
const RANDOM_IMPORTS = 7;
const MEDIA_IMPORTS = 3;
const BUCKET = 'reelin-scale';
const storageKind = process.env.REELIN_SCALE_TEST_STORAGE === 'fs' ? 'fs' : 's3';

const api = (baseUrl: string, method: string, apiPath: string, body?: unknown): Promise<ApiAnswer> =>
  callApi(baseUrl, API_KEY, method, apiPath, body);

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function downloadSha256(url: string): Promise<string> {
  const response = await request(url);
  expect(response.statusCode).toBe(200);
  const hash = createHash('sha256');
  for await (const chunk of response.body) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Polls every 250 ms until `probe` answers a value (not null), and returns it. */
async function untilFound<T>(what: string, timeoutMs: number, probe: () => Promise<T | null>): Promise<T> {
  return (await until(what, probe, (value) => value !== null, { timeoutMs, intervalMs: 250 })) as T;
}

describe.skipIf(!process.env.TEST_DATABASE_URL)(
  'many API and worker processes on one PostgreSQL (TEST_DATABASE_URL unset: skipped, it needs a PostgreSQL server)',
  () => {
    let pki: TestPki;
    let origin: OriginServer;
    let s3: S3TestServer | null = null;
    let workDir: string;
    const databases: PostgresTestDatabase[] = [];
    const clients: pg.Client[] = [];
    const children = new ChildServices(() => workDir);

    beforeAll(async () => {
      pki = await createTestPki();
      origin = await startOriginServer({ pki });
      workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-scale-'));
    });
    afterAll(async () => {
      await children.killAll();
      for (const client of clients) await client.end();
      for (const database of databases) await database.drop();
      await s3?.close();
      await origin?.close();
      await pki?.cleanup();
      if (!process.env.KEEP_LOGS) await fs.rm(workDir, { recursive: true, force: true });
    });

    async function freshDatabase(): Promise<{ url: string; sql: pg.Client }> {
      const database = await createPostgresTestDatabase();
      databases.push(database);
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      clients.push(client);
      return { url: database.url, sql: client };
    }

    function environment(
      databaseUrl: string,
      dataDir: string,
      extra: Record<string, string> = {},
    ): Record<string, string> {
      return childEnvironment(
        { dataDir, apiKey: API_KEY, caCertPath: pki.caCertPath, allowedPorts: [origin.port], databaseUrl },
        {
          REELIN_QUEUE_SUPERVISE_INTERVAL_SECONDS: '1',
          REELIN_COPY_MIN_PART_SIZE_BYTES: String(PART_SIZE),
          REELIN_COPY_PROGRESS_INTERVAL_MS: '200',
          REELIN_COPY_CHECKPOINT_INTERVAL_MS: '500',
          REELIN_THUMBNAIL_COUNT: '2',
          REELIN_SHUTDOWN_TIMEOUT_MS: '3000',
          ...extra,
        },
      );
    }

    const start = (role: 'api' | 'worker' | 'migrate', env: Record<string, string>) => children.start(role, env);

    it(`copies 10 concurrent imports through 2 API and 3 worker processes (${storageKind} store), survives a worker killed with SIGKILL, and runs every job to completion once`, async () => {
      const { url: databaseUrl, sql } = await freshDatabase();
      let storageEnv: Record<string, string> = {};
      if (storageKind === 's3') {
        s3 = await startS3TestServer();
        await s3.createBucket(BUCKET);
        storageEnv = {
          REELIN_STORAGE: 's3',
          REELIN_S3_BUCKET: BUCKET,
          REELIN_S3_ENDPOINT: s3.endpoint,
          REELIN_S3_REGION: s3.region,
          REELIN_S3_FORCE_PATH_STYLE: 'true',
          AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
          AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
          AWS_EC2_METADATA_DISABLED: 'true',
        };
      }
      const env = environment(databaseUrl, path.join(workDir, 'scale-data'), storageEnv);

      // Sources: distinct random files of 3 to 6 parts, throttled so the copies run for several
      // seconds, and a short real video imported with full ingestion (so a clip is cut of each).
      const sources: { path: string; body: Buffer; fullIngestion: boolean }[] = [];
      for (let index = 0; index < RANDOM_IMPORTS; index += 1) {
        const body = randomBytes(12 * MEBIBYTE + index * 3 * MEBIBYTE + 1_000 * index + 7);
        sources.push({ path: `/random-${index}.mxf`, body, fullIngestion: false });
      }
      const media = await fs.readFile(await mediaFixture('short-4s'));
      for (let index = 0; index < MEDIA_IMPORTS; index += 1)
        sources.push({ path: `/media-${index}.mp4`, body: media, fullIngestion: true });
      for (const source of sources) {
        origin.setFile(source.path, {
          body: source.body,
          contentType: source.fullIngestion ? 'video/mp4' : 'application/mxf',
        });
        if (!source.fullIngestion) origin.setBehaviour(source.path, { throttleBytesPerSecondPerConnection: 1_500_000 });
      }

      await start('migrate', env);
      const [apiA, apiB] = await Promise.all([start('api', env), start('api', env)]);
      const apis = [apiA.url ?? '', apiB.url ?? ''];
      const workers = await Promise.all([start('worker', env), start('worker', env), start('worker', env)]);

      const videoIds = await Promise.all(
        sources.map(async (source, index) => {
          const created = await api(
            apis[index % 2]!,
            'POST',
            `/api/v1/videos/in/https?maxConcurrentConnections=2&fullIngestion=${source.fullIngestion}`,
            { name: `Import ${index}`, url: origin.url(source.path, '127.0.0.1') },
          );
          expect(created.status).toBe(201);
          return created.body.videoId as string;
        }),
      );
      const randomIds = videoIds.slice(0, RANDOM_IMPORTS);
      const mediaIds = videoIds.slice(RANDOM_IMPORTS);

      // Kill the worker running the most copies once every random copy is well under way (some
      // parts recorded) and none is finished.
      await untilFound('every random copy to record a part', 60_000, async () => {
        const { rows } = await sql.query<{ recorded: number }>(
          'select count(distinct video_id)::int as recorded from import_parts where video_id = any($1)',
          [randomIds],
        );
        return rows[0]!.recorded === RANDOM_IMPORTS ? true : null;
      });
      const running = await runningCopiesByWorker(workers, sql, randomIds);
      const victim = running.reduce((best, entry) => (entry.videoIds.length > best.videoIds.length ? entry : best));
      expect(victim.videoIds.length).toBeGreaterThanOrEqual(1);
      expect(await victim.worker.kill('SIGKILL')).toBe('SIGKILL');

      // Every import ends DONE, with the source's bytes.
      await untilFound('every import to end', 150_000, async () => {
        const { rows } = await sql.query<{ status: string }>(
          'select status from video_imports where video_id = any($1)',
          [videoIds],
        );
        return rows.every((row) => row.status === 'DONE' || row.status === 'FAILED') ? true : null;
      });
      const { rows: imports } = await sql.query<{ video_id: string; status: string; error_message: string | null }>(
        'select video_id, status, error_message from video_imports where video_id = any($1)',
        [videoIds],
      );
      expect(imports.map((row) => [row.status, row.error_message])).toEqual(videoIds.map(() => ['DONE', null]));
      for (const [index, videoId] of videoIds.entries()) {
        const link = await api(apis[(index + 1) % 2]!, 'POST', `/api/v1/videos/${videoId}/out/https`);
        expect(link.status).toBe(200);
        expect(await downloadSha256(new URL(link.body.presignedUrl, apis[(index + 1) % 2]).toString())).toBe(
          sha256(sources[index]!.body),
        );
      }
      // The killed worker's copies were continued by the others from the recorded parts.
      const survivorsLog = (
        await Promise.all(
          workers.filter((worker) => worker !== victim.worker).map((worker) => fs.readFile(worker.logPath, 'utf8')),
        )
      ).join('\n');
      for (const videoId of victim.videoIds)
        expect(survivorsLog).toMatch(new RegExp(`"videoId":"${videoId}"[^\\n]*"copy done"`));

      // Each full-ingestion master gets one clip, cut and ingested once.
      const clips = await untilFound('every clip to be cut and ingested', 150_000, async () => {
        const { rows } = await sql.query<{ id: string; master_video_id: string; cut: string; ingested: string | null }>(
          `select v.id, v.master_video_id, c.status as cut, i.status as ingested
           from videos v join clip_processings c on c.video_id = v.id left join video_ingestions i on i.video_id = v.id
          where v.is_clip and v.master_video_id = any($1)`,
          [videoIds],
        );
        return rows.length === MEDIA_IMPORTS &&
          rows.every((row) => row.ingested === 'DONE' || row.ingested === 'FAILED')
          ? rows
          : null;
      });
      expect(clips.map((clip) => clip.master_video_id).sort()).toEqual([...mediaIds].sort());
      expect(clips.map((clip) => [clip.cut, clip.ingested])).toEqual(clips.map(() => ['DONE', 'DONE']));
      const clipIds = clips.map((clip) => clip.id);
      await untilFound('every master ingestion to end', 60_000, async () => {
        const { rows } = await sql.query<{ status: string }>(
          'select status from video_ingestions where video_id = any($1)',
          [videoIds],
        );
        return rows.length === videoIds.length && rows.every((row) => row.status === 'DONE' || row.status === 'FAILED')
          ? true
          : null;
      });

      // No stage ran twice to completion: one done event per video and stage...
      const { rows: doneEvents } = await sql.query<{ video_id: string; type: string; count: number }>(
        `select video_id, type, count(*)::int as count from events where type in ('video_in.done', 'video_in_ingestion.done', 'clip_processing.done', 'clip_ingestion.done') group by video_id, type`,
      );
      const countsOf = (type: string) =>
        Object.fromEntries(doneEvents.filter((row) => row.type === type).map((row) => [row.video_id, row.count]));
      expect(countsOf('video_in.done')).toEqual(Object.fromEntries(videoIds.map((id) => [id, 1])));
      expect(countsOf('video_in_ingestion.done')).toEqual(Object.fromEntries(mediaIds.map((id) => [id, 1])));
      expect(countsOf('clip_processing.done')).toEqual(Object.fromEntries(clipIds.map((id) => [id, 1])));
      expect(countsOf('clip_ingestion.done')).toEqual(Object.fromEntries(clipIds.map((id) => [id, 1])));

      // ...and one completed pg-boss job per video and queue, none left running.
      const { rows: completed } = await sql.query<{ name: string; video_id: string; count: number }>(
        `select name, data->>'videoId' as video_id, count(*)::int as count from pgboss.job
        where state = 'completed' and name in ('copy-video', 'ingest-video', 'cut-clip') group by name, data->>'videoId'`,
      );
      const completionsOf = (name: string) =>
        Object.fromEntries(completed.filter((row) => row.name === name).map((row) => [row.video_id, row.count]));
      expect(completionsOf('copy-video')).toEqual(Object.fromEntries(videoIds.map((id) => [id, 1])));
      expect(completionsOf('cut-clip')).toEqual(Object.fromEntries(clipIds.map((id) => [id, 1])));
      // Ingestion of the random files fails as media (not a video) but the job still completes once.
      expect(completionsOf('ingest-video')).toEqual(Object.fromEntries([...videoIds, ...clipIds].map((id) => [id, 1])));
      const { rows: unfinished } = await sql.query<{ count: number }>(
        `select count(*)::int as count from pgboss.job where state in ('created', 'retry', 'active') and name in ('copy-video', 'ingest-video', 'cut-clip')`,
      );
      expect(unfinished[0]!.count).toBe(0);
      // Every copy let go of its source host connections (the killed worker's lease expired).
      await untilFound("the killed worker's lease to expire", 30_000, async () => {
        const { rows } = await sql.query<{ count: number }>(
          'select count(*)::int as count from host_leases where expires_at > now()',
        );
        return rows[0]!.count === 0 ? true : null;
      });
      if (s3) expect(s3.listUploads(BUCKET)).toEqual([]);
    }, 300_000);

    it('keeps no state in API processes: a link one signs another serves, signing keys and the test-event limit are shared', async () => {
      const { url: databaseUrl, sql } = await freshDatabase();
      const env = environment(databaseUrl, path.join(workDir, 'stateless-data'));
      const body = randomBytes(MEBIBYTE + 5);
      origin.setFile('/stateless.mov', { body });
      await start('migrate', env);
      const [apiA, apiB] = await Promise.all([start('api', env), start('api', env)]);
      const [a, b] = [apiA.url ?? '', apiB.url ?? ''];
      await start('worker', env);

      const created = await api(a, 'POST', '/api/v1/videos/in/https', {
        name: 'Stateless',
        url: origin.url('/stateless.mov', '127.0.0.1'),
      });
      expect(created.status).toBe(201);
      const videoId = created.body.videoId as string;
      await untilFound('the import to end', 60_000, async () => {
        const status = (await api(b, 'GET', `/api/v1/videos/${videoId}/in/status`)).body?.upload?.uploadState
          ?.uploadStatus;
        return status === 'DONE' || status === 'FAILED' ? status : null;
      });

      // A download link signed by A, opened at B.
      const link = await api(a, 'POST', `/api/v1/videos/${videoId}/out/https`);
      expect(link.status).toBe(200);
      // Without REELIN_PUBLIC_URL links are relative: any API process behind the same origin opens them.
      expect(link.body.presignedUrl).toMatch(/^\/api\/downloads\//);
      const signedByA = new URL(link.body.presignedUrl, a);
      expect(await downloadSha256(`${b}${signedByA.pathname}${signedByA.search}`)).toBe(sha256(body));
      const signature = signedByA.searchParams.get('signature') ?? '';
      signedByA.searchParams.set('signature', `${signature.slice(0, -1)}${signature.endsWith('A') ? 'B' : 'A'}`);
      const tampered = await request(`${b}${signedByA.pathname}${signedByA.search}`);
      await tampered.body.dump();
      expect(tampered.statusCode).toBe(403);

      // The webhook signing keys are the database's, the same through either process.
      const keysA = await api(a, 'GET', '/api/v1/webhooks/public-keys');
      const keysB = await api(b, 'GET', '/api/v1/webhooks/public-keys');
      expect(keysA.status).toBe(200);
      expect(keysB.body).toEqual(keysA.body);

      // The test-event limit (1000 per team per day) counts the team's test events through both.
      const hook = await api(a, 'POST', '/api/v1/webhooks', {
        name: 'limit',
        url: origin.url('/hook', '127.0.0.1'),
        eventTypes: ['video_in.done'],
        maxTotalRetryDelayMinutes: 0,
      });
      expect(hook.status).toBe(201);
      expect((await api(a, 'POST', `/api/v1/webhooks/${hook.body.id}/test`)).status).toBe(201);
      // 998 more, as if sent earlier today (and already given up, so nobody sends them).
      await sql.query(
        `insert into webhook_deliveries (webhook_id, team_id, event_type, video_id, occurred_at, test, status, retry_until)
       select $1, $2, 'video_in.done', gen_random_uuid(), now(), true, 'FAILED', now() from generate_series(1, 998)`,
        [hook.body.id, hook.body.teamId],
      );
      expect((await api(b, 'POST', `/api/v1/webhooks/${hook.body.id}/test`)).status).toBe(201);
      const overA = await api(a, 'POST', `/api/v1/webhooks/${hook.body.id}/test`);
      const overB = await api(b, 'POST', `/api/v1/webhooks/${hook.body.id}/test`);
      expect([overA.status, overA.body.errorCode, overB.status, overB.body.errorCode]).toEqual([
        409,
        'TOO_MANY_WEBHOOK_TEST_EVENTS',
        409,
        'TOO_MANY_WEBHOOK_TEST_EVENTS',
      ]);
    }, 120_000);
  },
);

/** For each worker, the random imports it leased connections for and has not finished, still IN_PROGRESS. */
async function runningCopiesByWorker(
  workers: ChildService[],
  sql: pg.Client,
  videoIds: string[],
): Promise<{ worker: ChildService; videoIds: string[] }[]> {
  const { rows } = await sql.query<{ video_id: string }>(
    `select video_id from video_imports where video_id = any($1) and status = 'IN_PROGRESS'`,
    [videoIds],
  );
  const inProgress = new Set(rows.map((row) => row.video_id));
  return Promise.all(
    workers.map(async (worker) => {
      const lines = (await fs.readFile(worker.logPath, 'utf8')).split('\n');
      const leased = new Set<string>();
      for (const line of lines) {
        const videoId = /"videoId":"([0-9a-f-]{36})"/.exec(line)?.[1];
        if (videoId === undefined || !inProgress.has(videoId)) continue;
        if (line.includes('"source host connections leased"')) leased.add(videoId);
        if (line.includes('"copy done"')) leased.delete(videoId);
      }
      return { worker, videoIds: [...leased] };
    }),
  );
}
