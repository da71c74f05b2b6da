import { createPublicKey, randomBytes, verify } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordEvent } from '../../src/db/queries/events.queries.js';
import { insertAccount, insertApiKey } from '../../src/db/queries/tenancy.queries.js';
import { webhookDeliveries } from '../../src/db/schema.js';
import { hashApiKey } from '../../src/services/tenancy.service.js';
import { startOriginServer, type OriginServer } from '../support/origin-server.js';
import { ScriptedResolver } from '../support/scripted-resolver.js';
import { backends } from '../support/test-database.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import { startTestService, type TestService } from '../support/test-service.js';
import { until } from '../support/wait.js';
import { startWebhookReceiver, type ReceivedRequest, type WebhookReceiver } from '../support/webhook-receiver.js';

const OTHER_KEY = 'rln_webhook_other_team_key_abcdefghijklmnopqrstuv';
const HOOK_HOST = 'hooks.reelin.test';
const SECRET = `whsec_${randomBytes(32).toString('base64')}`;

function verifyEcdsa(publicKeyBase64: string, timestamp: string, rawBody: string, signatureBase64: string): boolean {
  const key = createPublicKey({ key: Buffer.from(publicKeyBase64, 'base64'), format: 'der', type: 'spki' });
  return verify(
    'sha256',
    Buffer.from(`${timestamp}.${rawBody}`, 'utf8'),
    { key, dsaEncoding: 'der' },
    Buffer.from(signatureBase64, 'base64'),
  );
}

describe.each(backends)('webhooks (%s)', (backend) => {
  let pki: TestPki;
  let origin: OriginServer;
  let receiver: WebhookReceiver;
  let service: TestService;
  let teamId: string;
  let otherTeamId: string;
  const resolver = new ScriptedResolver();

  beforeAll(async () => {
    pki = await createTestPki();
    origin = await startOriginServer({ pki });
    receiver = await startWebhookReceiver(pki);
    resolver
      .set('origin.reelin.test', ['127.0.0.1'])
      .set(HOOK_HOST, ['127.0.0.1'])
      .set('internal.reelin.test', ['10.0.0.1']);
    service = await startTestService({
      backend,
      caCertificates: [pki.caCertPem],
      resolver,
      env: {
        REELIN_ALLOWED_PORTS: `${origin.port},${receiver.port}`,
        REELIN_WEBHOOK_RETRY_BASE_DELAY_MS: '200',
        REELIN_WEBHOOK_RETRY_MAX_DELAY_MS: '600',
        REELIN_WEBHOOK_POLL_INTERVAL_MS: '50',
      },
    });
    const db = service.app.connection.db;
    teamId = (await service.api('GET', '/api/v1/account')).body.defaultTeam.id;
    const other = await insertAccount(db, {
      email: 'hooks-other@example.com',
      userName: 'Other',
      teamName: 'Other team',
      projectName: 'Other default',
    });
    otherTeamId = other.teamId;
    await insertApiKey(db, {
      userId: other.userId,
      name: 'other',
      description: null,
      keyHash: hashApiKey(OTHER_KEY),
      keyHint: OTHER_KEY.slice(-3),
    });
  });
  afterAll(async () => {
    await service?.stop();
    await receiver?.close();
    await origin?.close();
    await pki?.cleanup();
  });

  const hookUrl = (path: string) => receiver.url(path, HOOK_HOST);
  const onPath = (path: string) => (request: ReceivedRequest) => request.path === path;

  async function createWebhook(body: Record<string, unknown>, apiKey?: string): Promise<any> {
    const response = await service.api('POST', '/api/v1/webhooks', {
      body: { name: 'hook', eventTypes: ['video_in.started', 'video_in.done'], ...body },
      ...(apiKey ? { apiKey } : {}),
    });
    expect(response.status, response.text).toBe(201);
    return response.body;
  }

  async function waitForDelivery(
    deliveryId: string,
    reached: (event: any) => boolean,
    apiKey?: string,
    timeoutMs = 15_000,
  ): Promise<any> {
    return until(
      `delivery ${deliveryId} to reach the expected state`,
      async () => (await service.api('GET', `/api/v1/webhooks/events/${deliveryId}`, apiKey ? { apiKey } : {})).body,
      reached,
      { timeoutMs, intervalMs: 50 },
    );
  }

  it('delivers the events of a real import, signed so that the published public key and the Standard Webhooks library verify them', async () => {
    const hook = await createWebhook({ url: hookUrl('/signed'), secret: SECRET });
    expect(hook).toMatchObject({
      teamId,
      active: true,
      rateLimitPerSecond: 10,
      maxTotalRetryDelayMinutes: 180,
      hasSecret: true,
      description: null,
    });
    expect(hook.secret).toBeUndefined();
    origin.setFile('/small.mp4', { body: randomBytes(100_000) });
    const created = await service.api('POST', '/api/v1/videos/in/https', {
      body: { name: 'Small', url: `https://origin.reelin.test:${origin.port}/small.mp4` },
    });
    expect(created.status, created.text).toBe(201);
    const videoId = created.body.videoId as string;

    const requests = await receiver.waitFor(2, onPath('/signed'));
    expect(requests.map((request) => request.body.eventType)).toEqual(['video_in.started', 'video_in.done']);
    const keys = (await service.api('GET', '/api/v1/webhooks/public-keys')).body as any[];
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ algorithm: 'EC', expiresAt: null });

    for (const request of requests) {
      expect(Object.keys(request.body).sort()).toEqual([
        'attemptCount',
        'data',
        'eventType',
        'id',
        'occurredAt',
        'test',
        'webhookId',
      ]);
      expect(request.body).toMatchObject({
        webhookId: hook.id,
        test: false,
        attemptCount: 1,
        data: { type: 'VIDEO', videoId },
      });
      expect(request.method).toBe('POST');
      expect(request.headers['content-type']).toBe('application/json');
      expect(request.headers['x-pixop-algorithm']).toBe('SHA256withECDSA');
      expect(request.headers['x-pixop-public-key-id']).toBe(keys[0].id);
      const timestamp = request.headers['x-pixop-timestamp'] ?? '';
      expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(30);
      const key = (await service.api('GET', `/api/v1/webhooks/public-keys/${request.headers['x-pixop-public-key-id']}`))
        .body;
      const signature = request.headers['x-pixop-signature'] ?? '';
      expect(verifyEcdsa(key.publicKey, timestamp, request.rawBody, signature)).toBe(true);
      expect(
        verifyEcdsa(key.publicKey, timestamp, request.rawBody.replace('"test":false', '"test":true'), signature),
      ).toBe(false);
      expect(verifyEcdsa(key.publicKey, String(Number(timestamp) + 1), request.rawBody, signature)).toBe(false);

      const standard = new Webhook(SECRET);
      expect(standard.verify(request.rawBody, request.headers)).toEqual(request.body);
      expect(request.headers['webhook-id']).toBe(request.body.id);
      expect(() =>
        standard.verify(request.rawBody.replace(videoId, randomBytes(16).toString('hex')), request.headers),
      ).toThrow();
      expect(() =>
        new Webhook(`whsec_${randomBytes(32).toString('base64')}`).verify(request.rawBody, request.headers),
      ).toThrow();
    }

    const log = await service.api('GET', `/api/v1/webhooks/events?webhookId=${hook.id}&successfulMode=ONLY`);
    expect(log.status).toBe(200);
    expect(log.body.totalElements).toBe(2);
    for (const event of log.body.items) {
      expect(event).toMatchObject({ teamId, successful: true, nextAttemptEarliestAt: null });
      expect(event.responses).toHaveLength(1);
      expect(event.responses[0]).toMatchObject({
        statusCode: 200,
        responseBody: 'ok',
        errorCode: null,
        errorMessage: null,
        responseRetryAt: null,
        responseHeaders: null,
      });
      expect(event.responses[0].responseTimeMillis).toBeGreaterThanOrEqual(0);
    }
    expect(log.body.items.map((event: any) => event.id).sort()).toEqual(
      requests.map((request) => request.body.id).sort(),
    );
    await service.api('POST', `/api/v1/webhooks/${hook.id}/deactivate`);
  });

  it("never delivers events of team A to a webhook of team B, nor shows either team the other's log", async () => {
    const mine = await createWebhook({ url: hookUrl('/team-a'), eventTypes: ['video.deleted'] });
    const theirs = await createWebhook(
      { url: hookUrl('/team-b'), eventTypes: ['video.deleted', 'video_in.done'] },
      OTHER_KEY,
    );
    expect(theirs.teamId).toBe(otherTeamId);
    const db = service.app.connection.db;
    await db.transaction(async (tx) => {
      for (let index = 0; index < 5; index += 1)
        await recordEvent(tx, { teamId, videoId: crypto.randomUUID(), type: 'video.deleted' });
    });
    const delivered = await receiver.waitFor(5, onPath('/team-a'));
    expect(delivered.every((request) => request.body.webhookId === mine.id)).toBe(true);
    // The events were fanned out before team A's deliveries were sent: team B's log holds no
    // delivery of them, so nothing can ever be sent to its webhook.
    const theirLog = await service.api('GET', '/api/v1/webhooks/events', { apiKey: OTHER_KEY });
    expect(theirLog.body.totalElements).toBe(0);
    expect(receiver.requests.filter(onPath('/team-b'))).toHaveLength(0);
    const foreign = await service.api('GET', `/api/v1/webhooks/events/${delivered[0]?.body.id}`, { apiKey: OTHER_KEY });
    expect(foreign.status).toBe(404);
    expect(foreign.body.errorCode).toBe('RESOURCE_NOT_FOUND');
    expect((await service.api('GET', `/api/v1/webhooks/${mine.id}`, { apiKey: OTHER_KEY })).status).toBe(404);
    expect((await service.api('GET', `/api/v1/webhooks?teamId=${teamId}`, { apiKey: OTHER_KEY })).body.errorCode).toBe(
      'TEAM_NOT_FOUND',
    );
    await service.api('POST', `/api/v1/webhooks/${mine.id}/deactivate`);
    await service.api('POST', `/api/v1/webhooks/${theirs.id}/deactivate`, { apiKey: OTHER_KEY });
  });

  it('honours Retry-After on 429 and shows the plan in nextAttemptEarliestAt, with the same id on the retry', async () => {
    const hook = await createWebhook({ url: hookUrl('/busy'), eventTypes: ['video_out.done'] });
    let calls = 0;
    receiver.answer = (request) => {
      if (request.path !== '/busy') return { status: 200, body: 'ok' };
      calls += 1;
      return calls === 1
        ? { status: 429, headers: { 'retry-after': '2', 'x-trace': 'busy-1' }, body: 'slow down '.repeat(30) }
        : { status: 200, body: 'thanks' };
    };
    try {
      const test = await service.api('POST', `/api/v1/webhooks/${hook.id}/test?eventType=video_out.done`, {
        headers: { 'content-type': 'application/json', 'content-length': '0' },
      });
      expect(test.status, test.text).toBe(201);
      expect(test.body.payload).toMatchObject({
        test: true,
        eventType: 'video_out.done',
        webhookId: hook.id,
        data: { type: 'VIDEO', videoId: '00000000-0000-0000-0000-000000000000' },
      });
      const pending = await waitForDelivery(test.body.id, (event) => event.responses.length === 1);
      const first = pending.responses[0];
      expect(first).toMatchObject({
        statusCode: 429,
        errorCode: 'WEBHOOK_HTTP_ERROR',
        responseBody: 'slow down '.repeat(10),
      });
      expect(first.responseHeaders).toMatchObject({ 'retry-after': '2', 'x-trace': 'busy-1' });
      expect(Date.parse(first.responseRetryAt) - Date.parse(first.requestedAt)).toBeGreaterThanOrEqual(1_900);
      expect(Date.parse(pending.nextAttemptEarliestAt)).toBeGreaterThanOrEqual(Date.parse(first.responseRetryAt));
      expect(pending.successful).toBe(false);

      const [one, two] = await receiver.waitFor(2, onPath('/busy'));
      expect(two!.arrivedAtMs - one!.arrivedAtMs).toBeGreaterThanOrEqual(1_950);
      expect(two!.body.id).toBe(one!.body.id);
      expect([one!.body.attemptCount, two!.body.attemptCount]).toEqual([1, 2]);
      const done = await waitForDelivery(test.body.id, (event) => event.successful);
      expect(done.responses.map((response: any) => response.statusCode)).toEqual([429, 200]);
      expect(done.payload.attemptCount).toBe(2);
    } finally {
      receiver.answer = () => ({ status: 200, body: 'ok' });
      await service.api('POST', `/api/v1/webhooks/${hook.id}/deactivate`);
    }
  });

  it('treats a redirect as a failure without following it, and with maxTotalRetryDelayMinutes 0 never retries', async () => {
    const hook = await createWebhook({
      url: hookUrl('/moved'),
      eventTypes: ['video.deleted'],
      maxTotalRetryDelayMinutes: 0,
    });
    receiver.answer = (request) =>
      request.path === '/moved' ? { status: 302, headers: { location: hookUrl('/elsewhere') } } : { status: 200 };
    try {
      const test = await service.api('POST', `/api/v1/webhooks/${hook.id}/test`);
      const failed = await waitForDelivery(
        test.body.id,
        (event) => event.responses.length === 1 && event.nextAttemptEarliestAt === null,
      );
      expect(failed.successful).toBe(false);
      expect(failed.responses[0]).toMatchObject({ statusCode: 302, errorCode: 'WEBHOOK_HTTP_ERROR' });
      expect(failed.responses[0].errorMessage).toMatch(/redirects are not followed/);
      // The attempt is recorded with the 302 itself and no next attempt: a followed redirect would
      // have been requested within that attempt, and no retry is left to send another.
      expect(receiver.requests.filter(onPath('/moved'))).toHaveLength(1);
      expect(receiver.requests.filter(onPath('/elsewhere'))).toHaveLength(0);
      const failedOnly = await service.api(
        'GET',
        `/api/v1/webhooks/events?webhookId=${hook.id}&successfulMode=EXCLUDE&testMode=ONLY`,
      );
      expect(failedOnly.body.items.map((event: any) => event.id)).toEqual([test.body.id]);
      const realOnly = await service.api('GET', `/api/v1/webhooks/events?webhookId=${hook.id}&testMode=EXCLUDE`);
      expect(realOnly.body.totalElements).toBe(0);
    } finally {
      receiver.answer = () => ({ status: 200, body: 'ok' });
      await service.api('POST', `/api/v1/webhooks/${hook.id}/deactivate`);
    }
  });

  it('records an answer whose body holds a NUL character (which the database cannot store) and retries as for any failure', async () => {
    const hook = await createWebhook({
      url: hookUrl('/nul'),
      eventTypes: ['video.deleted'],
      maxTotalRetryDelayMinutes: 1,
    });
    receiver.answer = (request) =>
      request.path === '/nul' ? { status: 500, body: 'broken\u0000answer' } : { status: 200 };
    try {
      const test = await service.api('POST', `/api/v1/webhooks/${hook.id}/test`);
      const retried = await waitForDelivery(test.body.id, (event) => event.responses.length >= 2);
      expect(retried.responses[0]).toMatchObject({
        statusCode: 500,
        responseBody: 'broken\uFFFDanswer',
        errorCode: 'WEBHOOK_HTTP_ERROR',
      });
      receiver.answer = () => ({ status: 200, body: 'ok' });
      const delivered = await waitForDelivery(test.body.id, (event) => event.successful === true);
      expect(delivered.responses.at(-1)).toMatchObject({ statusCode: 200, responseBody: 'ok' });
    } finally {
      receiver.answer = () => ({ status: 200, body: 'ok' });
      await service.api('POST', `/api/v1/webhooks/${hook.id}/deactivate`);
    }
  });

  it('gets every event to a receiver that was down for a while exactly once per id once it is back', async () => {
    const hook = await createWebhook({
      url: hookUrl('/flaky'),
      eventTypes: ['video_in.failed'],
      rateLimitPerSecond: 100,
    });
    await receiver.stop();
    try {
      const db = service.app.connection.db;
      const videoIds = Array.from({ length: 12 }, () => crypto.randomUUID());
      for (const videoId of videoIds)
        await db.transaction((tx) => recordEvent(tx, { teamId, videoId, type: 'video_in.failed' }));
      await until(
        'every delivery to fail twice while the receiver is down',
        async () => (await service.api('GET', `/api/v1/webhooks/events?webhookId=${hook.id}&pageSize=100`)).body,
        (log) => log.totalElements === 12 && log.items.every((event: any) => event.responses.length >= 2),
        { timeoutMs: 10_000, intervalMs: 100 },
      );
      await receiver.start();
      const received = await receiver.waitFor(12, onPath('/flaky'));
      // Once every delivery is recorded successful, none is sent again: count the requests then.
      await until(
        'every delivery to be recorded successful',
        async () => (await service.api('GET', `/api/v1/webhooks/events?webhookId=${hook.id}&pageSize=100`)).body,
        (log) => log.totalElements === 12 && log.items.every((event: any) => event.successful),
      );
      const all = receiver.requests.filter(onPath('/flaky'));
      expect(all).toHaveLength(12);
      expect(new Set(all.map((request) => request.body.id)).size).toBe(12);
      expect(new Set(received.map((request) => request.body.data.videoId))).toEqual(new Set(videoIds));
      expect(all.every((request) => request.body.attemptCount >= 3)).toBe(true);
      const log = await service.api('GET', `/api/v1/webhooks/events?webhookId=${hook.id}&pageSize=100`);
      expect(log.body.items.every((event: any) => event.successful && event.responses.at(-1).statusCode === 200)).toBe(
        true,
      );
      expect(log.body.items[0].responses[0]).toMatchObject({ statusCode: null, errorCode: 'WEBHOOK_UNREACHABLE' });
    } finally {
      await receiver.start().catch(() => undefined);
      await service.api('POST', `/api/v1/webhooks/${hook.id}/deactivate`);
    }
  });

  it('documents the webhook routes and the secret extension in the OpenAPI document', async () => {
    const response = await service.api('GET', '/api/docs/json', { apiKey: null });
    expect(response.status).toBe(200);
    const paths = Object.keys(response.body.paths);
    for (const route of [
      '/api/v1/webhooks',
      '/api/v1/webhooks/{webhookId}',
      '/api/v1/webhooks/{webhookId}/test',
      '/api/v1/webhooks/events',
      '/api/v1/webhooks/public-keys/{publicKeyId}',
    ]) {
      expect(paths).toContain(route);
    }
    const create = response.body.paths['/api/v1/webhooks'].post.requestBody.content['application/json'].schema;
    expect(create.properties.secret.description).toMatch(/Standard Webhooks/);
    expect(create.properties.rateLimitPerSecond).toMatchObject({ minimum: 1, maximum: 1000, default: 10 });
  });

  describe('requests the contract refuses', () => {
    const valid = () => ({ name: 'ok', url: hookUrl('/v'), eventTypes: ['video.deleted'] });
    it.each([
      ['no name', { name: undefined }, 'name'],
      ['a 48-character name', { name: 'x'.repeat(48) }, 'name'],
      ['an empty description', { description: '' }, 'description'],
      ['a 256-character description', { description: 'x'.repeat(256) }, 'description'],
      ['a 4097-character URL', { url: `https://${HOOK_HOST}/${'x'.repeat(4090)}` }, 'url'],
      ['rateLimitPerSecond 0', { rateLimitPerSecond: 0 }, 'rateLimitPerSecond'],
      ['rateLimitPerSecond 1001', { rateLimitPerSecond: 1001 }, 'rateLimitPerSecond'],
      ['rateLimitPerSecond 1.5', { rateLimitPerSecond: 1.5 }, 'rateLimitPerSecond'],
      ['maxTotalRetryDelayMinutes -1', { maxTotalRetryDelayMinutes: -1 }, 'maxTotalRetryDelayMinutes'],
      ['maxTotalRetryDelayMinutes 1441', { maxTotalRetryDelayMinutes: 1441 }, 'maxTotalRetryDelayMinutes'],
      ['no event types', { eventTypes: [] }, 'eventTypes'],
      ['an unknown event type', { eventTypes: ['video.created'] }, 'eventTypes.0'],
      ['23 event types', { eventTypes: Array.from({ length: 23 }, () => 'video.deleted') }, 'eventTypes'],
      ['a secret not in whsec_ form', { secret: 'plain-secret' }, 'secret'],
      ['active as a string', { active: 'yes' }, 'active'],
    ])('refuses %s with 400 VALIDATION_ERROR naming the field', async (_name, change, field) => {
      const response = await service.api('POST', '/api/v1/webhooks', { body: { ...valid(), ...change } });
      expect(response.status).toBe(400);
      expect(response.body).toMatchObject({
        statusCode: 400,
        errorCode: 'VALIDATION_ERROR',
        requestPath: '/api/v1/webhooks',
        errorDetails: null,
      });
      expect(response.body.validationErrors.map((error: any) => error.field)).toContain(field);
      expect(typeof response.body.requestId).toBe('string');
    });

    it.each([
      ['http://', (port: number) => `http://${HOOK_HOST}:${port}/x`, 'SCHEME_NOT_HTTPS'],
      ['a port that is not allowed', () => `https://${HOOK_HOST}/x`, 'PORT_NOT_ALLOWED'],
      ['credentials', (port: number) => `https://user:pw@${HOOK_HOST}:${port}/x`, 'USER_INFO_NOT_ALLOWED'],
      [
        'a loopback literal outside the allowance',
        (port: number) => `https://127.0.0.9:${port}/x`,
        'ADDRESS_NOT_ALLOWED',
      ],
      ['a host that does not resolve', (port: number) => `https://nowhere.reelin.test:${port}/x`, 'UNRESOLVABLE_HOST'],
    ])('refuses a URL with %s with 400 INVALID_HTTPS_URL', async (_name, urlFor, reason) => {
      const response = await service.api('POST', '/api/v1/webhooks', {
        body: { ...valid(), url: urlFor(receiver.port) },
      });
      expect(response.status).toBe(400);
      expect(response.body.errorCode).toBe('INVALID_HTTPS_URL');
      expect(response.body.errorDetails.reason).toBe(reason);
    });

    it('refuses a URL whose host resolves to a private address, at create and at update', async () => {
      const url = `https://internal.reelin.test:${receiver.port}/x`;
      const created = await service.api('POST', '/api/v1/webhooks', { body: { ...valid(), url } });
      expect(created.status).toBe(400);
      expect(created.body).toMatchObject({
        errorCode: 'INVALID_HTTPS_URL',
        errorDetails: { reason: 'ADDRESS_NOT_ALLOWED' },
      });
      const hook = await createWebhook({ ...valid(), active: false });
      const patched = await service.api('PATCH', `/api/v1/webhooks/${hook.id}`, { body: { url } });
      expect(patched.status).toBe(400);
      expect(patched.body.errorCode).toBe('INVALID_HTTPS_URL');
      const invalid = await service.api('PATCH', `/api/v1/webhooks/${hook.id}`, { body: { rateLimitPerSecond: 0 } });
      expect(invalid.status).toBe(400);
      expect(invalid.body.validationErrors[0].field).toBe('rateLimitPerSecond');
      const renamed = await service.api('PATCH', `/api/v1/webhooks/${hook.id}`, {
        body: { name: 'renamed', secret: SECRET },
      });
      expect(renamed.body).toMatchObject({ name: 'renamed', hasSecret: true, url: valid().url });
      const cleared = await service.api('PATCH', `/api/v1/webhooks/${hook.id}`, { body: { secret: null } });
      expect(cleared.body.hasSecret).toBe(false);
      expect((await service.api('DELETE', `/api/v1/webhooks/${hook.id}`)).status).toBe(204);
      expect((await service.api('GET', `/api/v1/webhooks/${hook.id}`)).body.errorCode).toBe('RESOURCE_NOT_FOUND');
    });

    it("answers 404 for unknown webhooks, events and keys, and for a team that is not the caller's", async () => {
      const unknown = '00000000-0000-4000-8000-000000000001';
      for (const [method, path] of [
        ['GET', `/api/v1/webhooks/${unknown}`],
        ['PATCH', `/api/v1/webhooks/${unknown}`],
        ['DELETE', `/api/v1/webhooks/${unknown}`],
        ['POST', `/api/v1/webhooks/${unknown}/activate`],
        ['POST', `/api/v1/webhooks/${unknown}/test`],
        ['GET', `/api/v1/webhooks/events/${unknown}`],
        ['GET', `/api/v1/webhooks/public-keys/${unknown}`],
      ] as const) {
        const response = await service.api(method, path);
        expect(response.status, `${method} ${path}`).toBe(404);
        expect(response.body.errorCode).toBe('RESOURCE_NOT_FOUND');
      }
      const foreign = await service.api('POST', `/api/v1/webhooks?selectTeamId=${otherTeamId}`, { body: valid() });
      expect(foreign.status).toBe(404);
      expect(foreign.body.errorCode).toBe('TEAM_NOT_FOUND');
      expect((await service.api('GET', '/api/v1/webhooks/not-a-uuid')).body.errorCode).toBe('VALIDATION_ERROR');
      expect((await service.api('GET', '/api/v1/webhooks', { apiKey: null })).body.errorCode).toBe('MISSING_API_KEY');
      expect(
        (await service.api('GET', '/api/v1/webhooks/events?successfulMode=MAYBE')).body.validationErrors[0].field,
      ).toBe('successfulMode');
      expect(
        (await service.api('GET', '/api/v1/webhooks/events?occurredAtFrom=yesterday')).body.validationErrors[0].field,
      ).toBe('occurredAtFrom');
    });

    it('allows at most 10 active webhooks per team, on create and on activate', async () => {
      const { body: page } = await service.api('GET', '/api/v1/webhooks', { apiKey: OTHER_KEY });
      for (const item of page.items) await service.api('DELETE', `/api/v1/webhooks/${item.id}`, { apiKey: OTHER_KEY });
      const created = [];
      for (let index = 0; index < 10; index += 1)
        created.push(await createWebhook({ ...valid(), name: `hook ${index}` }, OTHER_KEY));
      const eleventh = await service.api('POST', '/api/v1/webhooks', { body: valid(), apiKey: OTHER_KEY });
      expect(eleventh.status).toBe(409);
      expect(eleventh.body).toMatchObject({ statusCode: 409, errorCode: 'MAXIMUM_AMOUNT_OF_ACTIVE_WEBHOOKS_REACHED' });
      const inactive = await createWebhook({ ...valid(), active: false }, OTHER_KEY);
      const activate = await service.api('POST', `/api/v1/webhooks/${inactive.id}/activate`, { apiKey: OTHER_KEY });
      expect(activate.status).toBe(409);
      expect(activate.body.errorCode).toBe('MAXIMUM_AMOUNT_OF_ACTIVE_WEBHOOKS_REACHED');
      expect(
        (await service.api('POST', `/api/v1/webhooks/${created[0].id}/deactivate`, { apiKey: OTHER_KEY })).body.active,
      ).toBe(false);
      expect(
        (await service.api('POST', `/api/v1/webhooks/${inactive.id}/activate`, { apiKey: OTHER_KEY })).body.active,
      ).toBe(true);
      const listed = await service.api('GET', '/api/v1/webhooks?pageSize=5&pageNumber=2', { apiKey: OTHER_KEY });
      expect(listed.body).toMatchObject({
        pageNumber: 2,
        pageSize: 5,
        totalElements: 11,
        totalPages: 3,
        numberOfElements: 1,
      });
      for (const item of [...created, inactive])
        await service.api('DELETE', `/api/v1/webhooks/${item.id}`, { apiKey: OTHER_KEY });
    });

    it('refuses test events for an inactive webhook, an unsubscribed type, and past 1000 per team per 24 h', async () => {
      const hook = await createWebhook({ ...valid(), url: hookUrl('/tests'), active: false }, OTHER_KEY);
      const inactive = await service.api('POST', `/api/v1/webhooks/${hook.id}/test`, { apiKey: OTHER_KEY });
      expect(inactive.status).toBe(409);
      expect(inactive.body.errorCode).toBe('WEBHOOK_NOT_ACTIVE');
      await service.api('POST', `/api/v1/webhooks/${hook.id}/activate`, { apiKey: OTHER_KEY });
      const unsubscribed = await service.api('POST', `/api/v1/webhooks/${hook.id}/test?eventType=video_in.done`, {
        apiKey: OTHER_KEY,
      });
      expect(unsubscribed.status).toBe(409);
      expect(unsubscribed.body.errorCode).toBe('WEBHOOK_NOT_ACTIVE');
      const badType = await service.api('POST', `/api/v1/webhooks/${hook.id}/test?eventType=nope`, {
        apiKey: OTHER_KEY,
      });
      expect(badType.body.errorCode).toBe('VALIDATION_ERROR');
      const foreignVideo = await service.api(
        'POST',
        `/api/v1/webhooks/${hook.id}/test?videoId=${crypto.randomUUID()}`,
        { apiKey: OTHER_KEY },
      );
      expect(foreignVideo.status).toBe(404);

      // 999 earlier test events of the last 24 h (already delivered), then the 1000th is allowed and the 1001st is not.
      await service.app.connection.db.insert(webhookDeliveries).values(
        Array.from({ length: 999 }, () => ({
          webhookId: hook.id,
          teamId: otherTeamId,
          eventType: 'video.deleted',
          videoId: crypto.randomUUID(),
          occurredAt: new Date(),
          test: true,
          status: 'SUCCEEDED' as const,
          retryUntil: new Date(),
        })),
      );
      expect((await service.api('POST', `/api/v1/webhooks/${hook.id}/test`, { apiKey: OTHER_KEY })).status).toBe(201);
      const limited = await service.api('POST', `/api/v1/webhooks/${hook.id}/test`, { apiKey: OTHER_KEY });
      expect(limited.status).toBe(409);
      expect(limited.body.errorCode).toBe('TOO_MANY_WEBHOOK_TEST_EVENTS');
      await service.api('DELETE', `/api/v1/webhooks/${hook.id}`, { apiKey: OTHER_KEY });
    });
  });
});

describe.each(backends)('webhook delivery woken by the event bell (%s)', (backend) => {
  let pki: TestPki;
  let receiver: WebhookReceiver;
  let service: TestService;
  const resolver = new ScriptedResolver().set(HOOK_HOST, ['127.0.0.1']);

  beforeAll(async () => {
    pki = await createTestPki();
    receiver = await startWebhookReceiver(pki);
    // A minute between polls: anything delivered sooner was woken by the bell.
    service = await startTestService({
      backend,
      caCertificates: [pki.caCertPem],
      resolver,
      env: { REELIN_ALLOWED_PORTS: String(receiver.port), REELIN_WEBHOOK_POLL_INTERVAL_MS: '60000' },
    });
  });
  afterAll(async () => {
    await service?.stop();
    await receiver?.close();
    await pki?.cleanup();
  });

  it('sends a committed event and a queued test event within seconds although the workers poll once a minute', async () => {
    const teamId = (await service.api('GET', '/api/v1/account')).body.defaultTeam.id as string;
    const created = await service.api('POST', '/api/v1/webhooks', {
      body: { name: 'bell', url: receiver.url('/bell', HOOK_HOST), eventTypes: ['video_in.done'] },
    });
    expect(created.status, created.text).toBe(201);
    const onBell = (request: ReceivedRequest) => request.path === '/bell';

    const videoId = crypto.randomUUID();
    const recordedAt = Date.now();
    await service.app.connection.db.transaction((tx) => recordEvent(tx, { teamId, videoId, type: 'video_in.done' }));
    // The bounds are the behaviour under test: the bell sends at once, the poll only within a minute;
    // 20 s is generous for a busy machine and still fails a send that waited for the poll.
    const [event] = await receiver.waitFor(1, onBell, 30_000);
    expect(Date.now() - recordedAt).toBeLessThan(20_000);
    expect(event?.body).toMatchObject({ eventType: 'video_in.done', test: false, data: { videoId } });

    const queuedAt = Date.now();
    const test = await service.api('POST', `/api/v1/webhooks/${created.body.id}/test`);
    expect(test.status, test.text).toBe(201);
    const both = await receiver.waitFor(2, onBell, 30_000);
    expect(Date.now() - queuedAt).toBeLessThan(20_000);
    expect(both[1]?.body).toMatchObject({ eventType: 'video_in.done', test: true });
  });
});
