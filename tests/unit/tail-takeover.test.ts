import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { crc32c } from '@node-rs/crc32';
import { describe, expect, it } from 'vitest';
import { copyParts, type CopyEngineOptions } from '../../src/copy/copy-engine.js';
import { PieceCutError } from '../../src/copy/part-assembly.js';
import { AppError } from '../../src/domain/errors.js';
import { planParts } from '../../src/domain/part-plan.js';
import type { OutboundRequest, PinnedPool } from '../../src/net/outbound-client.js';
import type { BlobKey } from '../../src/storage/blob-keys.js';
import type {
  BlobUpload,
  CompletedPart,
  PartWriter,
  PartWriterOptions,
  UploadPart,
} from '../../src/storage/blob-store.js';

// A fake origin whose answers a test scripts chunk by chunk, and an upload that keeps every part's
// bytes in the order its writer got them. No timers: everything moves on promises the test resolves.

const TOTAL_BYTES = 40;
const PART_SIZE = 20;
const FILE = Buffer.from(Array.from({ length: TOTAL_BYTES }, (_, i) => (i * 53 + 7) & 0xff));
const ETAG = '"v1"';

interface Gate {
  promise: Promise<void>;
  open(): void;
}

function gate(): Gate {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/** An answer: the body in steps; a step waits for its gate (if any) before sending its bytes. */
type Script = { bytes: number; after?: Promise<void> }[];

interface Served {
  range: string;
  ifRange: string | undefined;
  /** The abort reason the request ended with, or null when its body ended. */
  abortedWith: unknown;
}

function scriptedPool(script: (start: number, end: number) => Script): PinnedPool & { served: Served[] } {
  const served: Served[] = [];
  return {
    served,
    target: {
      url: new URL('https://origin.example.com/f'),
      hostname: 'origin.example.com',
      port: 443,
      addresses: ['93.184.216.34'],
    },
    async request() {
      throw new Error('not used');
    },
    async stream(request: OutboundRequest, sink) {
      const match = /^bytes=(\d+)-(\d+)$/.exec(request.headers['range'] ?? '');
      const [start, end] = [Number(match?.[1]), Number(match?.[2])];
      const record: Served = {
        range: request.headers['range'] ?? '',
        ifRange: request.headers['if-range'],
        abortedWith: null,
      };
      served.push(record);
      const signal = request.signal as AbortSignal;
      const writable = sink({
        statusCode: 206,
        headers: { 'content-range': `bytes ${start}-${end}/${TOTAL_BYTES}`, etag: ETAG },
      });
      let position = start;
      const aborted = new Promise<never>((_resolve, reject) =>
        signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
      );
      aborted.catch(() => undefined);
      try {
        for (const step of script(start, end)) {
          if (step.after) await Promise.race([step.after, aborted]);
          if (signal.aborted) throw signal.reason;
          const chunk = FILE.subarray(position, position + step.bytes);
          position += step.bytes;
          await Promise.race([
            new Promise<void>((resolve, reject) => writable.write(chunk, (e) => (e ? reject(e) : resolve()))),
            aborted,
          ]);
        }
        writable.end();
        await finished(writable);
      } catch (error) {
        record.abortedWith = signal.aborted ? signal.reason : error;
        writable.destroy();
        throw signal.aborted ? signal.reason : error;
      }
    },
    async close() {},
  };
}

function keepingUpload(): BlobUpload & { stored: Map<number, Buffer> } {
  const stored = new Map<number, Buffer>();
  return {
    key: 'teams/t/videos/v/source' as BlobKey,
    state: {},
    stored,
    async createPartWriter(part: UploadPart, options: PartWriterOptions = {}): Promise<PartWriter> {
      const chunks: Buffer[] = [];
      const writable = new Writable({
        write(chunk: Buffer, _encoding, callback) {
          options.observe?.(chunk);
          chunks.push(chunk);
          callback();
        },
        final(callback) {
          const body = Buffer.concat(chunks);
          callback(body.length === part.lengthBytes ? null : new Error(`part ${part.index}: ${body.length} bytes`));
        },
      });
      const done = finished(writable).then(() => {
        stored.set(part.index, Buffer.concat(chunks));
        return null;
      });
      done.catch(() => undefined);
      return { writable, done };
    },
    async flush() {},
    async complete() {},
    async close() {},
  };
}

function options(
  pool: PinnedPool,
  upload: BlobUpload,
  copied: CompletedPart[],
  connections: number,
): CopyEngineOptions {
  return {
    openConnection: () => pool,
    connections,
    upload,
    source: { totalBytes: TOTAL_BYTES, etag: ETAG, lastModified: null },
    attempts: 2,
    backoff: { baseDelayMs: 1, maxDelayMs: 1 },
    retryAfterMaxMs: 0,
    sleep: async () => undefined,
    random: () => 0,
    now: () => 0,
    onBytes: () => undefined,
    onPartCopied: (part) => copied.push(part),
    takeover: { minPieceBytes: 4, alignBytes: 4, bufferBytes: 64 },
  };
}

describe('the tail takeover', () => {
  it('lets an idle connection fetch the second half of a slow part, and stores the part whole and in order', async () => {
    const slowStarted = gate();
    const slowResumes = gate();
    const pool = scriptedPool((start, end) => {
      if (start === 0) return [{ bytes: 8 }, { bytes: 12, after: slowResumes.promise }];
      // Part 2 waits until part 1 has sent its first 8 bytes, so the takeover finds 12 to come.
      if (start === 20) return [{ bytes: 20, after: slowStarted.promise }];
      return [{ bytes: end - start + 1 }];
    });
    const upload = keepingUpload();
    const copied: CompletedPart[] = [];
    const copying = copyParts(
      planParts(TOTAL_BYTES, PART_SIZE),
      options(pool, upload, copied, 2),
      new AbortController().signal,
    );
    // Both move on microtasks, part 1 first: part 2 ends once part 1 has sent its first 8 bytes,
    // and its connection, idle, takes over bytes 16-19.
    slowStarted.open();
    // Then it halves what is left again: 12-15, and 8-11 would leave pieces under the minimum.
    await until(() => pool.served.length === 4 && upload.stored.size === 1);
    slowResumes.open();
    await copying;

    expect(pool.served.map((each) => each.range)).toEqual(['bytes=0-19', 'bytes=20-39', 'bytes=16-19', 'bytes=12-15']);
    expect(pool.served.every((each) => each.ifRange === ETAG)).toBe(true);
    // The slow request stopped at the split rather than fetch the bytes taken over.
    expect(pool.served[0]?.abortedWith).toBeInstanceOf(PieceCutError);
    expect(upload.stored.get(0)).toEqual(FILE.subarray(0, 20));
    expect(upload.stored.get(1)).toEqual(FILE.subarray(20, 40));
    const first = copied.find((part) => part.index === 0);
    expect(first?.crc32c).toBe(crc32c(FILE.subarray(0, 20)) >>> 0);
  });

  it('tries the whole part again when the connection of a range taken over breaks, and stores exact bytes', async () => {
    const slowStarted = gate();
    const slowResumes = gate();
    let partOneRequests = 0;
    const pool = scriptedPool((start, end) => {
      if (start === 0) partOneRequests += 1;
      if (start === 0 && partOneRequests === 1) return [{ bytes: 8 }, { bytes: 12, after: slowResumes.promise }];
      if (start === 20) return [{ bytes: 20, after: slowStarted.promise }];
      // The first range taken over ends after 2 of its bytes (a connection that broke).
      if (start === 16) return [{ bytes: 2 }];
      return [{ bytes: end - start + 1 }];
    });
    const upload = keepingUpload();
    const copied: CompletedPart[] = [];
    const copying = copyParts(
      planParts(TOTAL_BYTES, PART_SIZE),
      options(pool, upload, copied, 2),
      new AbortController().signal,
    );
    slowStarted.open();
    await copying;
    slowResumes.open();

    expect(pool.served.slice(0, 3).map((each) => each.range)).toEqual(['bytes=0-19', 'bytes=20-39', 'bytes=16-19']);
    // The failure of the range taken over stopped the part's own request, and the part was fetched again.
    expect((pool.served[0]?.abortedWith as AppError).code).toBe('SOURCE_UNREACHABLE');
    expect(partOneRequests).toBe(2);
    expect(upload.stored.get(0)).toEqual(FILE.subarray(0, 20));
    expect(copied.find((part) => part.index === 0)?.crc32c).toBe(crc32c(FILE.subarray(0, 20)) >>> 0);
  });

  it('fails the copy when a range taken over answers more bytes than asked, storing nothing of the part', async () => {
    const slowStarted = gate();
    const slowResumes = gate();
    let takenOverRequests = 0;
    const pool = scriptedPool((start, end) => {
      if (start === 0 && takenOverRequests === 0) return [{ bytes: 8 }, { bytes: 12, after: slowResumes.promise }];
      if (start === 20) return [{ bytes: 20, after: slowStarted.promise }];
      if (start === 16) {
        takenOverRequests += 1;
        // The range taken over answers with one byte too many: a server error that fails the part.
        return [{ bytes: 5 }];
      }
      return [{ bytes: end - start + 1 }];
    });
    const upload = keepingUpload();
    const copied: CompletedPart[] = [];
    const copying = copyParts(
      planParts(TOTAL_BYTES, PART_SIZE),
      options(pool, upload, copied, 2),
      new AbortController().signal,
    );
    slowStarted.open();
    const failure = await copying.then(
      () => null,
      (error: unknown) => error,
    );
    slowResumes.open();
    // Too long a body is the server's error: permanent, so the copy fails with it.
    expect(failure).toBeInstanceOf(AppError);
    expect((failure as AppError).code).toBe('UNEXPECTED_CONTENT_RANGE');
    expect(upload.stored.has(0)).toBe(false);
    expect(pool.served[0]?.abortedWith).toBe(failure);
  });
});

/** Waits, turn by turn of the event loop's microtasks and callbacks, until `holds` is true. */
async function until(holds: () => boolean): Promise<void> {
  for (let turn = 0; turn < 1_000; turn += 1) {
    if (holds()) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  throw new Error('the condition did not come true');
}
