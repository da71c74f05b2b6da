import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { copyPart, type PartCopyOptions } from '../../src/copy/part-copier.js';
import { s3PartAuthorizer } from '../../src/copy/s3-source.js';
import { planParts, type PartSpec } from '../../src/domain/part-plan.js';
import type { OutboundRequest, PinnedPool } from '../../src/net/outbound-client.js';
import type { BlobKey } from '../../src/storage/blob-keys.js';
import type { BlobUpload, PartWriterOptions, UploadPart } from '../../src/storage/blob-store.js';

// A 40-byte object in 10-byte parts; the fake S3 answers each request as `answer` says.
const FILE = Buffer.from(Array.from({ length: 40 }, (_, i) => (i * 13 + 5) & 0xff));
const ETAG = '"5d41402abc4b2a76b9719d911017c592-2"';
const part = planParts(FILE.length, 10)[2] as PartSpec;
const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

type Answer = { statusCode: number; headers?: Record<string, string> };

function fakePool(
  answer: (request: OutboundRequest, index: number) => Answer,
): PinnedPool & { requests: OutboundRequest[] } {
  const pool = {
    target: {
      url: new URL('https://media.s3.eu-west-1.amazonaws.com/a.mov'),
      hostname: 'media.s3.eu-west-1.amazonaws.com',
      port: 443,
      addresses: ['52.218.1.1'],
    },
    requests: [] as OutboundRequest[],
    async request(): Promise<never> {
      throw new Error('parts are streamed');
    },
    async stream(
      request: OutboundRequest,
      sink: (head: { statusCode: number; headers: Record<string, string> }) => Writable,
    ) {
      pool.requests.push(request);
      const { statusCode, headers = {} } = answer(request, pool.requests.length - 1);
      const writable = sink({ statusCode, headers });
      writable.end(FILE.subarray(part.offsetBytes, part.offsetBytes + part.lengthBytes));
      await finished(writable);
    },
    async close() {},
  };
  return pool;
}

function fakeUpload(): BlobUpload {
  return {
    key: 'teams/t/videos/v/source' as BlobKey,
    state: {},
    async createPartWriter(_part: UploadPart, options: PartWriterOptions = {}) {
      const writable = new Writable({
        write(chunk: Buffer, _encoding, callback) {
          options.observe?.(chunk);
          callback();
        },
      });
      const done = finished(writable).then(() => ({ receipt: 'r' }));
      // A failed attempt destroys the writer; its outcome is the copier's to report.
      done.catch(() => undefined);
      return { writable, done };
    },
    async flush() {},
    async complete() {},
    async close() {},
  };
}

function options(pool: PinnedPool, overrides: Partial<PartCopyOptions> = {}): PartCopyOptions {
  return {
    pool,
    upload: fakeUpload(),
    source: { totalBytes: FILE.length, etag: ETAG, lastModified: 'Wed, 21 Oct 2015 07:28:00 GMT' },
    attempts: 3,
    backoff: { baseDelayMs: 1, maxDelayMs: 1 },
    retryAfterMaxMs: 0,
    sleep: async () => undefined,
    random: () => 0,
    now: () => 0,
    onBytes: () => undefined,
    condition: 'if-match',
    authorize: s3PartAuthorizer('https://media.s3.eu-west-1.amazonaws.com/a.mov', 'eu-west-1', credentials),
    ...overrides,
  };
}

const served: Answer = { statusCode: 206, headers: { 'content-range': 'bytes 20-29/40', etag: ETAG } };

describe('part requests of an S3 copy', () => {
  it('send If-Match with the ETag instead of If-Range, and are signed with the range in the signature', async () => {
    const pool = fakePool(() => served);
    const copied = await copyPart(part, options(pool), new AbortController().signal);
    expect(copied).toMatchObject({ index: 2, offsetBytes: 20, lengthBytes: 10 });
    const headers = pool.requests[0]?.headers ?? {};
    expect(headers['if-match']).toBe(ETAG);
    expect(headers['if-range']).toBeUndefined();
    expect(headers.range).toBe('bytes=20-29');
    expect(headers.host).toBe('media.s3.eu-west-1.amazonaws.com');
    expect(headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/s3\/aws4_request, SignedHeaders=accept-encoding;host;if-match;range;x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}$/,
    );
    expect(JSON.stringify(headers)).not.toContain(credentials.secretAccessKey);
  });

  it('signs every attempt again', async () => {
    const pool = fakePool((_request, index) => (index === 0 ? { statusCode: 503 } : served));
    let clock = Date.parse('2026-11-28T10:00:00Z');
    const sign = s3PartAuthorizer('https://media.s3.eu-west-1.amazonaws.com/a.mov', 'eu-west-1', credentials);
    const authorize: PartCopyOptions['authorize'] = async (headers) => {
      clock += 1000;
      return { ...(await sign(headers)), 'x-test-signed-at': String(clock) };
    };
    await copyPart(part, options(pool, { authorize }), new AbortController().signal);
    expect(pool.requests).toHaveLength(2);
    expect(pool.requests.map((request) => request.headers['x-test-signed-at'])).toEqual([
      String(Date.parse('2026-11-28T10:00:01Z')),
      String(Date.parse('2026-11-28T10:00:02Z')),
    ]);
  });

  it('fail with SOURCE_CHANGED when S3 answers 412 (the object was replaced)', async () => {
    const pool = fakePool(() => ({ statusCode: 412 }));
    await expect(copyPart(part, options(pool), new AbortController().signal)).rejects.toMatchObject({
      code: 'SOURCE_CHANGED',
      details: { part: 2, status: 412 },
    });
    expect(pool.requests).toHaveLength(1);
  });

  it('fail with CONTENT_NOT_PARTIAL_ERROR when a 200 comes back, since If-Match never turns a range into the whole file', async () => {
    const pool = fakePool(() => ({ statusCode: 200, headers: { etag: ETAG } }));
    await expect(copyPart(part, options(pool), new AbortController().signal)).rejects.toMatchObject({
      code: 'CONTENT_NOT_PARTIAL_ERROR',
    });
  });

  it('keep If-Range and send no signature for an HTTPS source', async () => {
    const pool = fakePool(() => served);
    await copyPart(part, options(pool, { condition: undefined, authorize: undefined }), new AbortController().signal);
    const headers = pool.requests[0]?.headers ?? {};
    expect(headers['if-range']).toBe(ETAG);
    expect(headers['if-match']).toBeUndefined();
    expect(headers.authorization).toBeUndefined();
  });
});
