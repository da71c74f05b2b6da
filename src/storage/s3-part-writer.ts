/**
 * One part of an S3 multipart upload as a Writable: the bytes written to it are the body of a single
 * UploadPart request that starts when the writer is created, so a part goes from the source's
 * socket to S3's without a temporary file and with only stream buffers in memory. The request
 * declares the part's length up front and asks the SDK for a CRC32C trailer, so S3 checks the part
 * in transit; the CRC32C S3 answers is compared again with the one of the bytes the caller observed.
 * A body longer than the part is refused before the excess leaves the process; a shorter one
 * aborts the request instead of sending a short part.
 *
 * The SDK never retries a request whose body is a stream, since it cannot send the bytes again. But
 * it sends `Expect: 100-continue`, so S3 refuses a part (503 SlowDown, 500) before any byte of the
 * body is read; then the bytes are all still here, and the writer sends them again itself, in a
 * fresh body. Once S3 has read any byte, a failure fails the part.
 */
import { Readable, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { S3ServiceException, type UploadPartCommandOutput } from '@aws-sdk/client-s3';
import { crc32c } from '@node-rs/crc32';
import { admitChunk, PartLengthError, RetryablePartStoreError, type UploadPart } from './blob-store.js';
import { isTransientNetworkError } from '../net/network-errors.js';

/** How much of a part may wait in memory for S3 (on each side of the writer). */
const BUFFER_BYTES = 256 * 1024;

/** What S3 answered for a stored part; persisted with the part and sent back at completion. */
export interface S3PartReceipt {
  [field: string]: unknown;
  etag: string;
  /** S3's CRC32C of the part (base64 of its 4 big-endian bytes); null from stores that do not answer one. */
  crc32c: string | null;
}

/** Sends the part's body as UploadPart; rejects with S3's error, or when `signal` aborts. */
export type SendPart = (body: Readable, signal: AbortSignal) => Promise<UploadPartCommandOutput>;

export interface PartRetryPolicy {
  /** Attempts of a part S3 refused before reading its body (the SDK's standard mode makes 3 of other requests). */
  attempts: number;
  /** Delay before attempt `attempt + 1` (attempt counts from 1). */
  delayMs: (attempt: number) => number;
}

/** Exponential with full jitter, from 100 ms, at most 2 s. */
export const defaultPartRetry: PartRetryPolicy = {
  attempts: 3,
  delayMs: (attempt) => Math.random() * Math.min(2_000, 100 * 2 ** attempt),
};

/** S3 answers a later attempt may not meet: throttling and server errors. */
function isRetryableRefusal(error: unknown): boolean {
  if (!(error instanceof S3ServiceException)) return false;
  const status = error.$metadata.httpStatusCode ?? 0;
  return status >= 500 || status === 429 || error.name === 'SlowDown' || error.$retryable !== undefined;
}

/** The base64 of a CRC32C's 4 big-endian bytes, as S3's checksum headers carry it. */
export function crc32cToBase64(value: number): string {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value >>> 0);
  return bytes.toString('base64');
}

export class S3PartSink extends Writable {
  private receivedBytes = 0;
  private crc = 0;
  private body: Readable;
  /** Bytes pushed into the current body; those not in its buffer any more were read by the request. */
  private pushedBytes = 0;
  /** The chunks of the current body while the request has read none of them (bounded by backpressure). */
  private replay: Buffer[] | null = [];
  private isEnded = false;
  /** The callback of a write that waits until S3's side takes more. */
  private waiting: (() => void) | null = null;
  private readonly request = new AbortController();
  private readonly response: Promise<UploadPartCommandOutput>;
  receipt: S3PartReceipt | null = null;

  constructor(
    private readonly part: UploadPart,
    private readonly observe: ((chunk: Uint8Array) => void) | undefined,
    send: SendPart,
    private readonly retry: PartRetryPolicy = defaultPartRetry,
  ) {
    super({ highWaterMark: BUFFER_BYTES, decodeStrings: false });
    this.body = this.newBody();
    this.response = this.sendWithRetries(send);
    // S3 refusing the part mid-stream (or the connection dropping) ends the writer with that error;
    // one that may pass is marked so the caller writes the part again.
    this.response.catch((error: unknown) => this.destroy(this.classify(error)));
  }

  private classify(error: unknown): Error {
    if (this.request.signal.aborted || !(isRetryableRefusal(error) || isTransientNetworkError(error)))
      return error as Error;
    const status =
      error instanceof S3ServiceException
        ? ` (${error.name}, HTTP ${error.$metadata.httpStatusCode ?? 'no status'})`
        : '';
    return new RetryablePartStoreError(
      this.part,
      `storing part ${this.part.index + 1} in S3 failed${status}: ${(error as Error).message}`,
      { cause: error },
    );
  }

  private newBody(): Readable {
    return new Readable({ highWaterMark: BUFFER_BYTES, read: () => this.release() });
  }

  private readBytes(): number {
    return this.pushedBytes - this.body.readableLength;
  }

  private async sendWithRetries(send: SendPart): Promise<UploadPartCommandOutput> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await send(this.body, this.request.signal);
      } catch (error) {
        const canReplay = this.replay !== null && this.readBytes() === 0;
        if (attempt >= this.retry.attempts || this.request.signal.aborted || !canReplay || !isRetryableRefusal(error))
          throw error;
        // Swapped at once: the failed request's pipe may still drain the old body while we wait,
        // and chunks it took would be missing from the part sent again.
        this.replaceBody();
        await sleep(this.retry.delayMs(attempt), undefined, { signal: this.request.signal });
      }
    }
  }

  /** A fresh body holding every chunk of the unread one (the failed request's listeners stay on the old one). */
  private replaceBody(): void {
    const chunks = this.replay ?? [];
    this.body.destroy();
    this.body = this.newBody();
    this.pushedBytes = 0;
    this.replay = [];
    for (const chunk of chunks) this.push(chunk);
    if (this.isEnded) this.body.push(null);
  }

  private push(chunk: Buffer): boolean {
    if (this.replay !== null) {
      if (this.readBytes() > 0) this.replay = null;
      else this.replay.push(chunk);
    }
    this.pushedBytes += chunk.byteLength;
    return this.body.push(chunk);
  }

  private release(): void {
    const callback = this.waiting;
    this.waiting = null;
    callback?.();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const refused = admitChunk(this.part, this.receivedBytes, chunk, this.observe);
    if (refused !== null) {
      callback(refused);
      return;
    }
    this.receivedBytes += chunk.byteLength;
    this.crc = crc32c(chunk, this.crc);
    if (this.push(chunk)) callback();
    else this.waiting = () => callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.receivedBytes !== this.part.lengthBytes) {
      callback(new PartLengthError(this.part, this.receivedBytes, false));
      return;
    }
    this.isEnded = true;
    this.body.push(null);
    this.response.then(
      (output) => {
        const expected = crc32cToBase64(this.crc >>> 0);
        const answered = output.ChecksumCRC32C ?? null;
        if (answered !== null && answered !== expected) {
          callback(
            new RetryablePartStoreError(
              this.part,
              `part ${this.part.index}: S3 stored a part whose CRC32C is ${answered}, but the bytes sent have ${expected}: the part was corrupted on its way; write it again`,
            ),
          );
          return;
        }
        // Without its ETag a part cannot be named when the upload is completed, so it is never
        // recorded as stored. Writing the part again replaces it and may get a whole answer (a
        // proxy or store that failed once); a store that never answers one uses up the part's
        // attempts and then the job's, which are bounded, rather than failing the import for a
        // fault that is the service's storage, not the source's.
        if (!output.ETag) {
          callback(
            new RetryablePartStoreError(
              this.part,
              `part ${this.part.index}: S3 answered UploadPart without an ETag, so the part cannot be completed; write it again`,
            ),
          );
          return;
        }
        this.receipt = { etag: output.ETag, crc32c: answered };
        callback();
      },
      (error: unknown) => callback(error as Error),
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.waiting = null;
    if (this.receipt === null)
      this.request.abort(
        error ?? new Error(`part ${this.part.index}: the writer was closed before the part was stored`),
      );
    this.body.destroy();
    callback(error);
  }
}
