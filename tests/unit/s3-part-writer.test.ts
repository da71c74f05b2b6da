/**
 * The S3 part writer without a network: `send` stands in for UploadPart, so these check what the
 * writer itself guarantees (bounded buffering, length checks, the comparison with S3's CRC32C,
 * sending a part again only when S3 refused it before reading any of it).
 */
import type { Readable } from 'node:stream';
import { S3ServiceException, type UploadPartCommandOutput } from '@aws-sdk/client-s3';
import { crc32c } from '@node-rs/crc32';
import { describe, expect, it } from 'vitest';
import { PartLengthError, RetryablePartStoreError } from '../../src/storage/blob-store.js';
import { S3PartSink, crc32cToBase64 } from '../../src/storage/s3-part-writer.js';
import { until } from '../support/wait.js';

const part = { index: 2, offsetBytes: 0, lengthBytes: 1_000_000 };

function answer(fields: Partial<UploadPartCommandOutput>): UploadPartCommandOutput {
  return { $metadata: { httpStatusCode: 200 }, ...fields };
}

/** A `send` that reads the whole body, then answers with `fields` (the body's own CRC32C unless given). */
function reading(fields: Partial<UploadPartCommandOutput> = {}) {
  const received: Buffer[] = [];
  const send = async (body: Readable) => {
    for await (const chunk of body) received.push(chunk as Buffer);
    const bytes = Buffer.concat(received);
    return answer({ ETag: '"etag-1"', ChecksumCRC32C: crc32cToBase64(crc32c(bytes) >>> 0), ...fields });
  };
  return { send, received };
}

function settle(sink: S3PartSink): Promise<unknown> {
  return new Promise((resolve) => {
    sink.on('finish', () => resolve(null));
    sink.on('error', resolve);
  });
}

describe('crc32cToBase64', () => {
  it('encodes the 4 big-endian bytes', () => {
    expect(crc32cToBase64(0xe3069283)).toBe('4waSgw==');
    expect(crc32cToBase64(0)).toBe('AAAAAA==');
  });
});

describe('S3PartSink', () => {
  it("passes every byte to UploadPart, observed first, and keeps S3's ETag and CRC32C as the receipt", async () => {
    const { send, received } = reading();
    const seen: number[] = [];
    const sink = new S3PartSink(part, (chunk) => seen.push(chunk.byteLength), send);
    const body = Buffer.alloc(part.lengthBytes, 9);
    sink.write(body.subarray(0, 1000));
    sink.end(body.subarray(1000));
    expect(await settle(sink)).toBeNull();
    expect(seen).toEqual([1000, part.lengthBytes - 1000]);
    expect(Buffer.concat(received).equals(body)).toBe(true);
    expect(sink.receipt).toEqual({ etag: '"etag-1"', crc32c: crc32cToBase64(crc32c(body) >>> 0) });
  });

  it('accepts a store that answers no CRC32C, keeping null in the receipt', async () => {
    const { send } = reading({ ChecksumCRC32C: undefined });
    const sink = new S3PartSink(part, undefined, send);
    sink.end(Buffer.alloc(part.lengthBytes, 1));
    expect(await settle(sink)).toBeNull();
    expect(sink.receipt).toEqual({ etag: '"etag-1"', crc32c: null });
  });

  it("fails the part when S3's CRC32C differs from the bytes sent", async () => {
    const { send } = reading({ ChecksumCRC32C: 'AAAAAA==' });
    const sink = new S3PartSink(part, undefined, send);
    sink.end(Buffer.alloc(part.lengthBytes, 1));
    const error = await settle(sink);
    expect((error as Error).message).toBe(
      `part 2: S3 stored a part whose CRC32C is AAAAAA==, but the bytes sent have ${crc32cToBase64(crc32c(Buffer.alloc(part.lengthBytes, 1)) >>> 0)}: the part was corrupted on its way; write it again`,
    );
    expect(sink.receipt).toBeNull();
  });

  it('refuses a longer body before its excess reaches UploadPart, and aborts the request', async () => {
    let signal: AbortSignal | undefined;
    const received: Buffer[] = [];
    const sink = new S3PartSink(part, undefined, (body, abort) => {
      signal = abort;
      body.on('data', (chunk: Buffer) => received.push(chunk));
      return new Promise((_resolve, reject) => abort.addEventListener('abort', () => reject(abort.reason as Error)));
    });
    sink.write(Buffer.alloc(part.lengthBytes - 10, 1));
    sink.write(Buffer.alloc(11, 2));
    const error = await settle(sink);
    expect(error).toBeInstanceOf(PartLengthError);
    expect((error as PartLengthError).isLonger).toBe(true);
    expect(signal?.aborted).toBe(true);
    expect(Buffer.concat(received).length).toBeLessThanOrEqual(part.lengthBytes - 10);
  });

  it('refuses a shorter body with PartLengthError and never ends the request body', async () => {
    let ended = false;
    const sink = new S3PartSink(part, undefined, (body, abort) => {
      body.on('end', () => {
        ended = true;
      });
      body.resume();
      return new Promise((_resolve, reject) => abort.addEventListener('abort', () => reject(abort.reason as Error)));
    });
    sink.end(Buffer.alloc(part.lengthBytes - 1, 1));
    const error = await settle(sink);
    expect(error).toBeInstanceOf(PartLengthError);
    expect((error as PartLengthError).receivedBytes).toBe(part.lengthBytes - 1);
    expect(ended).toBe(false);
  });

  it('holds back writes while UploadPart does not read, so memory stays bounded', async () => {
    let body: Readable | undefined;
    const sink = new S3PartSink(part, undefined, (stream) => {
      body = stream;
      return new Promise(() => undefined);
    });
    let accepted = 0;
    const chunk = Buffer.alloc(16 * 1024);
    while (sink.write(chunk)) accepted += chunk.length;
    await new Promise((resolve) => setImmediate(resolve));
    expect(accepted).toBeLessThan(600 * 1024);
    expect(body?.readableLength).toBeLessThanOrEqual(256 * 1024 + chunk.length);
    sink.destroy();
  });

  it("ends with S3's error when UploadPart fails mid-part", async () => {
    const refusal = Object.assign(new Error('Reduce your request rate.'), { name: 'SlowDown' });
    const sink = new S3PartSink(part, undefined, async () => {
      throw refusal;
    });
    sink.write(Buffer.alloc(10, 1));
    expect(await settle(sink)).toBe(refusal);
  });

  const noDelay = { attempts: 3, delayMs: () => 0 };
  const refusal = (name: string, status: number) =>
    new S3ServiceException({
      name,
      $fault: status >= 500 ? 'server' : 'client',
      $metadata: { httpStatusCode: status },
      message: `refused: ${name}`,
    });

  it('sends the part again in a fresh body when S3 refused it (503 SlowDown) before reading any byte', async () => {
    const bodies: Readable[] = [];
    const received: Buffer[] = [];
    let unreadAtRefusal = 0;
    const sink = new S3PartSink(
      part,
      undefined,
      async (body) => {
        bodies.push(body);
        if (bodies.length === 1) {
          // Refused once the writer has filled the body's buffer (it is held back from there on):
          // those bytes must all go out again.
          await until('the writer to fill the body', () => body.readableLength >= body.readableHighWaterMark);
          unreadAtRefusal = body.readableLength;
          throw refusal('SlowDown', 503);
        }
        for await (const chunk of body) received.push(chunk as Buffer);
        return answer({ ETag: '"again"' });
      },
      noDelay,
    );
    const bytes = Buffer.from(Array.from({ length: part.lengthBytes }, (_, index) => index % 251));
    for (let offset = 0; offset < bytes.length; offset += 100_000) sink.write(bytes.subarray(offset, offset + 100_000));
    sink.end();
    expect(await settle(sink)).toBeNull();
    expect(bodies).toHaveLength(2);
    expect(unreadAtRefusal).toBeGreaterThanOrEqual(256 * 1024);
    expect(bodies[0]?.destroyed).toBe(true);
    expect(Buffer.concat(received).equals(bytes)).toBe(true);
    expect(sink.receipt).toEqual({ etag: '"again"', crc32c: null });
  });

  it('ends the fresh body too when S3 refused (503) a small part that had already ended, before reading any byte', async () => {
    const small = { index: 0, offsetBytes: 0, lengthBytes: 1000 };
    const bytes = Buffer.from(Array.from({ length: small.lengthBytes }, (_, index) => (index * 7) % 256));
    const outcomes: string[] = [];
    const received: Buffer[] = [];
    let refuse: ((error: Error) => void) | undefined;
    const sink = new S3PartSink(
      small,
      undefined,
      async (body) => {
        if (refuse === undefined) {
          // Refused only once the whole part was written and ended, with none of it read.
          return new Promise((_resolve, reject) => {
            refuse = reject;
          });
        }
        // Every chunk and the end of the resent body are pushed before it is sent, so reading it out
        // takes only ticks: an end that never comes shows as "open" at the next turn, not as a hang.
        const ended = new Promise<string>((resolve) => body.once('end', () => resolve('ended')));
        body.on('data', (chunk: Buffer) => received.push(chunk));
        outcomes.push(await Promise.race([ended, new Promise<string>((resolve) => setImmediate(resolve, 'open'))]));
        if (outcomes.at(-1) !== 'ended') throw new Error('the resent body never ended');
        return answer({ ETag: '"small"', ChecksumCRC32C: crc32cToBase64(crc32c(Buffer.concat(received)) >>> 0) });
      },
      noDelay,
    );
    const settled = settle(sink);
    sink.write(bytes.subarray(0, 400));
    sink.end(bytes.subarray(400));
    // The writer ends the part's body in _final, a tick after end().
    await new Promise((resolve) => setImmediate(resolve));
    refuse?.(refusal('SlowDown', 503));
    expect(await settled).toBeNull();
    expect(outcomes).toEqual(['ended']);
    expect(Buffer.concat(received).equals(bytes)).toBe(true);
    expect(sink.receipt).toEqual({ etag: '"small"', crc32c: crc32cToBase64(crc32c(bytes) >>> 0) });
  });

  it('fails the part as one to write again when S3 answers UploadPart without an ETag, and keeps no receipt', async () => {
    const { send, received } = reading({ ETag: undefined });
    const sink = new S3PartSink(part, undefined, send);
    const bytes = Buffer.alloc(part.lengthBytes, 3);
    sink.end(bytes);
    const error = await settle(sink);
    expect(error).toBeInstanceOf(RetryablePartStoreError);
    expect((error as RetryablePartStoreError).part).toBe(part);
    expect((error as Error).message).toBe(
      'part 2: S3 answered UploadPart without an ETag, so the part cannot be completed; write it again',
    );
    expect(Buffer.concat(received).equals(bytes)).toBe(true);
    expect(sink.receipt).toBeNull();
  });

  it("gives up after the policy's attempts, with S3's last refusal, marked as one the caller may write again", async () => {
    let calls = 0;
    const last = refusal('InternalError', 500);
    const sink = new S3PartSink(
      part,
      undefined,
      async () => {
        calls += 1;
        throw calls === 3 ? last : refusal('SlowDown', 503);
      },
      noDelay,
    );
    sink.write(Buffer.alloc(1000, 1));
    const error = await settle(sink);
    expect(error).toBeInstanceOf(RetryablePartStoreError);
    expect((error as RetryablePartStoreError).cause).toBe(last);
    expect((error as Error).message).toBe(
      'storing part 3 in S3 failed (InternalError, HTTP 500): refused: InternalError',
    );
    expect(calls).toBe(3);
  });

  it.each([
    ['S3 read part of the body first', 'SlowDown', 503, true, true],
    ['the refusal will not pass (403 AccessDenied)', 'AccessDenied', 403, false, false],
  ])('fails the part at once when %s', async (_label, name, status, readsFirst, retryable) => {
    let calls = 0;
    const sink = new S3PartSink(
      part,
      undefined,
      async (body) => {
        calls += 1;
        if (readsFirst) await new Promise((resolve) => body.once('data', resolve));
        throw refusal(name, status);
      },
      noDelay,
    );
    sink.write(Buffer.alloc(1000, 1));
    sink.write(Buffer.alloc(1000, 2));
    const error = await settle(sink);
    // A busy store is marked so the caller writes the part again; a refusal that will not pass is S3's own error.
    expect(error instanceof RetryablePartStoreError).toBe(retryable);
    expect(retryable ? (error as RetryablePartStoreError).cause : error).toMatchObject({ name });
    expect(calls).toBe(1);
  });
});
