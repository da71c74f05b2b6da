import { randomBytes, X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Agent, request, type Dispatcher } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startOriginServer, type OriginRequestRecord, type OriginServer } from '../support/origin-server.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import { until } from '../support/wait.js';

const fileSize = 1_000_000;
const content = randomBytes(fileSize);

let pki: TestPki;
let origin: OriginServer;
let agent: Agent;
let pathCounter = 0;

beforeAll(async () => {
  pki = await createTestPki();
  origin = await startOriginServer({ pki });
  agent = new Agent({ connect: { ca: pki.caCertPem } });
});

afterAll(async () => {
  await agent?.close();
  await origin?.close();
  await pki?.cleanup();
});

// Each test serves its own path, so behaviours and range counters never leak between tests.
let path: string;
beforeEach(() => {
  pathCounter += 1;
  path = `/video-${pathCounter}.mp4`;
  origin.setFile(path, { body: content, contentType: 'video/mp4' });
});

interface Fetched {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

async function get(
  url: string,
  options: { headers?: Record<string, string>; method?: Dispatcher.HttpMethod; dispatcher?: Dispatcher } = {},
): Promise<Fetched> {
  const response = await request(url, {
    method: options.method ?? 'GET',
    headers: options.headers,
    dispatcher: options.dispatcher ?? agent,
  });
  const body = Buffer.from(await response.body.arrayBuffer());
  return { statusCode: response.statusCode, headers: response.headers, body };
}

/** Reads a body until it ends or fails, keeping what arrived before a failure. */
async function readUntilError(body: AsyncIterable<Buffer>): Promise<{ received: Buffer; error: unknown }> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of body) chunks.push(chunk);
    return { received: Buffer.concat(chunks), error: undefined };
  } catch (error) {
    return { received: Buffer.concat(chunks), error };
  }
}

async function waitFor(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  await until('the condition', condition, Boolean, { timeoutMs, intervalMs: 10 });
}

function recordsFor(requestPath: string): OriginRequestRecord[] {
  return origin.stats.requests.filter((record) => record.path === requestPath);
}

describe('test PKI', () => {
  it('issues a serverAuth leaf from a CA for the test host names and addresses', () => {
    const ca = new X509Certificate(pki.caCertPem);
    const leaf = new X509Certificate(pki.serverCertPem);
    expect(ca.ca).toBe(true);
    expect(leaf.ca).toBe(false);
    expect(leaf.checkIssued(ca)).toBe(true);
    expect(leaf.verify(ca.publicKey)).toBe(true);
    expect(leaf.keyUsage).toContain('1.3.6.1.5.5.7.3.1');
    // checkHost answers with the certificate name that matched.
    expect(leaf.checkHost('localhost')).toBe('localhost');
    expect(leaf.checkHost('origin.reelin.test')).toBe('origin.reelin.test');
    expect(leaf.checkHost('cdn.reelin.test')).toBe('*.reelin.test');
    for (const address of ['127.0.0.1', '127.0.0.2', '::1']) expect(leaf.checkIP(address)).toBe(address);
    expect(leaf.checkHost('example.com')).toBeUndefined();
  });
});

describe('origin server, well behaved', () => {
  it('answers a range request 206 with the exact bytes and headers', async () => {
    const response = await get(origin.url(path), { headers: { range: 'bytes=100-199' } });
    expect(response.statusCode).toBe(206);
    expect(response.headers['content-range']).toBe(`bytes 100-199/${fileSize}`);
    expect(response.headers['content-length']).toBe('100');
    expect(response.headers['content-type']).toBe('video/mp4');
    expect(response.headers['accept-ranges']).toBe('bytes');
    expect(response.headers.etag).toBe('"v1"');
    expect(response.headers['last-modified']).toBe('Mon, 06 Jan 2025 12:00:00 GMT');
    expect(response.body.equals(content.subarray(100, 200))).toBe(true);

    await waitFor(() => recordsFor(path)[0]?.endedAt !== null);
    expect(recordsFor(path)).toEqual([
      expect.objectContaining({
        method: 'GET',
        path,
        range: 'bytes=100-199',
        ifRange: null,
        status: 206,
        bytesSent: 100,
        remoteAddress: '127.0.0.1',
        localAddress: '127.0.0.1',
      }),
    ]);
  });

  it('serves open-ended and suffix ranges, clamped to the file', async () => {
    const tail = await get(origin.url(path), { headers: { range: `bytes=${fileSize - 10}-` } });
    expect(tail.headers['content-range']).toBe(`bytes ${fileSize - 10}-${fileSize - 1}/${fileSize}`);
    expect(tail.body.equals(content.subarray(fileSize - 10))).toBe(true);

    const suffix = await get(origin.url(path), { headers: { range: 'bytes=-5' } });
    expect(suffix.headers['content-range']).toBe(`bytes ${fileSize - 5}-${fileSize - 1}/${fileSize}`);
    expect(suffix.body.equals(content.subarray(fileSize - 5))).toBe(true);

    const beyondEnd = await get(origin.url(path), { headers: { range: `bytes=${fileSize - 3}-${fileSize + 100}` } });
    expect(beyondEnd.statusCode).toBe(206);
    expect(beyondEnd.body.equals(content.subarray(fileSize - 3))).toBe(true);
  });

  it('answers 200 with the whole file without a Range header, and to HEAD without a body', async () => {
    const whole = await get(origin.url(path, '127.0.0.1'));
    expect(whole.statusCode).toBe(200);
    expect(whole.headers['content-length']).toBe(String(fileSize));
    expect(whole.body.equals(content)).toBe(true);

    const head = await get(origin.url(path), { method: 'HEAD', headers: { range: 'bytes=0-9' } });
    expect(head.statusCode).toBe(200);
    expect(head.headers['content-length']).toBe(String(fileSize));
    expect(head.body.length).toBe(0);
    await waitFor(() => recordsFor(path).every((record) => record.endedAt !== null));
    expect(recordsFor(path).map((record) => record.bytesSent)).toEqual([fileSize, 0]);
  });

  it('answers 200 with the whole body when If-Range does not match, 206 when it does', async () => {
    const staleEtag = await get(origin.url(path), { headers: { range: 'bytes=0-9', 'if-range': '"v0"' } });
    expect(staleEtag.statusCode).toBe(200);
    expect(staleEtag.body.equals(content)).toBe(true);

    const weakEtag = await get(origin.url(path), { headers: { range: 'bytes=0-9', 'if-range': 'W/"v1"' } });
    expect(weakEtag.statusCode).toBe(200);

    const staleDate = await get(origin.url(path), {
      headers: { range: 'bytes=0-9', 'if-range': 'Tue, 07 Jan 2025 12:00:00 GMT' },
    });
    expect(staleDate.statusCode).toBe(200);

    const matchingEtag = await get(origin.url(path), { headers: { range: 'bytes=0-9', 'if-range': '"v1"' } });
    expect(matchingEtag.statusCode).toBe(206);
    const matchingDate = await get(origin.url(path), {
      headers: { range: 'bytes=0-9', 'if-range': 'Mon, 06 Jan 2025 12:00:00 GMT' },
    });
    expect(matchingDate.statusCode).toBe(206);
    expect(matchingDate.body.equals(content.subarray(0, 10))).toBe(true);
  });

  it('answers 416 with the size to an unsatisfiable range, and 404 to an unknown path', async () => {
    const unsatisfiable = await get(origin.url(path), { headers: { range: `bytes=${fileSize}-` } });
    expect(unsatisfiable.statusCode).toBe(416);
    expect(unsatisfiable.headers['content-range']).toBe(`bytes */${fileSize}`);

    const missing = await get(origin.url('/no-such-video.mp4'));
    expect(missing.statusCode).toBe(404);
  });

  it('serves a file from disk by range', async () => {
    const diskPath = join(pki.dir, 'on-disk.bin');
    await writeFile(diskPath, content);
    origin.setFile(path, { path: diskPath, size: fileSize });
    const response = await get(origin.url(path), { headers: { range: 'bytes=200000-899999' } });
    expect(response.statusCode).toBe(206);
    expect(response.headers['content-type']).toBe('application/octet-stream');
    expect(response.body.equals(content.subarray(200_000, 900_000))).toBe(true);
  });

  it('sends no ETag or Last-Modified when the behaviour says null', async () => {
    origin.setBehaviour(path, { etag: null, lastModified: null });
    const response = await get(origin.url(path), { headers: { range: 'bytes=0-0', 'if-range': '"v1"' } });
    expect(response.statusCode).toBe(200);
    expect(response.headers.etag).toBeUndefined();
    expect(response.headers['last-modified']).toBeUndefined();
  });
});

describe('origin server, misbehaving', () => {
  it('answers range requests 200 with the whole body when told to ignore ranges', async () => {
    origin.setBehaviour(path, { ignoreRange: true });
    const response = await get(origin.url(path), { headers: { range: 'bytes=0-99' } });
    expect(response.statusCode).toBe(200);
    expect(response.body.equals(content)).toBe(true);
  });

  it('fails the first N range requests with the status and Retry-After, then serves 206', async () => {
    origin.setBehaviour(path, { failRequests: { first: 2, status: 503, retryAfter: '1' } });
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const response = await get(origin.url(path), { headers: { range: 'bytes=0-99' } });
      statuses.push(response.statusCode);
      if (response.statusCode === 503) expect(response.headers['retry-after']).toBe('1');
      else expect(response.body.equals(content.subarray(0, 100))).toBe(true);
    }
    expect(statuses).toEqual([503, 503, 206]);
    // Requests without Range are not counted and never fail.
    origin.setBehaviour(path, { failRequests: { first: 1, status: 429 } });
    expect((await get(origin.url(path))).statusCode).toBe(200);
    expect((await get(origin.url(path), { headers: { range: 'bytes=0-0' } })).statusCode).toBe(429);
  });

  it('drops the connection after the given bytes of the first N range requests', async () => {
    origin.setBehaviour(path, { dropAfterBytes: { first: 1, afterBytes: 1000 } });
    const response = await request(origin.url(path), { dispatcher: agent, headers: { range: 'bytes=0-99999' } });
    expect(response.statusCode).toBe(206);
    const { received, error } = await readUntilError(response.body);
    expect(error).toMatchObject({ code: 'UND_ERR_SOCKET' });
    expect(received.equals(content.subarray(0, 1000))).toBe(true);

    const retry = await get(origin.url(path), { headers: { range: 'bytes=0-99999' } });
    expect(retry.body.equals(content.subarray(0, 100_000))).toBe(true);
    await waitFor(() => recordsFor(path).every((record) => record.endedAt !== null));
    expect(recordsFor(path).map((record) => [record.status, record.bytesSent])).toEqual([
      [206, 1000],
      [206, 100_000],
    ]);
  });

  it('stalls after the given bytes until the client gives up', async () => {
    origin.setBehaviour(path, { stallAfterBytes: { first: 1, afterBytes: 500 } });
    const response = await request(origin.url(path), {
      dispatcher: agent,
      headers: { range: 'bytes=0-9999' },
      bodyTimeout: 300,
    });
    const { received, error } = await readUntilError(response.body);
    expect(error).toMatchObject({ code: 'UND_ERR_BODY_TIMEOUT' });
    expect(received.equals(content.subarray(0, 500))).toBe(true);
    await waitFor(() => recordsFor(path)[0]?.endedAt !== null);
    expect(recordsFor(path)[0]).toMatchObject({ status: 206, bytesSent: 500 });
  });

  it('changes the ETag after N range requests, so If-Range with the old one gets 200', async () => {
    origin.setBehaviour(path, { changeEtagAfterRequests: { after: 1, etag: '"v2"' } });
    const first = await get(origin.url(path), { headers: { range: 'bytes=0-9' } });
    expect([first.statusCode, first.headers.etag]).toEqual([206, '"v1"']);
    const second = await get(origin.url(path), { headers: { range: 'bytes=10-19', 'if-range': '"v1"' } });
    expect([second.statusCode, second.headers.etag]).toEqual([200, '"v2"']);
    const third = await get(origin.url(path), { headers: { range: 'bytes=10-19', 'if-range': '"v2"' } });
    expect([third.statusCode, third.headers.etag]).toEqual([206, '"v2"']);
  });

  it('inverts the byte at the corrupt offset in every response covering it', async () => {
    origin.setBehaviour(path, { corruptByteAt: 5 });
    const covering = await get(origin.url(path), { headers: { range: 'bytes=0-9' } });
    const expected = Buffer.from(content.subarray(0, 10));
    expected.writeUInt8(expected.readUInt8(5) ^ 0xff, 5);
    expect(covering.body.equals(expected)).toBe(true);
    const whole = await get(origin.url(path));
    expect(whole.body.readUInt8(5)).toBe(content.readUInt8(5) ^ 0xff);
    expect(whole.body.subarray(6).equals(content.subarray(6))).toBe(true);
    const notCovering = await get(origin.url(path), { headers: { range: 'bytes=10-19' } });
    expect(notCovering.body.equals(content.subarray(10, 20))).toBe(true);
    // The in-memory file itself is untouched.
    expect((await get(origin.url(path), { headers: { range: 'bytes=5-5' } })).body.readUInt8(0)).not.toBe(
      content.readUInt8(5),
    );
  });

  it('gzips range responses when told to', async () => {
    origin.setBehaviour(path, { gzipRanges: true });
    const response = await get(origin.url(path), { headers: { range: 'bytes=1000-50999' } });
    expect(response.statusCode).toBe(206);
    expect(response.headers['content-encoding']).toBe('gzip');
    expect(response.headers['content-range']).toBe(`bytes 1000-50999/${fileSize}`);
    expect(Number(response.headers['content-length'])).toBe(response.body.length);
    expect(gunzipSync(response.body).equals(content.subarray(1000, 51_000))).toBe(true);
  });

  it('claims another total size in Content-Range while serving the real bytes', async () => {
    origin.setBehaviour(path, { claimTotalSize: 600_000_000_000 });
    const response = await get(origin.url(path), { headers: { range: 'bytes=0-99' } });
    expect(response.headers['content-range']).toBe('bytes 0-99/600000000000');
    expect(response.body.equals(content.subarray(0, 100))).toBe(true);
    const pastRealEnd = await get(origin.url(path), { headers: { range: 'bytes=5000000-5000099' } });
    expect([pastRealEnd.statusCode, pastRealEnd.headers['content-range']]).toEqual([416, 'bytes */600000000000']);
  });

  it('sends the Content-Range the override returns, or none', async () => {
    const seen: Array<[{ start: number; end: number }, number]> = [];
    origin.setBehaviour(path, {
      contentRange: (range, size) => (seen.push([range, size]), seen.length === 1 ? 'bytes 0-0/*' : null),
    });
    const overridden = await get(origin.url(path), { headers: { range: 'bytes=0-9' } });
    expect(overridden.headers['content-range']).toBe('bytes 0-0/*');
    expect(overridden.body.equals(content.subarray(0, 10))).toBe(true);
    const omitted = await get(origin.url(path), { headers: { range: 'bytes=-1' } });
    expect(omitted.statusCode).toBe(206);
    expect(omitted.headers['content-range']).toBeUndefined();
    expect(seen).toEqual([
      [{ start: 0, end: 9 }, fileSize],
      [{ start: fileSize - 1, end: fileSize - 1 }, fileSize],
    ]);
  });

  it('answers every request with a forced status or redirect', async () => {
    origin.setBehaviour(path, { status: 403 });
    expect((await get(origin.url(path), { headers: { range: 'bytes=0-0' } })).statusCode).toBe(403);
    origin.setBehaviour(path, { redirect: { status: 302, location: 'https://origin.reelin.test/elsewhere.mp4' } });
    const redirected = await get(origin.url(path));
    expect(redirected.statusCode).toBe(302);
    expect(redirected.headers.location).toBe('https://origin.reelin.test/elsewhere.mp4');
  });

  it('drips the body at the given rate', async () => {
    origin.setBehaviour(path, { dripBytesPerSecond: 2_000 });
    const startedAt = performance.now();
    const response = await get(origin.url(path), { headers: { range: 'bytes=0-999' } });
    const elapsedMs = performance.now() - startedAt;
    expect(response.body.equals(content.subarray(0, 1000))).toBe(true);
    // 1000 bytes at 2000 B/s, less the first 200-byte chunk that goes at once: about 400 ms. The lower
    // bound is the drip (a busy machine only adds time); the upper one, generous so a busy machine's
    // late timers pass, still fails a drip several times slower than its rate.
    expect(elapsedMs).toBeGreaterThan(300);
    expect(elapsedMs).toBeLessThan(2_000);
  });

  it('delays the status line', async () => {
    origin.setBehaviour(path, { delayHeadersMs: 200 });
    const startedAt = performance.now();
    const response = await get(origin.url(path), { headers: { range: 'bytes=0-0' } });
    expect(response.statusCode).toBe(206);
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(190);
  });
});

describe('origin server, connections', () => {
  let isolated: OriginServer;
  beforeEach(async () => {
    // A fresh server so other tests' pooled connections don't count.
    isolated = await startOriginServer({ pki });
    isolated.setFile('/big.bin', { body: content.subarray(0, 1_000_000) });
  });
  afterEach(async () => {
    await isolated.close();
  });

  it('throttles each connection to its rate: 2 connections at 1 MiB/s move 2 MiB each in about 2 s', async () => {
    const twoMiB = Buffer.concat([content, content, content]).subarray(0, 2 * 1024 * 1024);
    isolated.setFile('/throttled.bin', { body: twoMiB });
    isolated.setBehaviour('/throttled.bin', { throttleBytesPerSecondPerConnection: 1024 * 1024 });
    const twoConnections = new Agent({ connect: { ca: pki.caCertPem }, connections: 2 });
    try {
      const startedAt = performance.now();
      const bodies = await Promise.all(
        [0, 1].map(() =>
          get(isolated.url('/throttled.bin'), { dispatcher: twoConnections, headers: { range: 'bytes=0-' } }),
        ),
      );
      const elapsedMs = performance.now() - startedAt;
      for (const { body } of bodies) expect(body.equals(twoMiB)).toBe(true);
      expect(isolated.stats.connectionsOpened).toBe(2);
      // One connection (or no throttle) would take ~4 s (or ~0 s); a shared bucket ~4 s. The upper
      // bound is what tells a bucket per connection from a shared one, so it stays below 4 s, with
      // 1.5 s for a busy machine.
      expect(elapsedMs).toBeGreaterThan(1_700);
      expect(elapsedMs).toBeLessThan(3_500);
    } finally {
      await twoConnections.close();
    }
  });

  it('counts connections and concurrent requests exactly', async () => {
    isolated.setBehaviour('/big.bin', { delayHeadersMs: 200 });
    const threeConnections = new Agent({ connect: { ca: pki.caCertPem }, connections: 3 });
    await Promise.all([0, 1, 2].map(() => get(isolated.url('/big.bin'), { dispatcher: threeConnections })));
    expect(isolated.stats).toMatchObject({
      connectionsOpened: 3,
      currentConnections: 3,
      maxConcurrentConnections: 3,
      maxConcurrentRequests: 3,
    });
    expect(isolated.stats.requests.map((record) => record.index)).toEqual([0, 1, 2]);
    const served = isolated.stats.requests;

    // The server sees a response end a moment after the client does.
    await waitFor(() => isolated.stats.requests.every((record) => record.endedAt !== null));
    isolated.resetStats();
    expect(isolated.stats).toMatchObject({
      requests: [],
      connectionsOpened: 0,
      currentConnections: 3,
      maxConcurrentConnections: 3,
      maxConcurrentRequests: 0,
    });
    // Pooled connections outlive their responses until the client closes them.
    expect(served.map((record) => record.connectionClosedAt)).toEqual([null, null, null]);
    await threeConnections.close();
    await waitFor(() => isolated.stats.currentConnections === 0);
    expect(served.every((record) => record.connectionClosedAt !== null)).toBe(true);
  });

  it('closes promptly with a stalled response in flight, and the client sees an error', async () => {
    isolated.setBehaviour('/big.bin', { stallAfterBytes: { first: 1, afterBytes: 10 } });
    const client = new Agent({ connect: { ca: pki.caCertPem } });
    try {
      const response = await request(isolated.url('/big.bin'), {
        dispatcher: client,
        headers: { range: 'bytes=0-999' },
      });
      const reading = readUntilError(response.body);
      await waitFor(() => isolated.stats.requests[0]?.bytesSent === 10);
      const startedAt = performance.now();
      await isolated.close();
      // The stalled response never ends by itself, so a close that waited for it would hang: 5 s is
      // generous for a busy machine and still fails that.
      expect(performance.now() - startedAt).toBeLessThan(5_000);
      const { received, error } = await reading;
      expect(error).toBeDefined();
      expect(received.length).toBe(10);
      expect(isolated.stats.requests[0]?.endedAt).not.toBeNull();
    } finally {
      await client.close();
    }
  });
});
