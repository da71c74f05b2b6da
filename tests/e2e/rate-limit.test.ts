/**
 * The API rate limit: X-RateLimit-* headers on every API-key route (and only there), the 429 past
 * the limit, windows that end, one count per API key, and one count shared by API processes on the
 * same database. Each test counts with an API key of its own, so no test spends another's budget.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type AppOverrides, type RunningApp, type Role } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import type { Database } from '../../src/db/database.js';
import { findActiveApiKeyOwner, insertApiKey } from '../../src/db/queries/tenancy.queries.js';
import { generateApiKey, hashApiKey } from '../../src/services/tenancy.service.js';
import { startE2eFixture, type E2eFixture } from '../support/e2e-fixture.js';
import { backends, createTestDatabase, type Backend, type TestDatabase } from '../support/test-database.js';
import { TEST_API_KEY, testEnvironment } from '../support/test-service.js';

const LIMIT = 5;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
}

async function get(baseUrl: string, apiPath: string, apiKey: string | null): Promise<Answer> {
  const response = await request(`${baseUrl}${apiPath}`, {
    headers: { accept: 'application/json', ...(apiKey === null ? {} : { 'x-api-key': apiKey }) },
  });
  const text = await response.body.text();
  return { status: response.statusCode, headers: response.headers, body: text === '' ? null : JSON.parse(text) };
}

function rateHeaders(answer: Answer): Record<string, string | string[] | undefined> {
  return Object.fromEntries(
    Object.entries(answer.headers).filter(([name]) => name.startsWith('x-ratelimit-') || name === 'retry-after'),
  );
}

/** A new active API key of the admin user (the test key's owner). */
async function newApiKey(db: Database): Promise<string> {
  const owner = await findActiveApiKeyOwner(db, hashApiKey(TEST_API_KEY));
  const key = generateApiKey();
  await insertApiKey(db, {
    userId: owner!.userId,
    name: 'rate-limit test',
    description: null,
    keyHash: hashApiKey(key),
    keyHint: key.slice(-3),
  });
  return key;
}

/**
 * Waits, when needed, so that at least `neededMs` of the current fixed window remain: a burst of
 * requests then falls in one window. Windows are aligned to the epoch, and the test database runs
 * on this machine's clock.
 */
async function roomInWindow(windowSeconds: number, neededMs: number): Promise<void> {
  const windowMs = windowSeconds * 1000;
  const leftMs = windowMs - (Date.now() % windowMs);
  if (leftMs < neededMs) await sleep(leftMs + 50);
}

interface Service {
  app: RunningApp;
  url: string;
}

interface Topology {
  services: Service[];
  stop(): Promise<void>;
}

/** Starts `roles` in order on one fresh database; `stop` ends them in reverse and drops it. */
async function startServices(
  backend: Backend,
  env: Record<string, string>,
  roles: Role[],
  overrides: AppOverrides = {},
): Promise<Topology> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-rate-'));
  const database: TestDatabase = await createTestDatabase(backend, path.join(dataDir, 'db'));
  const config = { ...loadConfig(testEnvironment(dataDir, env)), database: database.config };
  const services: Service[] = [];
  const stop = async () => {
    for (const service of [...services].reverse()) await service.app.stop();
    await database.drop();
    await fs.rm(dataDir, { recursive: true, force: true });
  };
  try {
    // A migrated database first: `api` processes on PostgreSQL only check that it is.
    await startApp(config, 'migrate', overrides);
    for (const role of roles) {
      const app = await startApp(config, role, overrides);
      services.push({ app, url: app.url ?? '' });
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { services, stop };
}

describe.each(backends)('API rate limiting (%s)', (backend) => {
  let topology: Topology;
  let service: Service;
  let db: Database;

  beforeAll(async () => {
    topology = await startServices(backend, { REELIN_RATE_LIMIT_PER_MINUTE: String(LIMIT) }, ['api']);
    service = topology.services[0]!;
    db = service.app.connection.db;
  });
  afterAll(async () => {
    await topology?.stop();
  });

  it('counts down X-RateLimit-Remaining and answers the request past the limit 429 TOO_MANY_REQUESTS with Retry-After', async () => {
    const key = await newApiKey(db);
    await roomInWindow(60, 5_000);
    const answers: Answer[] = [];
    for (let index = 0; index < LIMIT + 1; index += 1) answers.push(await get(service.url, '/api/v1/account', key));
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200, 200, 429]);
    expect(answers.map((answer) => answer.headers['x-ratelimit-limit'])).toEqual(['5', '5', '5', '5', '5', '5']);
    expect(answers.map((answer) => answer.headers['x-ratelimit-remaining'])).toEqual(['4', '3', '2', '1', '0', '0']);
    const resets = answers.map((answer) => Number(answer.headers['x-ratelimit-reset']));
    for (const reset of resets) {
      expect(Number.isInteger(reset)).toBe(true);
      expect(reset).toBeGreaterThanOrEqual(1);
      expect(reset).toBeLessThanOrEqual(60);
    }
    expect(resets[0]! - resets[5]!).toBeLessThanOrEqual(1);

    const refused = answers[5]!;
    const reset = resets[5]!;
    expect(refused.headers['retry-after']).toBe(String(reset));
    expect(refused.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(refused.body).toEqual({
      timestamp: refused.body.timestamp,
      requestId: refused.headers['x-request-id'],
      requestPath: '/api/v1/account',
      statusCode: 429,
      errorCode: 'TOO_MANY_REQUESTS',
      errorCodeEnum: 'TOO_MANY_REQUESTS',
      message: `this API key has made more than 5 requests per minute: retry in ${reset} s`,
      validationErrors: [],
      errorDetails: { limit: 5, retryAfterSeconds: reset },
    });
    expect(new Date(refused.body.timestamp).toISOString()).toBe(refused.body.timestamp);
    // Refused requests count too, and stay refused until the window ends.
    const again = await get(service.url, '/api/v1/teams', key);
    expect([again.status, again.body.errorCode, again.headers['x-ratelimit-remaining']]).toEqual([
      429,
      'TOO_MANY_REQUESTS',
      '0',
    ]);
  });

  it('puts the headers on every answer of an API-key route, errors included', async () => {
    const key = await newApiKey(db);
    await roomInWindow(60, 5_000);
    const missing = await get(service.url, '/api/v1/videos/00000000-0000-4000-8000-000000000000', key);
    expect(missing.status).toBe(404);
    expect(rateHeaders(missing)).toEqual({
      'x-ratelimit-limit': '5',
      'x-ratelimit-remaining': '4',
      'x-ratelimit-reset': missing.headers['x-ratelimit-reset'],
    });
    const invalid = await get(service.url, '/api/v1/videos?pageSize=0', key);
    expect(invalid.status).toBe(400);
    expect(invalid.headers['x-ratelimit-remaining']).toBe('3');
  });

  it('gives every API key a count of its own', async () => {
    const spent = await newApiKey(db);
    const fresh = await newApiKey(db);
    await roomInWindow(60, 5_000);
    for (let index = 0; index < LIMIT + 1; index += 1) await get(service.url, '/api/v1/account', spent);
    expect((await get(service.url, '/api/v1/account', spent)).status).toBe(429);
    const other = await get(service.url, '/api/v1/account', fresh);
    expect([other.status, other.headers['x-ratelimit-remaining']]).toEqual([200, '4']);
  });

  it('answers a missing or invalid key 401 without headers and without counting', async () => {
    const key = await newApiKey(db);
    await roomInWindow(60, 5_000);
    const missing = await get(service.url, '/api/v1/account', null);
    const invalid = await get(service.url, '/api/v1/account', 'rln_not_a_key_at_all_0123456789');
    expect([missing.status, missing.body.errorCode, invalid.status, invalid.body.errorCode]).toEqual([
      401,
      'MISSING_API_KEY',
      401,
      'INVALID_API_KEY',
    ]);
    expect(rateHeaders(missing)).toEqual({});
    expect(rateHeaders(invalid)).toEqual({});
    const first = await get(service.url, '/api/v1/account', key);
    expect(first.headers['x-ratelimit-remaining']).toBe('4');
  });

  it('leaves the health endpoints and the API reference alone', async () => {
    for (const routePath of ['/healthz', '/readyz', '/api/docs/json']) {
      const answer = await get(service.url, routePath, TEST_API_KEY);
      expect([routePath, answer.status, rateHeaders(answer)]).toEqual([routePath, 200, {}]);
    }
  });
});

describe.each(backends)('API rate limit windows and settings (%s)', (backend) => {
  it('starts a new count when the window ends and keeps one window row per key', async () => {
    const windowSeconds = 2;
    const topology = await startServices(backend, { REELIN_RATE_LIMIT_PER_MINUTE: String(LIMIT) }, ['api'], {
      rateLimitWindowSeconds: windowSeconds,
    });
    const service = topology.services[0]!;
    try {
      const db = service.app.connection.db;
      const key = await newApiKey(db);
      await roomInWindow(windowSeconds, 1_500);
      const statuses: number[] = [];
      for (let index = 0; index < LIMIT + 1; index += 1)
        statuses.push((await get(service.url, '/api/v1/account', key)).status);
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
      const refused = await get(service.url, '/api/v1/account', key);
      expect(refused.body.message).toMatch(
        /^this API key has made more than 5 requests per 2 seconds: retry in [12] s$/,
      );
      expect(refused.headers['retry-after']).toMatch(/^[12]$/);
      // Kept: the next window starts at a wall-clock instant (the database's clock, so no fake one);
      // this waits until then plus 50 ms, counted from the clock: Retry-After is whole seconds.
      const windowMs = windowSeconds * 1000;
      await sleep(windowMs - (Date.now() % windowMs) + 50);
      const next = await get(service.url, '/api/v1/account', key);
      expect([next.status, next.headers['x-ratelimit-remaining']]).toEqual([200, '4']);
      const rows = (await db.execute(
        sql`select count from api_rate_windows where api_key_id = (select id from api_keys where key_hash = ${hashApiKey(key)})`,
      )) as unknown as { rows: { count: number }[] };
      expect(rows.rows).toEqual([{ count: 1 }]);
    } finally {
      await topology.stop();
    }
  });

  it('sends no headers and refuses nothing with REELIN_RATE_LIMIT_PER_MINUTE=0', async () => {
    const topology = await startServices(backend, { REELIN_RATE_LIMIT_PER_MINUTE: '0' }, ['api']);
    const service = topology.services[0]!;
    try {
      const answers: Answer[] = [];
      for (let index = 0; index < 12; index += 1) answers.push(await get(service.url, '/api/v1/account', TEST_API_KEY));
      expect(answers.map((answer) => answer.status)).toEqual(Array.from({ length: 12 }, () => 200));
      expect(answers.map(rateHeaders)).toEqual(Array.from({ length: 12 }, () => ({})));
      const rows = (await service.app.connection.db.execute(
        sql`select count(*)::int as count from api_rate_windows`,
      )) as unknown as { rows: { count: number }[] };
      expect(rows.rows).toEqual([{ count: 0 }]);
    } finally {
      await topology.stop();
    }
  });
});

describe.each(backends)('API rate limit headers beside downloads (%s)', (backend) => {
  let fx: E2eFixture;

  beforeAll(async () => {
    fx = await startE2eFixture(backend, { REELIN_RATE_LIMIT_PER_MINUTE: '1000' });
  });
  afterAll(async () => {
    await fx?.close();
  });

  it('puts the headers on the API answer that signs a download link, and none on the download', async () => {
    fx.origin.setFile('/limited.bin', { body: Buffer.alloc(70_000, 7) });
    const created = await fx.service.api('POST', '/api/v1/videos/in/https', {
      body: { name: 'Limited', url: fx.url('/limited.bin') },
    });
    expect(created.status).toBe(201);
    expect(created.headers['x-ratelimit-limit']).toBe('1000');
    await fx.service.waitForUpload(created.body.videoId, 'DONE');
    const link = await fx.service.api('POST', `/api/v1/videos/${created.body.videoId}/out/https`);
    expect(link.status).toBe(200);
    expect(link.headers['x-ratelimit-limit']).toBe('1000');
    const download = await request(new URL(link.body.presignedUrl, fx.service.url));
    const bytes = Buffer.from(await download.body.arrayBuffer());
    expect([download.statusCode, bytes.equals(Buffer.alloc(70_000, 7))]).toEqual([200, true]);
    expect(
      Object.keys(download.headers).filter((name) => name.startsWith('x-ratelimit-') || name === 'retry-after'),
    ).toEqual([]);
    // The ingestion that follows the copy (it fails: the bytes are no video) ends before the service stops.
    const video = await fx.service.waitForVideo(created.body.videoId, (state) =>
      ['DONE', 'FAILED'].includes(state.ingestion.ingestionState.ingestionStatus),
    );
    expect(video.ingestion.ingestionState.ingestionStatus).toBe('FAILED');
  });
});

describe.skipIf(!process.env.TEST_DATABASE_URL)(
  'API rate limit across API processes on one PostgreSQL (TEST_DATABASE_URL unset: skipped)',
  () => {
    let topology: Topology;

    beforeAll(async () => {
      topology = await startServices('postgres', { REELIN_RATE_LIMIT_PER_MINUTE: String(LIMIT) }, ['api', 'api']);
    });
    afterAll(async () => {
      await topology?.stop();
    });

    it('counts the requests of one key through two API processes together', async () => {
      const [apiA, apiB] = topology.services as [Service, Service];
      const key = await newApiKey(apiA.app.connection.db);
      await roomInWindow(60, 5_000);
      const answers: Answer[] = [];
      for (let index = 0; index < LIMIT + 1; index += 1)
        answers.push(await get((index % 2 === 0 ? apiA : apiB).url, '/api/v1/account', key));
      expect(answers.map((answer) => [answer.status, answer.headers['x-ratelimit-remaining']])).toEqual([
        [200, '4'],
        [200, '3'],
        [200, '2'],
        [200, '1'],
        [200, '0'],
        [429, '0'],
      ]);
    });

    it('lets exactly the limit through when both processes take a concurrent burst', async () => {
      const [apiA, apiB] = topology.services as [Service, Service];
      const key = await newApiKey(apiA.app.connection.db);
      await roomInWindow(60, 5_000);
      const answers = await Promise.all(
        Array.from({ length: 24 }, (_, index) => get((index % 2 === 0 ? apiA : apiB).url, '/api/v1/account', key)),
      );
      const statuses = answers.map((answer) => answer.status);
      expect([
        statuses.filter((status) => status === 200).length,
        statuses.filter((status) => status === 429).length,
      ]).toEqual([LIMIT, 24 - LIMIT]);
      const remaining = answers
        .filter((answer) => answer.status === 200)
        .map((answer) => answer.headers['x-ratelimit-remaining'])
        .sort();
      expect(remaining).toEqual(['0', '1', '2', '3', '4']);
    });
  },
);
