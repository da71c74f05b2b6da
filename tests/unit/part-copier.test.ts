import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { crc32c } from '@node-rs/crc32';
import { describe, expect, it } from 'vitest';
import { copyParts, type CopyEngineOptions } from '../../src/copy/copy-engine.js';
import { copyPart, type PartCopyOptions, type SourceValidators } from '../../src/copy/part-copier.js';
import { combinePartChecksums } from '../../src/domain/crc32c-combine.js';
import { AppError } from '../../src/domain/errors.js';
import { planParts, type PartSpec } from '../../src/domain/part-plan.js';
import type { OutboundRequest, PinnedPool } from '../../src/net/outbound-client.js';
import type { BlobKey } from '../../src/storage/blob-keys.js';
import {
  PartLengthError,
  RetryablePartStoreError,
  type BlobUpload,
  type CompletedPart,
  type PartReceipt,
  type PartWriter,
  type PartWriterOptions,
  type UploadPart,
} from '../../src/storage/blob-store.js';

// ---------------------------------------------------------------------------------------------
// Fakes: a source file, a pool that answers part requests from it (or as a test scripts), and an
// upload that keeps what was written. Time never passes: sleep resolves at once and records ms.
// ---------------------------------------------------------------------------------------------

const TOTAL_BYTES = 100;
const PART_SIZE = 10;
const FILE = Buffer.from(Array.from({ length: TOTAL_BYTES }, (_, i) => (i * 37 + 11) & 0xff));
const ETAG = '"v1"';
const LAST_MODIFIED = 'Wed, 21 Oct 2015 07:28:00 GMT';
const NOW_MS = Date.parse('2026-11-28T10:00:00.000Z');
const parts = planParts(TOTAL_BYTES, PART_SIZE);
const part1 = parts[1] as PartSpec;

interface Answer {
  statusCode: number;
  headers?: Record<string, string>;
  /** Body chunks; each is delivered after a microtask so reads interleave like a network. */
  chunks?: Buffer[];
  /** When set, the body stops after its chunks and waits until the request's signal aborts. */
  hangs?: boolean;
  /** Thrown while reading the body, after its chunks. */
  breaksWith?: Error;
}

type Responder = (request: OutboundRequest, range: { start: number; end: number }) => Answer | Error;

interface FakePool extends PinnedPool {
  requests: OutboundRequest[];
  requestedStarts: number[];
  /** One per answered request: `destroyed` once the fake stopped sending (rejected, failed, aborted or done). */
  bodies: { destroyed: boolean }[];
  maxInFlight: number;
  /** Resolves when `count` requests have arrived. */
  requestsReached(count: number): Promise<void>;
}

function parseRange(header: string | undefined): { start: number; end: number } {
  const match = /^bytes=(\d+)-(\d+)$/.exec(header ?? '');
  if (!match) throw new Error(`the fake pool got an unexpected range header ${String(header)}`);
  return { start: Number(match[1]), end: Number(match[2]) };
}

/** A correct 206 answer with the requested bytes in two chunks. */
function partial(start: number, end: number, headers: Record<string, string> = {}): Answer {
  const bytes = FILE.subarray(start, end + 1);
  const middle = Math.ceil(bytes.length / 2);
  return {
    statusCode: 206,
    headers: {
      'content-range': `bytes ${start}-${end}/${TOTAL_BYTES}`,
      etag: ETAG,
      'last-modified': LAST_MODIFIED,
      ...headers,
    },
    chunks: [bytes.subarray(0, middle), bytes.subarray(middle)],
  };
}

const serveFile: Responder = (_request, { start, end }) => partial(start, end);

/** Waits until `signal` aborts, rejecting with its reason. */
function abortOf(signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

/** Writes `chunk`, waiting for the writable to take it; rejects if the writable fails. */
function writeChunk(writable: Writable, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    writable.write(chunk, (error) => (error ? reject(error) : resolve()));
  });
}

/** Like undici's stream(): the sink's writable gets the body, the promise settles when it finished. */
function fakePool(responder: Responder = serveFile): FakePool {
  let inFlight = 0;
  const waiters: { count: number; resolve: () => void }[] = [];
  const pool: FakePool = {
    target: {
      url: new URL('https://origin.example.com/video.mp4'),
      hostname: 'origin.example.com',
      port: 443,
      addresses: ['93.184.216.34'],
    },
    requests: [],
    requestedStarts: [],
    bodies: [],
    maxInFlight: 0,
    requestsReached(count) {
      return pool.requests.length >= count
        ? Promise.resolve()
        : new Promise((resolve) => waiters.push({ count, resolve }));
    },
    async request() {
      throw new Error('the copier streams parts; it must not call request()');
    },
    async stream(request, sink) {
      pool.requests.push(request);
      for (const waiter of waiters.filter((item) => pool.requests.length >= item.count)) waiter.resolve();
      const range = parseRange(request.headers['range']);
      pool.requestedStarts.push(range.start);
      await Promise.resolve();
      if (request.signal?.aborted) throw request.signal.reason;
      const result = responder(request, range);
      if (result instanceof Error) throw result;
      const answer: Answer = result;
      const body = { destroyed: false };
      pool.bodies.push(body);
      inFlight += 1;
      pool.maxInFlight = Math.max(pool.maxInFlight, inFlight);
      let writable: Writable | undefined;
      try {
        writable = sink({ statusCode: answer.statusCode, headers: answer.headers ?? {} });
        for (const chunk of answer.chunks ?? []) {
          await Promise.resolve();
          if (request.signal?.aborted) throw request.signal.reason;
          await writeChunk(writable, chunk);
        }
        if (answer.breaksWith) throw answer.breaksWith;
        if (answer.hangs && request.signal) await abortOf(request.signal);
        writable.end();
        await finished(writable);
      } catch (error) {
        writable?.destroy(error as Error);
        throw error;
      } finally {
        body.destroyed = true;
        inFlight -= 1;
      }
    },
    async close() {},
  };
  return pool;
}

interface FakeUpload extends BlobUpload {
  written: Map<number, Buffer>;
  /** Parts in the order their first byte was written. */
  writes: number[];
}

/** Keeps what each part's writer got, checks lengths like a real store, and calls `observe`. */
function fakeUpload(): FakeUpload {
  const upload: FakeUpload = {
    key: 'teams/t/videos/v/source' as BlobKey,
    state: {},
    written: new Map(),
    writes: [],
    async createPartWriter(part: UploadPart, options: PartWriterOptions = {}): Promise<PartWriter> {
      const received: Buffer[] = [];
      let length = 0;
      const writable = new Writable({
        write(chunk: Buffer, _encoding, callback) {
          if (received.length === 0) upload.writes.push(part.index);
          length += chunk.length;
          if (length > part.lengthBytes) {
            callback(new PartLengthError(part, length, true));
            return;
          }
          try {
            options.observe?.(chunk);
          } catch (error) {
            callback(error as Error);
            return;
          }
          received.push(chunk);
          callback();
        },
        final(callback) {
          callback(length === part.lengthBytes ? null : new PartLengthError(part, length, false));
        },
      });
      const done = finished(writable).then((): PartReceipt => {
        upload.written.set(part.index, Buffer.concat(received));
        return { receipt: `part-${part.index}` };
      });
      done.catch(() => undefined);
      return { writable, done };
    },
    async flush() {},
    async complete() {},
    async close() {},
  };
  return upload;
}

interface Harness {
  pool: FakePool;
  upload: FakeUpload;
  sleeps: number[];
  deltas: number[];
  retries: { index: number; attempt: number; delayMs: number; code: string }[];
  options: PartCopyOptions;
}

function harness(
  responder?: Responder,
  overrides: Partial<PartCopyOptions> = {},
  source: Partial<SourceValidators> = {},
): Harness {
  const pool = fakePool(responder);
  const upload = fakeUpload();
  const sleeps: number[] = [];
  const deltas: number[] = [];
  const retries: Harness['retries'] = [];
  const options: PartCopyOptions = {
    pool,
    upload,
    source: { totalBytes: TOTAL_BYTES, etag: ETAG, lastModified: LAST_MODIFIED, ...source },
    attempts: 3,
    backoff: { baseDelayMs: 100, maxDelayMs: 1_000 },
    retryAfterMaxMs: 300_000,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0,
    now: () => NOW_MS,
    onBytes: (delta) => deltas.push(delta),
    onRetry: ({ part, attempt, delayMs, error }) =>
      retries.push({ index: part.index, attempt, delayMs, code: error.code }),
    ...overrides,
  };
  return { pool, upload, sleeps, deltas, retries, options };
}

/** Answers the first `count` requests with `first`, the rest from the file. */
function failingFirst(count: number, first: (range: { start: number; end: number }) => Answer | Error): Responder {
  let calls = 0;
  return (request, range) => {
    calls += 1;
    return calls <= count ? first(range) : serveFile(request, range);
  };
}

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection, but the promise resolved');
}

async function appErrorOf(promise: Promise<unknown>): Promise<AppError> {
  const error = await rejectionOf(promise);
  if (error instanceof AppError) return error;
  throw error;
}

const never = new AbortController().signal;
/** Tests whose fake bodies wait for an abort fail fast instead of hanging when the abort never comes. */
const HANG_GUARD_MS = 5_000;

// ---------------------------------------------------------------------------------------------

describe('copyPart on a correct answer', () => {
  it('returns the part with the exact CRC32C and writes exactly its bytes', async () => {
    const h = harness();
    const completed = await copyPart(part1, h.options, never);
    const expectedBytes = FILE.subarray(10, 20);
    expect(completed).toEqual({
      index: 1,
      offsetBytes: 10,
      lengthBytes: 10,
      crc32c: crc32c(expectedBytes),
      receipt: { receipt: 'part-1' },
    });
    expect(h.upload.written.get(1)).toEqual(expectedBytes);
    expect(h.pool.requests).toHaveLength(1);
    expect(h.sleeps).toEqual([]);
    expect(h.deltas).toEqual([5, 5]);
  });

  it('copies a short last part', async () => {
    const last: PartSpec = { index: 9, offsetBytes: 90, lengthBytes: 5 };
    const h = harness(
      (_request, { start, end }) => partial(start, end, { 'content-range': `bytes ${start}-${end}/95` }),
      {},
      { totalBytes: 95 },
    );
    const completed = await copyPart(last, h.options, never);
    expect(completed).toEqual({
      index: 9,
      offsetBytes: 90,
      lengthBytes: 5,
      crc32c: crc32c(FILE.subarray(90, 95)),
      receipt: { receipt: 'part-9' },
    });
    expect(h.upload.written.get(9)).toEqual(FILE.subarray(90, 95));
    expect(h.pool.requests[0]?.headers['range']).toBe('bytes=90-94');
  });

  it('sends a conditional identity range request with the strong ETag in If-Range', async () => {
    const h = harness();
    await copyPart(part1, h.options, never);
    expect(h.pool.requests[0]?.headers).toEqual({
      range: 'bytes=10-19',
      'accept-encoding': 'identity',
      'user-agent': 'reelin-video-intake',
      'if-range': ETAG,
    });
    expect(h.pool.requests[0]?.method === undefined || h.pool.requests[0]?.method === 'GET').toBe(true);
    expect(h.pool.requests[0]?.signal?.aborted).toBe(false);
  });

  it.each([
    ['the ETag is weak', 'W/"v1"'],
    ['there is no ETag', null],
  ])('sends Last-Modified in If-Range when %s', async (_label, etag) => {
    const h = harness(
      (_request, { start, end }) => {
        const answer = partial(start, end);
        if (etag === null) delete answer.headers?.['etag'];
        else if (answer.headers) answer.headers['etag'] = etag;
        return answer;
      },
      {},
      { etag },
    );
    await copyPart(part1, h.options, never);
    expect(h.pool.requests[0]?.headers['if-range']).toBe(LAST_MODIFIED);
  });

  it('sends no If-Range when there is no usable validator', async () => {
    const h = harness(undefined, {}, { etag: 'W/"v1"', lastModified: null });
    await copyPart(part1, h.options, never);
    expect(h.pool.requests[0]?.headers).toEqual({
      range: 'bytes=10-19',
      'accept-encoding': 'identity',
      'user-agent': 'reelin-video-intake',
    });
  });

  it('accepts Content-Encoding identity and a 206 without ETag', async () => {
    const h = harness((_request, { start, end }) => {
      const answer = partial(start, end, { 'content-encoding': 'Identity' });
      delete answer.headers?.['etag'];
      return answer;
    });
    expect((await copyPart(part1, h.options, never)).crc32c).toBe(crc32c(FILE.subarray(10, 20)));
  });
});

describe('copyPart retries', () => {
  it('retries a 503 and waits at least the 2 s that Retry-After asks for', async () => {
    const h = harness(failingFirst(1, () => ({ statusCode: 503, headers: { 'retry-after': '2' } })));
    const completed = await copyPart(part1, h.options, never);
    expect(completed.crc32c).toBe(crc32c(FILE.subarray(10, 20)));
    expect(h.pool.requests).toHaveLength(2);
    expect(h.sleeps).toEqual([2_000]);
    expect(h.retries).toEqual([{ index: 1, attempt: 1, delayMs: 2_000, code: 'SOURCE_HTTP_ERROR' }]);
  });

  it('honours a Retry-After HTTP-date relative to the injected clock', async () => {
    const h = harness(
      failingFirst(1, () => ({ statusCode: 503, headers: { 'retry-after': 'Sat, 28 Nov 2026 10:00:30 GMT' } })),
    );
    await copyPart(part1, h.options, never);
    expect(h.sleeps).toEqual([30_000]);
  });

  it('caps Retry-After at retryAfterMaxMs', async () => {
    const h = harness(
      failingFirst(1, () => ({ statusCode: 503, headers: { 'retry-after': '86400' } })),
      { retryAfterMaxMs: 60_000 },
    );
    await copyPart(part1, h.options, never);
    expect(h.sleeps).toEqual([60_000]);
  });

  it.each([429, 408, 500, 502, 504])('retries a %d with backoff', async (status) => {
    const h = harness(failingFirst(1, () => ({ statusCode: status })));
    await copyPart(part1, h.options, never);
    expect(h.pool.requests).toHaveLength(2);
    expect(h.sleeps).toEqual([50]);
    expect(h.upload.written.get(1)).toEqual(FILE.subarray(10, 20));
  });

  it('grows the backoff with each attempt', async () => {
    const h = harness(
      failingFirst(3, () => ({ statusCode: 500 })),
      { attempts: 4 },
    );
    await copyPart(part1, h.options, never);
    expect(h.sleeps).toEqual([50, 100, 200]);
    expect(h.retries.map((retry) => retry.attempt)).toEqual([1, 2, 3]);
  });

  it('retries a body shorter than asked for', async () => {
    const h = harness(
      failingFirst(1, ({ start, end }) => ({ ...partial(start, end), chunks: [FILE.subarray(start, start + 4)] })),
    );
    const completed = await copyPart(part1, h.options, never);
    expect(completed.crc32c).toBe(crc32c(FILE.subarray(10, 20)));
    expect(h.upload.written.get(1)).toEqual(FILE.subarray(10, 20));
    expect(h.pool.requests).toHaveLength(2);
    expect(h.retries).toEqual([{ index: 1, attempt: 1, delayMs: 50, code: 'SOURCE_UNREACHABLE' }]);
  });

  it('takes back the bytes of a failed attempt, so onBytes sums to exactly the part length', async () => {
    const h = harness(
      failingFirst(1, ({ start, end }) => ({
        ...partial(start, end),
        chunks: [FILE.subarray(start, start + 3), FILE.subarray(start + 3, start + 7)],
      })),
    );
    await copyPart(part1, h.options, never);
    expect(h.deltas).toEqual([3, 4, -7, 5, 5]);
    expect(h.deltas.reduce((sum, delta) => sum + delta, 0)).toBe(10);
  });

  it('retries a connection that breaks off mid-body', async () => {
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    const h = harness(
      failingFirst(1, ({ start, end }) => ({
        ...partial(start, end),
        chunks: [FILE.subarray(start, start + 2)],
        breaksWith: reset,
      })),
    );
    await copyPart(part1, h.options, never);
    expect(h.retries).toEqual([{ index: 1, attempt: 1, delayMs: 50, code: 'SOURCE_UNREACHABLE' }]);
    expect(h.deltas.reduce((sum, delta) => sum + delta, 0)).toBe(10);
  });

  it('retries a transient SOURCE_UNREACHABLE from the pool', async () => {
    const cause = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const h = harness(failingFirst(1, () => new AppError('SOURCE_UNREACHABLE', 'refused', null, { cause })));
    await copyPart(part1, h.options, never);
    expect(h.pool.requests).toHaveLength(2);
  });

  it('does not retry a certificate failure', async () => {
    const cause = Object.assign(new Error('certificate has expired'), { code: 'CERT_HAS_EXPIRED' });
    const h = harness(
      () => new AppError('SOURCE_UNREACHABLE', 'the TLS certificate of the origin is not valid', null, { cause }),
    );
    const error = await appErrorOf(copyPart(part1, h.options, never));
    expect(error.code).toBe('SOURCE_UNREACHABLE');
    expect(error.message).toBe('the TLS certificate of the origin is not valid');
    expect(h.pool.requests).toHaveLength(1);
  });

  it('does not retry a full disk', async () => {
    const h = harness();
    const full = Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    h.options.upload.createPartWriter = async () => {
      const writable = new Writable({ write: (_chunk, _encoding, callback) => callback(full) });
      const done = finished(writable).then(() => null);
      done.catch(() => undefined);
      return { writable, done };
    };
    expect(await rejectionOf(copyPart(part1, h.options, never))).toBe(full);
    expect(h.pool.requests).toHaveLength(1);
  });

  it('writes the part again when the store was busy (RetryablePartStoreError), fetching it again from the source', async () => {
    const h = harness();
    const real = h.options.upload.createPartWriter.bind(h.options.upload);
    let writers = 0;
    h.options.upload.createPartWriter = async (part, options) => {
      writers += 1;
      if (writers > 1) return real(part, options);
      const busy = new RetryablePartStoreError(
        part,
        'storing part 2 in S3 failed (SlowDown, HTTP 503): Please reduce your request rate.',
      );
      const writable = new Writable({ write: (_chunk, _encoding, callback) => callback(busy) });
      const done = finished(writable).then(() => null);
      done.catch(() => undefined);
      return { writable, done };
    };
    const copied = await copyPart(part1, h.options, never);
    expect(copied.crc32c).toBe(crc32c(FILE.subarray(10, 20)));
    expect(h.upload.written.get(1)?.equals(FILE.subarray(10, 20))).toBe(true);
    expect(h.pool.requests).toHaveLength(2);
    expect(h.retries).toEqual([{ index: 1, attempt: 1, delayMs: 50, code: 'SERVICE_UNAVAILABLE' }]);
  });

  it("hands a store that stays busy back as the store's error, not as a failure of the import", async () => {
    const h = harness();
    const busyErrors: RetryablePartStoreError[] = [];
    h.options.upload.createPartWriter = async (part) => {
      const busy = new RetryablePartStoreError(
        part,
        `storing part 2 in S3 failed (InternalError, HTTP 500), attempt ${busyErrors.length + 1}`,
      );
      busyErrors.push(busy);
      const writable = new Writable({ write: (_chunk, _encoding, callback) => callback(busy) });
      const done = finished(writable).then(() => null);
      done.catch(() => undefined);
      return { writable, done };
    };
    const error = await rejectionOf(copyPart(part1, h.options, never));
    expect(error).toBe(busyErrors[2]);
    expect(error).not.toBeInstanceOf(AppError);
    expect(h.pool.requests).toHaveLength(3);
  });

  it('gives up after the last attempt with the last error code and the attempt count', async () => {
    const h = harness(() => ({ statusCode: 503 }));
    const error = await appErrorOf(copyPart(part1, h.options, never));
    expect(error.code).toBe('SOURCE_HTTP_ERROR');
    expect(error.message).toBe('the server answered 503 Service Unavailable to part 2 (part 2, after 3 attempts)');
    expect(error.details).toEqual({ part: 1, status: 503, attempts: 3 });
    expect(h.pool.requests).toHaveLength(3);
    expect(h.sleeps).toEqual([50, 100]);
  });

  it('reports the code of the last failure when failures differ', async () => {
    let calls = 0;
    const h = harness(
      (_request, { start, end }) => {
        calls += 1;
        return calls === 1
          ? { statusCode: 503 }
          : { ...partial(start, end), chunks: [FILE.subarray(start, start + 1)] };
      },
      { attempts: 2 },
    );
    const error = await appErrorOf(copyPart(part1, h.options, never));
    expect(error.code).toBe('SOURCE_UNREACHABLE');
    expect(error.message).toBe('the connection ended after 1 of the 10 bytes of part 2 (part 2, after 2 attempts)');
  });

  it('makes one attempt only when attempts is 1', async () => {
    const h = harness(() => ({ statusCode: 503 }), { attempts: 1 });
    const error = await appErrorOf(copyPart(part1, h.options, never));
    expect(error.message).toBe('the server answered 503 Service Unavailable to part 2 (part 2, after 1 attempts)');
    expect(h.sleeps).toEqual([]);
  });
});

describe('copyPart permanent failures', () => {
  async function failureOf(
    responder: Responder,
    source: Partial<SourceValidators> = {},
  ): Promise<{ error: AppError; h: Harness }> {
    const h = harness(responder, {}, source);
    const error = await appErrorOf(copyPart(part1, h.options, never));
    return { error, h };
  }

  it('fails with SOURCE_CHANGED when a conditional request gets 200', async () => {
    const { error, h } = await failureOf(() => ({ statusCode: 200, headers: { etag: '"v2"' }, chunks: [FILE] }));
    expect(error.code).toBe('SOURCE_CHANGED');
    expect(error.details).toEqual({ part: 1, status: 200 });
    expect(h.pool.requests).toHaveLength(1);
    expect(h.upload.writes).toEqual([]);
    expect(h.pool.bodies[0]?.destroyed).toBe(true);
  });

  it('fails with CONTENT_NOT_PARTIAL_ERROR when a request without If-Range gets 200', async () => {
    const { error, h } = await failureOf(() => ({ statusCode: 200, chunks: [FILE] }), {
      etag: null,
      lastModified: null,
    });
    expect(error.code).toBe('CONTENT_NOT_PARTIAL_ERROR');
    expect(error.message).toBe(
      'the server answered 200 to the range request of part 2: it stopped honouring range requests',
    );
    expect(h.pool.requests).toHaveLength(1);
  });

  it.each([
    ['start', 'bytes 11-19/100'],
    ['end', 'bytes 10-20/100'],
    ['whole range', 'bytes 0-9/100'],
  ])('fails with UNEXPECTED_CONTENT_RANGE when the %s differs from the request', async (_label, contentRange) => {
    const { error, h } = await failureOf((_request, { start, end }) =>
      partial(start, end, { 'content-range': contentRange }),
    );
    expect(error.code).toBe('UNEXPECTED_CONTENT_RANGE');
    expect(error.message).toBe(`the server answered the request for bytes 10-19 with ${contentRange}`);
    expect(h.pool.requests).toHaveLength(1);
  });

  it('fails with UNEXPECTED_CONTENT_RANGE when the total is unknown', async () => {
    const { error } = await failureOf((_request, { start, end }) =>
      partial(start, end, { 'content-range': 'bytes 10-19/*' }),
    );
    expect(error.code).toBe('UNEXPECTED_CONTENT_RANGE');
  });

  it.each([
    ['an invalid Content-Range', 'bytes=10-19/100'],
    ['an empty Content-Range', ''],
  ])('fails with CONTENT_RANGE_HEADER_INVALID for %s', async (_label, contentRange) => {
    const { error } = await failureOf((_request, { start, end }) =>
      partial(start, end, { 'content-range': contentRange }),
    );
    expect(error.code).toBe('CONTENT_RANGE_HEADER_INVALID');
  });

  it('fails with CONTENT_RANGE_HEADER_INVALID for a 206 without Content-Range', async () => {
    const { error } = await failureOf((_request, { start, end }) => {
      const answer = partial(start, end);
      delete answer.headers?.['content-range'];
      return answer;
    });
    expect(error.code).toBe('CONTENT_RANGE_HEADER_INVALID');
  });

  it('fails with SOURCE_CHANGED when the total size differs', async () => {
    const { error } = await failureOf((_request, { start, end }) =>
      partial(start, end, { 'content-range': `bytes ${start}-${end}/101` }),
    );
    expect(error.code).toBe('SOURCE_CHANGED');
    expect(error.details).toEqual({ part: 1, totalBytes: 101, expectedTotalBytes: 100 });
  });

  it.each(['gzip', 'br', 'gzip, identity'])(
    'fails with CONTENT_ENCODING_NOT_IDENTITY for Content-Encoding %s',
    async (encoding) => {
      const { error, h } = await failureOf((_request, { start, end }) =>
        partial(start, end, { 'content-encoding': encoding }),
      );
      expect(error.code).toBe('CONTENT_ENCODING_NOT_IDENTITY');
      expect(error.details).toEqual({ part: 1, contentEncoding: encoding });
      expect(h.pool.requests).toHaveLength(1);
    },
  );

  it('fails with SOURCE_CHANGED when a 206 carries another strong ETag', async () => {
    const { error } = await failureOf((_request, { start, end }) => partial(start, end, { etag: '"v2"' }));
    expect(error.code).toBe('SOURCE_CHANGED');
    expect(error.details).toEqual({ part: 1, etag: '"v2"', expectedEtag: ETAG });
  });

  it('fails with SOURCE_CHANGED when Last-Modified changes and the ETag cannot tell', async () => {
    const { error } = await failureOf(
      (_request, { start, end }) =>
        partial(start, end, { etag: 'W/"v1"', 'last-modified': 'Thu, 22 Oct 2015 07:28:00 GMT' }),
      { etag: 'W/"v1"' },
    );
    expect(error.code).toBe('SOURCE_CHANGED');
  });

  it.each([412, 416])('fails with SOURCE_CHANGED on %d without retrying', async (status) => {
    const { error, h } = await failureOf(() => ({ statusCode: status }));
    expect(error.code).toBe('SOURCE_CHANGED');
    expect(h.pool.requests).toHaveLength(1);
  });

  it.each([
    [404, '404 Not Found'],
    [403, '403 Forbidden'],
    [410, '410 Gone'],
  ])('fails with SOURCE_HTTP_ERROR on %d without retrying', async (status, text) => {
    const { error, h } = await failureOf(() => ({ statusCode: status }));
    expect(error.code).toBe('SOURCE_HTTP_ERROR');
    expect(error.message).toBe(`the server answered ${text} to part 2`);
    expect(error.details).toEqual({ part: 1, status });
    expect(h.pool.requests).toHaveLength(1);
    expect(h.sleeps).toEqual([]);
    expect(h.pool.bodies[0]?.destroyed).toBe(true);
  });

  it('fails with UNEXPECTED_CONTENT_RANGE when the body is longer than asked', async () => {
    const { error, h } = await failureOf((_request, { start, end }) => ({
      ...partial(start, end),
      chunks: [FILE.subarray(start, end + 1), Buffer.from([1])],
    }));
    expect(error.code).toBe('UNEXPECTED_CONTENT_RANGE');
    expect(error.message).toBe('the server sent more than the 10 bytes asked for in part 2');
    expect(h.pool.requests).toHaveLength(1);
    expect(h.deltas.reduce((sum, delta) => sum + delta, 0)).toBe(0);
    expect(h.upload.written.has(1)).toBe(false);
  });
});

describe('copyPart abort', () => {
  it(
    'rejects with the abort reason and does not retry',
    async () => {
      const controller = new AbortController();
      const reason = new Error('shutting down');
      const h = harness((_request, { start }) => ({
        statusCode: 206,
        headers: { 'content-range': `bytes ${start}-${start + 9}/100` },
        chunks: [FILE.subarray(start, start + 2)],
        hangs: true,
      }));
      const copying = copyPart(part1, h.options, controller.signal);
      await h.pool.requestsReached(1);
      controller.abort(reason);
      expect(await rejectionOf(copying)).toBe(reason);
      expect(h.pool.requests).toHaveLength(1);
      expect(h.sleeps).toEqual([]);
    },
    HANG_GUARD_MS,
  );
});

// ---------------------------------------------------------------------------------------------

/** The lanes' connections: each opened one shares the harness's fake pool and counts its close. */
interface LaneConnections {
  opened: number;
  closed: number;
}

function engineOptions(
  h: Harness,
  connections: number,
  copied: CompletedPart[],
  lanes: LaneConnections = { opened: 0, closed: 0 },
  overrides: Partial<CopyEngineOptions> = {},
): CopyEngineOptions {
  const { pool: _shared, ...partOptions } = h.options;
  return {
    ...partOptions,
    openConnection: () => {
      lanes.opened += 1;
      return { ...h.pool, close: async () => void (lanes.closed += 1) };
    },
    connections,
    onPartCopied: (part) => copied.push(part),
    ...overrides,
  };
}

/** Grants a test hands out by hand, like a host lease that grows. */
function manualGrants(): {
  grants: NonNullable<CopyEngineOptions['grants']>;
  grow(total: number): void;
  listeners(): number;
} {
  const listeners = new Set<(connections: number) => void>();
  return {
    grants: {
      onGrow(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    },
    grow: (total) => listeners.forEach((listener) => listener(total)),
    listeners: () => listeners.size,
  };
}

describe('copyParts', () => {
  it('copies every part exactly once with at most `connections` requests in flight', async () => {
    const h = harness();
    const copied: CompletedPart[] = [];
    await copyParts(parts, engineOptions(h, 3, copied), never);
    expect(h.pool.maxInFlight).toBe(3);
    expect([...h.pool.requestedStarts].sort((a, b) => a - b)).toEqual(parts.map((part) => part.offsetBytes));
    expect(copied.map((part) => part.index).sort((a, b) => a - b)).toEqual(parts.map((part) => part.index));
    for (const part of parts)
      expect(h.upload.written.get(part.index)).toEqual(
        FILE.subarray(part.offsetBytes, part.offsetBytes + part.lengthBytes),
      );
    const inOrder = [...copied]
      .sort((a, b) => a.index - b.index)
      .map((part) => ({ crc32c: part.crc32c, lengthBytes: part.lengthBytes }));
    expect(combinePartChecksums(inOrder)).toBe(crc32c(FILE));
    expect(h.deltas.reduce((sum, delta) => sum + delta, 0)).toBe(TOTAL_BYTES);
  });

  it.each([1, 2, 5, 20])(
    'keeps at most %d requests in flight, one connection per lane, each closed at the end',
    async (connections) => {
      const h = harness();
      const lanes = { opened: 0, closed: 0 };
      await copyParts(parts, engineOptions(h, connections, [], lanes), never);
      expect(h.pool.maxInFlight).toBe(Math.min(connections, parts.length));
      expect(h.pool.requests).toHaveLength(parts.length);
      expect(lanes).toEqual({
        opened: Math.min(connections, parts.length),
        closed: Math.min(connections, parts.length),
      });
    },
  );

  it('adds lanes when more connections are granted, up to the new total and never past it', async () => {
    const manual = manualGrants();
    const copied: CompletedPart[] = [];
    const lanes = { opened: 0, closed: 0 };
    const h = harness();
    const copying = copyParts(parts, engineOptions(h, 1, copied, lanes, { grants: manual.grants }), never);
    await h.pool.requestsReached(1);
    // Mid-copy: one lane, its first request under way.
    expect([lanes.opened, h.pool.requests.length]).toEqual([1, 1]);
    manual.grow(3);
    expect(lanes.opened).toBe(3);
    manual.grow(2);
    expect(lanes.opened).toBe(3);
    await copying;
    expect(h.pool.maxInFlight).toBe(3);
    expect(lanes).toEqual({ opened: 3, closed: 3 });
    expect(copied.map((part) => part.index).sort((a, b) => a - b)).toEqual(parts.map((part) => part.index));
    expect([...h.pool.requestedStarts].sort((a, b) => a - b)).toEqual(parts.map((part) => part.offsetBytes));
    // Grants after the copy change nothing: the engine stopped listening.
    expect(manual.listeners()).toBe(0);
  });

  it('waits for lanes added late in the copy before it resolves', async () => {
    const manual = manualGrants();
    const copied: CompletedPart[] = [];
    const lanes = { opened: 0, closed: 0 };
    const h = harness();
    // The added lanes hold their first request at a gate, so the first lane ends before them.
    let openGate: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      openGate = resolve;
    });
    let firstLaneClosed: () => void = () => undefined;
    const firstLaneEnded = new Promise<void>((resolve) => {
      firstLaneClosed = resolve;
    });
    const options = engineOptions(h, 1, copied, lanes, {
      grants: manual.grants,
      openConnection: () => {
        lanes.opened += 1;
        const held = lanes.opened > 1;
        return {
          ...h.pool,
          stream: async (request, sink) => {
            if (held) await gate;
            return h.pool.stream(request, sink);
          },
          close: async () => {
            lanes.closed += 1;
            if (!held) firstLaneClosed();
          },
        };
      },
      onPartCopied: (part) => {
        copied.push(part);
        // The grant arrives while the first lane is already being waited for.
        if (copied.length === 2) manual.grow(4);
      },
    });
    const copying = copyParts(parts, options, never);
    let settled = false;
    const noteSettled = () => {
      settled = true;
    };
    void copying.then(noteSettled, noteSettled);
    await firstLaneEnded;
    // A copy that waited only for its first lane settles in the turns right after that lane closed.
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    expect(copied).toHaveLength(parts.length - 3);
    openGate();
    await copying;
    expect(lanes).toEqual({ opened: 4, closed: 4 });
    expect(copied.map((part) => part.index).sort((a, b) => a - b)).toEqual(parts.map((part) => part.index));
  });

  it(
    'opens no lane for a grant once every part is taken',
    async () => {
      const manual = manualGrants();
      const lanes = { opened: 0, closed: 0 };
      const h = harness((_request, range) =>
        range.start === parts.at(-1)!.offsetBytes
          ? { ...partial(range.start, range.end), hangs: true }
          : serveFile(_request, range),
      );
      const controller = new AbortController();
      const copying = copyParts(parts, engineOptions(h, 1, [], lanes, { grants: manual.grants }), controller.signal);
      await h.pool.requestsReached(parts.length);
      manual.grow(5);
      expect(lanes.opened).toBe(1);
      controller.abort(new Error('stop'));
      await rejectionOf(copying);
      expect(lanes).toEqual({ opened: 1, closed: 1 });
    },
    HANG_GUARD_MS,
  );

  it('retries a transient failure of one part and still copies every part once', async () => {
    let failed = false;
    const h = harness((request, range) => {
      if (range.start === 30 && !failed) {
        failed = true;
        return { statusCode: 503 };
      }
      return serveFile(request, range);
    });
    const copied: CompletedPart[] = [];
    await copyParts(parts, engineOptions(h, 4, copied), never);
    expect(copied).toHaveLength(parts.length);
    expect(h.pool.requests).toHaveLength(parts.length + 1);
    expect(h.sleeps).toEqual([50]);
  });

  it(
    'stops at the first permanent failure and never requests the parts not yet started',
    async () => {
      const h = harness((_request, { start, end }) =>
        start === 10 ? { statusCode: 404 } : { ...partial(start, end), chunks: [], hangs: true },
      );
      const copied: CompletedPart[] = [];
      const lanes = { opened: 0, closed: 0 };
      const error = await appErrorOf(copyParts(parts, engineOptions(h, 2, copied, lanes), never));
      expect(lanes).toEqual({ opened: 2, closed: 2 });
      expect(error.code).toBe('SOURCE_HTTP_ERROR');
      expect(error.details).toEqual({ part: 1, status: 404 });
      expect([...h.pool.requestedStarts].sort((a, b) => a - b)).toEqual([0, 10]);
      expect(copied).toEqual([]);
      expect(h.sleeps).toEqual([]);
    },
    HANG_GUARD_MS,
  );

  it(
    'rejects with the outer abort reason and requests nothing more',
    async () => {
      const controller = new AbortController();
      const reason = new Error('worker shutting down');
      const h = harness((_request, { start, end }) => ({ ...partial(start, end), chunks: [], hangs: true }));
      const copied: CompletedPart[] = [];
      const copying = copyParts(parts, engineOptions(h, 3, copied), controller.signal);
      await h.pool.requestsReached(3);
      controller.abort(reason);
      expect(await rejectionOf(copying)).toBe(reason);
      expect(h.pool.requests).toHaveLength(3);
      expect(copied).toEqual([]);
    },
    HANG_GUARD_MS,
  );

  it('rejects with the reason of an already aborted signal without any request', async () => {
    const reason = new Error('aborted before start');
    const h = harness();
    expect(await rejectionOf(copyParts(parts, engineOptions(h, 3, []), AbortSignal.abort(reason)))).toBe(reason);
    expect(h.pool.requests).toEqual([]);
  });

  it('resolves at once for no parts', async () => {
    const h = harness();
    await copyParts([], engineOptions(h, 3, []), never);
    expect(h.pool.requests).toEqual([]);
  });
});
