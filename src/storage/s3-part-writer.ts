/**
 * One part of an S3 multipart upload as a Writable: the bytes written to it are the body of a single
 * UploadPart request that starts when the writer is created, so a part goes from the source's
 * socket to S3's without a temporary file and with only stream buffers in memory. The request
 * declares the part's length up front and asks the SDK for a CRC32C trailer, so S3 checks the part
 * in transit; the CRC32C S3 answers is compared again with the one of the bytes the caller observed.
 * A body longer than the part is refused before the excess leaves the process; a shorter one
 * aborts the request instead of sending a short part.
 */
import { Readable, Writable } from 'node:stream';
import type { UploadPartCommandOutput } from '@aws-sdk/client-s3';
import { crc32c } from '@node-rs/crc32';
import { PartLengthError, type UploadPart } from './blob-store.js';

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

/** The base64 of a CRC32C's 4 big-endian bytes, as S3's checksum headers carry it. */
export function crc32cToBase64(value: number): string {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value >>> 0);
  return bytes.toString('base64');
}

export class S3PartSink extends Writable {
  private receivedBytes = 0;
  private crc = 0;
  private readonly body: Readable;
  /** The callback of a write that waits until S3's side takes more. */
  private waiting: (() => void) | null = null;
  private readonly request = new AbortController();
  private readonly response: Promise<UploadPartCommandOutput>;
  receipt: S3PartReceipt | null = null;

  constructor(private readonly part: UploadPart, private readonly observe: ((chunk: Uint8Array) => void) | undefined, send: SendPart) {
    super({ highWaterMark: BUFFER_BYTES, decodeStrings: false });
    this.body = new Readable({ highWaterMark: BUFFER_BYTES, read: () => this.release() });
    this.response = send(this.body, this.request.signal);
    // S3 refusing the part mid-stream (or the connection dropping) ends the writer with that error.
    this.response.catch((error: unknown) => this.destroy(error as Error));
  }

  private release(): void {
    const callback = this.waiting;
    this.waiting = null;
    callback?.();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const total = this.receivedBytes + chunk.byteLength;
    if (total > this.part.lengthBytes) {
      callback(new PartLengthError(this.part, total, true));
      return;
    }
    try {
      this.observe?.(chunk);
    } catch (error) {
      callback(error as Error);
      return;
    }
    this.receivedBytes = total;
    this.crc = crc32c(chunk, this.crc);
    if (this.body.push(chunk)) callback();
    else this.waiting = () => callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.receivedBytes !== this.part.lengthBytes) {
      callback(new PartLengthError(this.part, this.receivedBytes, false));
      return;
    }
    this.body.push(null);
    this.response.then((output) => {
      const expected = crc32cToBase64(this.crc >>> 0);
      const answered = output.ChecksumCRC32C ?? null;
      if (answered !== null && answered !== expected) {
        callback(new Error(`part ${this.part.index}: S3 stored a part whose CRC32C is ${answered}, but the bytes sent have ${expected}: the part was corrupted on its way; write it again`));
        return;
      }
      if (!output.ETag) {
        callback(new Error(`part ${this.part.index}: S3 answered UploadPart without an ETag`));
        return;
      }
      this.receipt = { etag: output.ETag, crc32c: answered };
      callback();
    }, (error: unknown) => callback(error as Error));
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.waiting = null;
    if (this.receipt === null) this.request.abort(error ?? new Error(`part ${this.part.index}: the writer was closed before the part was stored`));
    this.body.destroy();
    callback(error);
  }
}
