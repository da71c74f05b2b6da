import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerErrorHandling } from '../../src/api/errors.js';
import { contentSecurityPolicy, mediaOrigins, webAppRoutes } from '../../src/api/web-app.js';
import type { S3StorageConfig } from '../../src/config/config.js';

const indexHtml = '<!doctype html><title>Reelin</title><script type="module" src="/assets/app-1234abcd.js"></script>';
const script = 'console.log("app")';
const fsStorage = { kind: 'fs', rootDir: '.', directIo: false } as const;

let folder: string;

async function serverFor(dir: string): Promise<FastifyInstance> {
  const app = Fastify();
  registerErrorHandling(app);
  app.get('/api/v1/account', async () => ({ ok: true }));
  app.get('/healthz', async () => ({ status: 'ok' }));
  await app.register(webAppRoutes({ dir, storage: fsStorage, publicUrl: null }));
  return app;
}

beforeAll(async () => {
  folder = await mkdtemp(path.join(os.tmpdir(), 'reelin-web-'));
  await mkdir(path.join(folder, 'built', 'assets'), { recursive: true });
  await writeFile(path.join(folder, 'built', 'index.html'), indexHtml);
  await writeFile(path.join(folder, 'built', 'assets', 'app-1234abcd.js'), script);
  await writeFile(path.join(folder, 'built', 'robots.txt'), 'User-agent: *\n');
  await writeFile(path.join(folder, 'secret.txt'), 'outside');
});

afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

describe('the web application at /', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await serverFor(path.join(folder, 'built'));
  });
  afterAll(async () => {
    await app.close();
  });

  it('serves index.html at / and for client-side routes, revalidated each time, with the security headers', async () => {
    for (const url of ['/', '/videos', '/videos/0b1f6c1e-5f0c-4a8e-9d61-0a7c1e0f2a11?team=x', '/webhooks/new']) {
      const response = await app.inject({ method: 'GET', url });
      expect(response.statusCode, url).toBe(200);
      expect(response.body, url).toBe(indexHtml);
      expect(response.headers['content-type']).toMatch(/^text\/html/);
      expect(response.headers['cache-control']).toBe('no-cache');
      const csp = String(response.headers['content-security-policy']);
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("style-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("connect-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      expect(response.headers['referrer-policy']).toBe('no-referrer');
      expect(response.headers['x-content-type-options']).toBe('nosniff');
    }
  });

  it('serves hashed assets as immutable for a year, and a missing asset as 404, not index.html', async () => {
    const asset = await app.inject({ method: 'GET', url: '/assets/app-1234abcd.js' });
    expect(asset.statusCode).toBe(200);
    expect(asset.body).toBe(script);
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const missing = await app.inject({ method: 'GET', url: '/assets/gone-00000000.js' });
    expect(missing.statusCode).toBe(404);
    expect(missing.body).not.toContain('<title>');
  });

  it('serves other top-level files of the build, and nothing outside its folder', async () => {
    const robots = await app.inject({ method: 'GET', url: '/robots.txt' });
    expect(robots.statusCode).toBe(200);
    expect(robots.body).toBe('User-agent: *\n');
    for (const url of ['/../secret.txt', '/%2e%2e/secret.txt', '/assets/..%2f..%2fsecret.txt']) {
      const response = await app.inject({ method: 'GET', url });
      expect(response.body, url).not.toContain('outside');
    }
  });

  it("keeps the API's JSON 404 for unknown /api paths and leaves the API's own routes alone", async () => {
    for (const url of ['/api/v1/nothing-here', '/api/nothing', '/api']) {
      const response = await app.inject({ method: 'GET', url });
      expect(response.statusCode, url).toBe(404);
      expect(response.json(), url).toMatchObject({ errorCode: 'NOT_FOUND', statusCode: 404 });
    }
    const account = await app.inject({ method: 'GET', url: '/api/v1/account' });
    expect(account.json()).toEqual({ ok: true });
    expect(account.headers['content-security-policy']).toBeUndefined();
    const health = await app.inject({ method: 'GET', url: '/healthz' });
    expect(health.json()).toEqual({ status: 'ok' });
  });
});

describe('the web application without a build', () => {
  it('answers 503 saying to build it, while the API paths keep their 404', async () => {
    const app = await serverFor(path.join(folder, 'never-built'));
    try {
      for (const url of ['/', '/videos']) {
        const response = await app.inject({ method: 'GET', url });
        expect(response.statusCode, url).toBe(503);
        expect(response.json()).toMatchObject({ errorCode: 'SERVICE_UNAVAILABLE' });
        expect(response.json().message).toContain('npm run build');
      }
      expect((await app.inject({ method: 'GET', url: '/api/v1/nope' })).statusCode).toBe(404);
    } finally {
      await app.close();
    }
  });
});

describe("the pages' media origins", () => {
  const s3: S3StorageConfig = {
    kind: 's3',
    bucket: 'media',
    region: 'eu-west-1',
    endpoint: null,
    publicEndpoint: null,
    forcePathStyle: false,
    keyPrefix: '',
    maxSockets: 20,
    sweepMinAgeMs: 0,
  };

  it('are only the service itself with file storage', () => {
    expect(mediaOrigins(fsStorage, null)).toEqual([]);
    expect(contentSecurityPolicy([])).toContain("media-src 'self';");
    expect(contentSecurityPolicy([])).toContain("img-src 'self' data:;");
  });

  it("add S3's origins (both addressing styles) and the public URL's", () => {
    expect(mediaOrigins(s3, null)).toEqual([
      'https://s3.eu-west-1.amazonaws.com',
      'https://media.s3.eu-west-1.amazonaws.com',
    ]);
    expect(
      mediaOrigins(
        { ...s3, endpoint: 'http://minio:9000', publicEndpoint: 'https://files.example.com/s3', forcePathStyle: true },
        'https://reelin.example.com/',
      ),
    ).toEqual(['https://reelin.example.com', 'https://files.example.com']);
    const csp = contentSecurityPolicy(['https://files.example.com']);
    expect(csp).toContain("media-src 'self' https://files.example.com;");
    expect(csp).toContain("img-src 'self' https://files.example.com data:;");
  });
});
