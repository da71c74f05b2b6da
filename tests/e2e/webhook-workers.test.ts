/**
 * Webhooks across real processes: a process killed between a transition and its delivery, and the
 * rate limit held by two worker processes sharing one PostgreSQL database.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPglite } from '../../src/db/database.js';
import { recordEvent } from '../../src/db/queries/events.queries.js';
import { listValidSigningKeys } from '../../src/db/queries/webhook-keys.queries.js';
import { ChildServices, callApi, childEnvironment, type ApiAnswer } from '../support/child-service.js';
import { startOriginServer, type OriginServer } from '../support/origin-server.js';
import { createPostgresTestDatabase, type PostgresTestDatabase } from '../support/test-database.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import { until } from '../support/wait.js';
import { startWebhookReceiver, type ReceivedRequest, type WebhookReceiver } from '../support/webhook-receiver.js';

const API_KEY = 'rln_webhook_workers_key_abcdefghijklmnopqrstuvwxyz01';
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const execFileAsync = promisify(execFile);

const api = (baseUrl: string, method: string, apiPath: string, body?: unknown): Promise<ApiAnswer> =>
  callApi(baseUrl, API_KEY, method, apiPath, body);

describe('webhooks across processes', () => {
  let pki: TestPki;
  let origin: OriginServer;
  let receiver: WebhookReceiver;
  let workDir: string;
  const children = new ChildServices(() => workDir);

  beforeAll(async () => {
    pki = await createTestPki();
    origin = await startOriginServer({ pki });
    origin.setFile('/master.mp4', { body: randomBytes(200_000) });
    receiver = await startWebhookReceiver(pki);
    workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-webhook-workers-'));
  });
  afterAll(async () => {
    await children.killAll();
    await receiver?.close();
    await origin?.close();
    await pki?.cleanup();
    if (!process.env.KEEP_LOGS) await fs.rm(workDir, { recursive: true, force: true });
  });

  function environment(dataDir: string, extra: Record<string, string> = {}): Record<string, string> {
    return childEnvironment(
      { dataDir, apiKey: API_KEY, caCertPath: pki.caCertPath, allowedPorts: [origin.port, receiver.port] },
      {
        REELIN_LOG_LEVEL: 'info',
        REELIN_QUEUE_SUPERVISE_INTERVAL_SECONDS: '1',
        REELIN_WEBHOOK_POLL_INTERVAL_MS: '50',
        REELIN_WEBHOOK_RETRY_BASE_DELAY_MS: '200',
        REELIN_WEBHOOK_RETRY_MAX_DELAY_MS: '500',
        REELIN_SHUTDOWN_TIMEOUT_MS: '2000',
        ...extra,
      },
    );
  }

  const start = (role: 'serve' | 'api' | 'worker' | 'migrate', env: Record<string, string>) =>
    children.start(role, env);

  const onPath = (pathName: string) => (received: ReceivedRequest) => received.path === pathName;

  it('on the embedded database: delivers after a restart what a process killed between the transition and the delivery left', async () => {
    const dataDir = path.join(workDir, 'embedded');
    // The receiver holds the first requests: the process dies while they are in flight.
    receiver.answer = (received) =>
      received.path === '/crash' ? { status: 200, body: 'late', delayMs: 60_000 } : { status: 200 };
    const first = await start('serve', environment(dataDir));
    const baseUrl = first.url ?? '';
    const hook = await api(baseUrl, 'POST', '/api/v1/webhooks', {
      name: 'crash',
      url: receiver.url('/crash'),
      eventTypes: ['video_in.started', 'video_in.done', 'video.deleted'],
    });
    expect(hook.status).toBe(201);
    const created = await api(baseUrl, 'POST', '/api/v1/videos/in/https', {
      name: 'm',
      url: origin.url('/master.mp4', '127.0.0.1'),
    });
    expect(created.status).toBe(201);
    const videoId = created.body.videoId as string;
    const held = await receiver.waitFor(1, onPath('/crash'));
    expect(await first.kill('SIGKILL')).toBe('SIGKILL');

    // A transition committed while no process runs (as if the process died right after it): only the outbox knows.
    const connection = await openPglite(path.join(dataDir, 'db'));
    const { teamId } = (await connection.db.query.videos.findFirst({
      where: (videos, { eq }) => eq(videos.id, videoId),
    }))!;
    const deletedVideoId = randomUUID();
    await connection.db.transaction((tx) =>
      recordEvent(tx, { teamId, videoId: deletedVideoId, type: 'video.deleted' }),
    );
    await connection.close();

    receiver.answer = () => ({ status: 200, body: 'ok' });
    const heldIds = new Set(held.map((received) => received.body.id));
    const before = receiver.requests.filter(onPath('/crash')).length;
    const second = await start('serve', environment(dataDir));
    const after = () => receiver.requests.filter(onPath('/crash')).slice(before);
    // Once the log records every delivery successful, none is sent again: count the requests then.
    await until(
      'the deliveries after the restart to be recorded successful',
      async () =>
        (await api(second.url ?? '', 'GET', `/api/v1/webhooks/events?webhookId=${hook.body.id}&pageSize=100`)).body,
      (log: any) =>
        log?.items?.length > 0 &&
        log.items.every((event: any) => event.successful) &&
        log.items.some((event: any) => event.payload?.data?.videoId === deletedVideoId) &&
        log.items.some((event: any) => event.payload?.eventType === 'video_in.done'),
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    const redelivered = after();
    // Every delivery arrives once after the restart; those in flight at the kill keep their id and count the lost attempt.
    expect(new Set(redelivered.map((received) => received.body.id)).size).toBe(redelivered.length);
    expect(redelivered.map((received) => received.body.eventType).sort()).toEqual([
      'video.deleted',
      'video_in.done',
      'video_in.started',
    ]);
    for (const received of redelivered) {
      expect(received.body.attemptCount).toBe(heldIds.has(received.body.id) ? 2 : 1);
    }
    expect(redelivered.filter((received) => heldIds.has(received.body.id)).length).toBe(heldIds.size);

    // `reelin rotate-webhook-keys` (service stopped: the embedded database has one process) makes a new
    // active key and keeps the one that signed these deliveries listed until its expiry.
    const signedWith = redelivered[0]?.headers['x-pixop-public-key-id'];
    expect(await children.started.at(-1)!.kill('SIGTERM')).toBe(0);
    const rotation = await execFileAsync(
      process.execPath,
      ['--import', 'tsx', path.join(repoRoot, 'src/main.ts'), 'rotate-webhook-keys'],
      {
        cwd: repoRoot,
        env: { PATH: process.env.PATH ?? '', ...environment(dataDir), REELIN_WEBHOOK_KEY_OVERLAP_HOURS: '2' },
      },
    );
    expect(rotation.stdout).toMatch(/webhook signing key [0-9a-f-]{36} is now active/);
    const reopened = await openPglite(path.join(dataDir, 'db'));
    try {
      const keys = await listValidSigningKeys(reopened.db, new Date());
      expect(keys).toHaveLength(2);
      expect(keys[0]?.expiresAt).toBeNull();
      expect(keys[1]?.id).toBe(signedWith);
      expect(Math.abs((keys[1]?.expiresAt?.getTime() ?? 0) - Date.now() - 2 * 3_600_000)).toBeLessThan(60_000);
    } finally {
      await reopened.close();
    }
  }, 90_000);

  describe.runIf(process.env.TEST_DATABASE_URL)('on PostgreSQL with an API and two worker processes', () => {
    let database: PostgresTestDatabase;
    beforeAll(async () => {
      database = await createPostgresTestDatabase();
    });
    afterAll(async () => {
      await children.killAll();
      await database?.drop();
    });

    it('holds rateLimitPerSecond across both workers, measured at the receiver', async () => {
      const env = environment(path.join(workDir, 'pg'), {
        DATABASE_URL: database.url,
        REELIN_WEBHOOK_KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      });
      await start('migrate', env);
      const apiProcess = await start('api', env);
      const workers = await Promise.all([start('worker', env), start('worker', env)]);
      const baseUrl = apiProcess.url ?? '';
      const rate = 20;
      const total = 80;
      receiver.answer = () => ({ status: 200, body: 'ok' });
      const hook = await api(baseUrl, 'POST', '/api/v1/webhooks', {
        name: 'limited',
        url: receiver.url('/limited'),
        eventTypes: ['video.deleted'],
        rateLimitPerSecond: rate,
      });
      expect(hook.status).toBe(201);
      // Deactivated while the backlog builds, so both workers meet all of it at once.
      await api(baseUrl, 'POST', `/api/v1/webhooks/${hook.body.id}/deactivate`);
      await api(baseUrl, 'POST', `/api/v1/webhooks/${hook.body.id}/activate`);
      for (let index = 0; index < total; index += 1) {
        const sent = await api(baseUrl, 'POST', `/api/v1/webhooks/${hook.body.id}/test`);
        expect(sent.status).toBe(201);
      }
      const received = await receiver.waitFor(total, onPath('/limited'), 30_000);
      const times = received.map((entry) => entry.arrivedAtMs).sort((a, b) => a - b);
      const busiestSecond = Math.max(
        ...times.map((at) => times.filter((other) => other >= at && other < at + 1000).length),
      );
      const spanMs = (times.at(-1) ?? 0) - (times[0] ?? 0);
      console.log(
        `rate limit ${rate}/s: busiest second ${busiestSecond} requests, ${total} requests over ${spanMs} ms`,
      );
      // The sends: each is signed as it starts (X-Pixop-Timestamp, whole seconds). A send starts at
      // most one slot after its own (or gives the slot up), so no second holds more than rate + 1.
      const perSignedSecond = new Map<string, number>();
      for (const entry of received)
        perSignedSecond.set(
          entry.headers['x-pixop-timestamp'] ?? '',
          (perSignedSecond.get(entry.headers['x-pixop-timestamp'] ?? '') ?? 0) + 1,
        );
      expect(Math.max(...perSignedSecond.values())).toBeLessThanOrEqual(rate + 1);
      // The arrivals: the TLS set-up of a new connection delays a send's arrival towards the next
      // one's, so a sliding second at the receiver may hold a few more (measured 21-23 at 20/s on
      // an idle machine), never the backlog (80 in well under a second); over three seconds the
      // bunching evens out.
      expect(busiestSecond).toBeLessThanOrEqual(Math.ceil(rate * 1.25));
      const busiestThreeSeconds = Math.max(
        ...times.map((at) => times.filter((other) => other >= at && other < at + 3000).length),
      );
      expect(busiestThreeSeconds).toBeLessThanOrEqual(3 * rate + 3);
      // Close to the limit, not far below it: the two workers together use the allowance.
      expect(spanMs).toBeLessThan(((total - 1) * 1000) / rate + 3_000);
      expect(new Set(received.map((entry) => entry.body.id)).size).toBe(total);
      const logs = await Promise.all(workers.map((worker) => fs.readFile(worker.logPath, 'utf8')));
      expect(logs.every((log) => log.includes('"reelin started"'))).toBe(true);
    }, 90_000);
  });
});
