import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOriginServer, type OriginServer } from '../support/origin-server.js';
import { ScriptedResolver } from '../support/scripted-resolver.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import { startTestService, type TestService } from '../support/test-service.js';

/**
 * The service may reach 127.0.0.1 (standing in for the public internet) and nothing else; an
 * "internal" server listens on 127.0.0.2 at the same port and must never see a connection.
 */
describe('the outbound address policy end to end', () => {
  let pki: TestPki;
  let origin: OriginServer;
  let internal: OriginServer;
  let service: TestService;
  let proxy: net.Server;
  let proxyConnections = 0;
  let proxyUrl = '';
  const resolver = new ScriptedResolver();
  const file = randomBytes(40 * 64 * 1024 + 11);
  const savedProxyEnv = {
    HTTPS_PROXY: process.env.HTTPS_PROXY,
    https_proxy: process.env.https_proxy,
    NO_PROXY: process.env.NO_PROXY,
  };

  beforeAll(async () => {
    pki = await createTestPki();
    origin = await startOriginServer({ pki, host: '127.0.0.1' });
    internal = await startOriginServer({ pki, host: '127.0.0.2', port: origin.port });
    origin.setFile('/file.mp4', { body: file });
    internal.setFile('/file.mp4', { body: randomBytes(1000) });
    proxy = net.createServer((socket) => {
      proxyConnections += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    proxyUrl = `http://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`;
    process.env.HTTPS_PROXY = proxyUrl;
    process.env.https_proxy = proxyUrl;
    service = await startTestService({
      backend: 'pglite',
      caCertificates: [pki.caCertPem],
      resolver,
      env: { REELIN_ALLOWED_PORTS: String(origin.port) },
    });
  });
  afterAll(async () => {
    Object.assign(process.env, savedProxyEnv);
    for (const [key, value] of Object.entries(savedProxyEnv)) if (value === undefined) delete process.env[key];
    await service?.stop();
    await origin?.close();
    await internal?.close();
    await new Promise((resolve) => proxy?.close(resolve));
    await pki?.cleanup();
  });

  async function videoCount(): Promise<number> {
    return (await service.api('GET', '/api/v1/videos')).body.totalElements as number;
  }

  async function expectRefused(url: string, reason: string): Promise<{ message: string }> {
    const before = await videoCount();
    const refused = await service.api('POST', '/api/v1/videos/in/https', { body: { name: 'refused', url } });
    expect(refused.status, refused.text).toBe(400);
    expect(refused.body.errorCode).toBe('INVALID_HTTPS_URL');
    expect(refused.body.errorDetails.reason).toBe(reason);
    expect(await videoCount()).toBe(before);
    return refused.body;
  }

  it('connects only to the first DNS answer, for every part and retry, even when later answers point inside', async () => {
    resolver.set('rebind.reelin.test', ['127.0.0.1'], ['127.0.0.2']);
    origin.resetStats();
    const internalBefore = internal.stats.connectionsOpened;
    origin.setBehaviour('/file.mp4', { dropAfterBytes: { first: 3, afterBytes: 5_000 } });
    const created = await service.api('POST', '/api/v1/videos/in/https?maxConcurrentConnections=5', {
      body: { name: 'rebind', url: `https://rebind.reelin.test:${origin.port}/file.mp4` },
    });
    expect(created.status, created.text).toBe(201);
    const done = await service.waitForUpload(created.body.videoId, ['DONE', 'FAILED']);
    expect(done.upload.uploadState.uploadStatus).toBe('DONE');
    expect(resolver.callsFor('rebind.reelin.test')).toBe(1);
    expect(internal.stats.connectionsOpened).toBe(internalBefore);
    // The probe, 41 parts, and 2 parts fetched again after their connection dropped (the probe
    // used up the third drop without noticing: its one byte came before the cut).
    expect(origin.stats.requests.filter((entry) => entry.status === 206).length).toBe(44);
    expect(new Set(origin.stats.requests.map((entry) => entry.localAddress))).toEqual(new Set(['127.0.0.1']));
    const link = await service.api('POST', `/api/v1/videos/${created.body.videoId}/out/https`);
    const copy = Buffer.from(await (await request(new URL(link.body.presignedUrl, service.url))).body.arrayBuffer());
    expect(copy.equals(file)).toBe(true);
    origin.setBehaviour('/file.mp4', {});
  });

  it('never uses proxy environment variables', async () => {
    expect(process.env.HTTPS_PROXY).toBe(proxyUrl);
    origin.setBehaviour('/file.mp4', {});
    origin.resetStats();
    const created = await service.api('POST', '/api/v1/videos/in/https', {
      body: { name: 'direct', url: origin.url('/file.mp4', '127.0.0.1') },
    });
    expect(created.status, created.text).toBe(201);
    const done = await service.waitForUpload(created.body.videoId, ['DONE', 'FAILED']);
    expect(done.upload.uploadState.uploadStatus).toBe('DONE');
    // The probe and 41 parts, all straight to the origin; the proxy saw nothing.
    expect(origin.stats.requests.filter((entry) => entry.status === 206)).toHaveLength(42);
    expect(proxyConnections).toBe(0);
  });

  it('refuses a redirect to a private address without connecting to it', async () => {
    origin.setBehaviour('/to-internal', {
      redirect: { status: 302, location: `https://127.0.0.2:${origin.port}/file.mp4` },
    });
    origin.setFile('/to-internal', { body: Buffer.alloc(1) });
    const internalBefore = internal.stats.connectionsOpened;
    const refused = await expectRefused(origin.url('/to-internal', '127.0.0.1'), 'ADDRESS_NOT_ALLOWED');
    expect(refused.message).toContain('127.0.0.2');
    expect(internal.stats.connectionsOpened).toBe(internalBefore);
  });

  it('refuses a redirect to a name that resolves to a private address, without naming the address', async () => {
    resolver.set('intranet.reelin.test', ['10.20.30.40']);
    origin.setFile('/to-intranet', { body: Buffer.alloc(1) });
    origin.setBehaviour('/to-intranet', {
      redirect: { status: 307, location: `https://intranet.reelin.test:${origin.port}/secret` },
    });
    const refused = await expectRefused(origin.url('/to-intranet', '127.0.0.1'), 'ADDRESS_NOT_ALLOWED');
    expect(refused.message).toContain('intranet.reelin.test');
    expect(refused.message).not.toContain('10.20.30.40');
  });

  it('follows up to five redirects, copying from the last hop', async () => {
    for (let hop = 1; hop <= 5; hop += 1) {
      origin.setFile(`/hop${hop}`, { body: Buffer.alloc(1) });
      origin.setBehaviour(`/hop${hop}`, {
        redirect: { status: 301, location: hop === 5 ? '/file.mp4' : `/hop${hop + 1}` },
      });
    }
    origin.resetStats();
    const created = await service.api('POST', '/api/v1/videos/in/https', {
      body: { name: 'redirected', url: origin.url('/hop1', '127.0.0.1') },
    });
    expect(created.status, created.text).toBe(201);
    expect(created.body.upload.file.name).toBe('hop1');
    await service.waitForUpload(created.body.videoId, 'DONE');
    const partPaths = new Set(origin.stats.requests.filter((entry) => entry.status === 206).map((entry) => entry.path));
    expect([...partPaths]).toEqual(['/file.mp4']);
  });

  it('refuses a sixth redirect', async () => {
    for (let hop = 1; hop <= 6; hop += 1) {
      origin.setFile(`/loop${hop}`, { body: Buffer.alloc(1) });
      origin.setBehaviour(`/loop${hop}`, {
        redirect: { status: 302, location: hop === 6 ? '/file.mp4' : `/loop${hop + 1}` },
      });
    }
    await expectRefused(origin.url('/loop1', '127.0.0.1'), 'TOO_MANY_REDIRECTS');
  });

  it('refuses a redirect to plain http', async () => {
    origin.setFile('/to-http', { body: Buffer.alloc(1) });
    origin.setBehaviour('/to-http', {
      redirect: { status: 302, location: `http://127.0.0.1:${origin.port}/file.mp4` },
    });
    await expectRefused(origin.url('/to-http', '127.0.0.1'), 'SCHEME_NOT_HTTPS');
  });

  it.each([
    ['http://127.0.0.1/file.mp4', 'SCHEME_NOT_HTTPS'],
    ['https://127.0.0.1:8443/file.mp4', 'PORT_NOT_ALLOWED'],
    ['https://user:secret@origin.reelin.test/file.mp4', 'USER_INFO_NOT_ALLOWED'],
    ['not a url', 'INVALID_URL'],
    ['https://10.0.0.1/file.mp4', 'PORT_NOT_ALLOWED'],
  ])('refuses %s (%s)', async (url, reason) => {
    await expectRefused(url, reason);
  });

  it.each([
    ['a private literal', (port: number) => `https://10.0.0.1:${port}/f`],
    ['the cloud metadata address', (port: number) => `https://169.254.169.254:${port}/latest`],
    ['loopback written in hex', (port: number) => `https://0x7f.0.0.2:${port}/f`],
    ['IPv6 loopback', (port: number) => `https://[::1]:${port}/f`],
    ['an IPv4-mapped IPv6 address', (port: number) => `https://[::ffff:10.0.0.1]:${port}/f`],
    ['the unspecified address', (port: number) => `https://0.0.0.0:${port}/f`],
  ])('refuses %s', async (_label, url) => {
    await expectRefused(url(origin.port), 'ADDRESS_NOT_ALLOWED');
  });

  it('refuses a host whose answer mixes allowed and private addresses', async () => {
    resolver.set('mixed.reelin.test', ['127.0.0.1', '192.168.1.10']);
    const refused = await expectRefused(`https://mixed.reelin.test:${origin.port}/file.mp4`, 'ADDRESS_NOT_ALLOWED');
    expect(refused.message).not.toContain('192.168.1.10');
  });

  it('refuses a host that does not resolve', async () => {
    await expectRefused(`https://nowhere.reelin.test:${origin.port}/file.mp4`, 'UNRESOLVABLE_HOST');
  });

  it('never connects to the internal server, by its address, a name for it or a redirect to it', async () => {
    const before = internal.stats.connectionsOpened;
    resolver.set('inside.reelin.test', ['127.0.0.2']);
    origin.setFile('/to-inside', { body: Buffer.alloc(1) });
    origin.setBehaviour('/to-inside', {
      redirect: { status: 302, location: `https://inside.reelin.test:${origin.port}/file.mp4` },
    });
    await expectRefused(internal.url('/file.mp4', '127.0.0.2'), 'ADDRESS_NOT_ALLOWED');
    await expectRefused(`https://inside.reelin.test:${origin.port}/file.mp4`, 'ADDRESS_NOT_ALLOWED');
    await expectRefused(origin.url('/to-inside', '127.0.0.1'), 'ADDRESS_NOT_ALLOWED');
    expect(internal.stats.connectionsOpened).toBe(before);
    // The count is live: a connection from the test itself shows in it.
    const agent = new Agent({ connect: { rejectUnauthorized: false } });
    try {
      const reached = await request(internal.url('/file.mp4', '127.0.0.2'), { dispatcher: agent });
      await reached.body.dump();
    } finally {
      await agent.close();
    }
    expect(internal.stats.connectionsOpened).toBe(before + 1);
  });
});
