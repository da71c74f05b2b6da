/**
 * Webhook secrets and the download-link signing key are sealed in the database; the plaintext
 * rows an earlier version left are sealed when the service starts, keeping their values, so the
 * deliveries it signs and the links it issued before still verify.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { Webhook } from 'standardwebhooks';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningApp } from '../../src/app.js';
import { createLogger } from '../../src/logging.js';
import { DownloadLinkSigner } from '../../src/storage/download-links.js';
import { startOriginServer, type OriginServer } from '../support/origin-server.js';
import { ScriptedResolver } from '../support/scripted-resolver.js';
import { backends, createTestDatabase, type Backend, type TestDatabase } from '../support/test-database.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import { serviceClient, startServiceApp } from '../support/test-service.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

const HOOK_HOST = 'hooks.reelin.test';
const ORIGIN_HOST = 'origin.reelin.test';
const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
/** The download-link key an earlier version kept in plaintext (base64 of 32 bytes). */
const OLD_LINK_KEY = randomBytes(32);

describe.each(backends)('secrets at rest (%s)', (backend: Backend) => {
  let pki: TestPki;
  let origin: OriginServer;
  let receiver: WebhookReceiver;
  let dataDir: string;
  let database: TestDatabase;
  let app: RunningApp | null = null;
  const logLines: string[] = [];
  const resolver = new ScriptedResolver().set(HOOK_HOST, ['127.0.0.1']).set(ORIGIN_HOST, ['127.0.0.1']);

  async function start(): Promise<RunningApp> {
    app = await startServiceApp({
      dataDir,
      database: database.config,
      env: { REELIN_ALLOWED_PORTS: `${origin.port},${receiver.port}`, REELIN_WEBHOOK_POLL_INTERVAL_MS: '50' },
      extraCaCertificates: [pki.caCertPem],
      resolver,
      logger: createLogger({
        level: 'info',
        role: 'serve',
        destination: { write: (line: string) => void logLines.push(line) },
      }),
    });
    return app;
  }

  async function stop(): Promise<void> {
    await app?.stop();
    app = null;
  }

  const api = (method: string, apiPath: string, body?: unknown) =>
    serviceClient(app?.url ?? '').api(method, apiPath, body === undefined ? {} : { body });

  async function storedSecrets(): Promise<{ webhook: string; linkKey: string }> {
    const db = app!.connection.db;
    const webhook = (await db.execute(sql`select secret from webhooks`)) as unknown as { rows: { secret: string }[] };
    const linkKey = (await db.execute(
      sql`select value from server_secrets where name = 'download-link-key'`,
    )) as unknown as { rows: { value: string }[] };
    expect(webhook.rows).toHaveLength(1);
    expect(linkKey.rows).toHaveLength(1);
    return { webhook: webhook.rows[0]!.secret, linkKey: linkKey.rows[0]!.value };
  }

  beforeAll(async () => {
    pki = await createTestPki();
    origin = await startOriginServer({ pki });
    receiver = await startWebhookReceiver(pki);
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-secrets-'));
    database = await createTestDatabase(backend, path.join(dataDir, 'db'));
  });
  afterAll(async () => {
    await stop();
    await database?.drop();
    await receiver?.close();
    await origin?.close();
    await pki?.cleanup();
    if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
  });

  it('stores a new webhook secret and the link key sealed, never as written', async () => {
    await start();
    const created = await api('POST', '/api/v1/webhooks', {
      name: 'sealed',
      url: receiver.url('/sealed', HOOK_HOST),
      eventTypes: ['video_in.done'],
      secret: SECRET,
    });
    expect([created.status, created.body.hasSecret]).toEqual([201, true]);
    const stored = await storedSecrets();
    expect(stored.webhook).toMatch(/^v1\.[A-Za-z0-9+/=]+\.[A-Za-z0-9+/=]+\.[A-Za-z0-9+/=]+$/);
    expect(stored.webhook).not.toContain(SECRET.slice(6, 20));
    expect(stored.linkKey).toMatch(/^v1\./);
  });

  it('seals the plaintext rows of an earlier version at start, and they keep signing and verifying', async () => {
    origin.setFile('/kept.mov', { body: randomBytes(20_000) });
    const imported = await api('POST', '/api/v1/videos/in/https', {
      name: 'kept',
      url: origin.url('/kept.mov', ORIGIN_HOST),
    });
    expect(imported.status).toBe(201);
    const videoId = imported.body.videoId as string;
    const copied = await serviceClient(app?.url ?? '').waitForUpload(videoId, ['DONE', 'FAILED']);
    expect(copied.upload.uploadState.uploadStatus).toBe('DONE');
    // What an earlier version left: the secret and the link key in plaintext.
    const db = app!.connection.db;
    await db.execute(sql`update webhooks set secret = ${SECRET}`);
    await db.execute(
      sql`update server_secrets set value = ${OLD_LINK_KEY.toString('base64')} where name = 'download-link-key'`,
    );
    const oldLink = new DownloadLinkSigner(OLD_LINK_KEY).sign(videoId, 'kept.mov', new Date(Date.now() + 3_600_000));
    await stop();

    logLines.length = 0;
    await start();
    const stored = await storedSecrets();
    expect(stored.webhook).toMatch(/^v1\./);
    expect(stored.webhook).not.toContain(SECRET.slice(6, 20));
    expect(stored.linkKey).toMatch(/^v1\./);
    expect(stored.linkKey).not.toContain(OLD_LINK_KEY.toString('base64'));
    const messages = logLines.map((line) => JSON.parse(line) as { msg: string; count?: number });
    expect(messages.filter((line) => line.msg.startsWith('sealed ')).map((line) => [line.msg, line.count])).toEqual([
      ['sealed webhook secrets an earlier version stored in plaintext', 1],
      ['sealed the download-link signing key an earlier version stored in plaintext', undefined],
    ]);
    for (const line of logLines) expect(line).not.toContain(SECRET.slice(6));

    // The link issued under the plaintext key still opens the file.
    const download = await request(`${app?.url}${oldLink}`);
    expect(download.statusCode).toBe(200);
    expect((await download.body.arrayBuffer()).byteLength).toBe(20_000);
    // A test event is signed with the same secret, which the Standard Webhooks library verifies.
    const hook = (await api('GET', '/api/v1/webhooks')).body.items[0];
    const sent = await api('POST', `/api/v1/webhooks/${hook.id}/test`);
    expect(sent.status).toBe(201);
    const [delivery] = await receiver.waitFor(1, (received) => received.path === '/sealed');
    expect(new Webhook(SECRET).verify(delivery!.rawBody, delivery!.headers)).toEqual(delivery!.body);
    expect(() =>
      new Webhook(`whsec_${randomBytes(32).toString('base64')}`).verify(delivery!.rawBody, delivery!.headers),
    ).toThrow();

    // A further start finds nothing left to seal, and the values stay as they are.
    await stop();
    logLines.length = 0;
    await start();
    expect(await storedSecrets()).toEqual(stored);
    expect(logLines.filter((line) => line.includes('"msg":"sealed '))).toEqual([]);
    expect((await request(`${app?.url}${oldLink}`)).statusCode).toBe(200);
  });
});
