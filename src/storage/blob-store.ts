/**
 * The storage seam. A BlobStore keeps immutable files under keys; large files arrive as uploads of
 * parts written at their offsets, in any order and in parallel, which a resumed copy can continue.
 * Implementations: the filesystem (here) and S3-compatible object storage.
 */
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BlobKey } from './blob-keys.js';

export interface BlobStoreCapabilities {
  /** Whether the store can hand out its own pre-signed download URLs (S3) or the service serves downloads itself (filesystem). */
  presignedDownloads: boolean;
  /** Smallest part an upload accepts, except the last part. */
  minPartSizeBytes: number;
}

/** A store-specific record of an upload in progress, persisted so a resumed copy continues it. */
export type UploadState = Record<string, unknown>;

/** A store-specific receipt of one written part, persisted with the part (e.g. an S3 part ETag). */
export type PartReceipt = Record<string, unknown>;

export interface UploadPart {
  index: number;
  offsetBytes: number;
  lengthBytes: number;
}

export interface CompletedPart extends UploadPart {
  crc32c: number;
  receipt: PartReceipt | null;
}

export interface PartWriterOptions {
  /** Sees every chunk, in order, before it is stored; a throw fails the write with that error. */
  observe?: (chunk: Uint8Array) => void;
}

export interface PartWriter {
  writable: Writable;
  /**
   * Settles once the writable is done: the part's receipt when all its bytes are stored; a
   * PartLengthError when the body is longer (before the excess is stored) or shorter than the part;
   * the error that destroyed the writable otherwise.
   */
  done: Promise<PartReceipt | null>;
}

/** A part's body did not have the part's length. */
export class PartLengthError extends Error {
  override readonly name = 'PartLengthError';
  constructor(
    readonly part: UploadPart,
    readonly receivedBytes: number,
    readonly isLonger: boolean,
  ) {
    super(
      isLonger
        ? `part ${part.index}: the body is longer than the part's ${part.lengthBytes} bytes`
        : `part ${part.index}: received ${receivedBytes} of its ${part.lengthBytes} bytes`,
    );
  }
}

/**
 * Admits the next chunk of a part's body, for part writers: the PartLengthError when it would take
 * the body past the part (before any of it is stored), the observer's error when it throws, else
 * null once the observer has seen it.
 */
export function admitChunk(
  part: UploadPart,
  receivedBytes: number,
  chunk: Uint8Array,
  observe: ((chunk: Uint8Array) => void) | undefined,
): Error | null {
  const total = receivedBytes + chunk.byteLength;
  if (total > part.lengthBytes) return new PartLengthError(part, total, true);
  try {
    observe?.(chunk);
  } catch (error) {
    return error as Error;
  }
  return null;
}

/**
 * A resumed upload whose recorded data no longer exists (the fs store's partial file is gone or
 * resized; the S3 multipart upload id is unknown to the bucket): its recorded parts are lost and
 * the copy starts over.
 */
export class UploadLostError extends Error {
  override readonly name = 'UploadLostError';
}

/**
 * Storing a part failed in a way a new attempt may not meet: the store was busy (S3 503 SlowDown,
 * 500) or the connection to it broke after the body had started to flow, so the writer could not
 * send it again itself. The caller may write the whole part again.
 */
export class RetryablePartStoreError extends Error {
  override readonly name = 'RetryablePartStoreError';
  constructor(
    readonly part: UploadPart,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
  }
}

export interface BlobUpload {
  readonly key: BlobKey;
  /** Persist this before writing parts; pass it back to `resumeUpload` to continue. */
  readonly state: UploadState;
  /**
   * A writable stream into the part's place. Write exactly `part.lengthBytes` bytes and end it.
   * Parts may be written in parallel and in any order; writing a part again replaces it.
   */
  createPartWriter(part: UploadPart, options?: PartWriterOptions): Promise<PartWriter>;
  /** Makes every part whose writer finished durable (survives a crash of the machine). */
  flush(): Promise<void>;
  /** Publishes the file at `key` once every part is written; the file appears whole or not at all. */
  complete(parts: readonly CompletedPart[], crc32c: number): Promise<void>;
  /** Releases resources without deleting anything (the upload can be resumed). */
  close(): Promise<void>;
}

export interface BlobInfo {
  sizeBytes: number;
}

export interface ByteRange {
  /** Inclusive. */
  start: number;
  /** Inclusive. */
  end: number;
}

export interface BlobStore {
  readonly capabilities: BlobStoreCapabilities;
  /** Starts a new upload of a file of `sizeBytes` bytes, or continues the one recorded in `state`. */
  openUpload(key: BlobKey, sizeBytes: number, state: UploadState | null): Promise<BlobUpload>;
  /** Deletes the partial data of an upload that will not be completed. Idempotent. */
  abortUpload(key: BlobKey, state: UploadState | null): Promise<void>;
  stat(key: BlobKey): Promise<BlobInfo | null>;
  /** Reads a whole file or an inclusive byte range of it. */
  read(key: BlobKey, range?: ByteRange): Promise<Readable>;
  /**
   * Stores a whole small file (an ingestion artifact) from a stream, atomically: the key holds
   * either its old content or all of the new, never a part.
   */
  put(key: BlobKey, body: Readable, signal?: AbortSignal): Promise<BlobInfo>;
  /**
   * Where ffmpeg can read a stored file with seeks (a local path, or a pre-signed URL that answers
   * range requests), valid for at least `validForSeconds`. Media work never copies a source first.
   */
  mediaSource(key: BlobKey, validForSeconds: number): Promise<string>;
  /** Deletes a file. Idempotent. */
  delete(key: BlobKey): Promise<void>;
  /** Deletes every file under a prefix. Idempotent. */
  deletePrefix(prefix: BlobKey): Promise<void>;
  /** Proves the store can be written now (readiness check). */
  checkWritable(): Promise<void>;
  /**
   * Only when `capabilities.presignedDownloads`: a URL the store itself serves the file at (GET
   * and range requests), valid until `expiresAt`, that names `fileName` in its Content-Disposition.
   */
  presignDownload?(key: BlobKey, options: DownloadOptions): Promise<string>;
  /**
   * Only for stores whose uploads live on outside the service (S3 multipart uploads): every upload
   * not yet completed or aborted, for the sweep that aborts the orphaned ones.
   */
  listUploads?(): AsyncIterable<PendingUpload>;
}

export interface DownloadOptions {
  fileName: string;
  contentType: string;
  disposition: 'inline' | 'attachment';
  /** The link is valid from `signedAt` until `expiresAt` (the store may cap the span, S3 at 7 days). */
  signedAt: Date;
  expiresAt: Date;
}

/** An upload the store still holds, as the sweep sees it. */
export interface PendingUpload {
  key: BlobKey;
  /** The state to pass to `abortUpload`. */
  state: UploadState;
  /** The store's upload id, as recorded in `state`. */
  uploadId: string;
  initiatedAt: Date;
}

/** Writes a whole part from an iterable body (a convenience over `createPartWriter`). */
export async function writePartFrom(
  upload: BlobUpload,
  part: UploadPart,
  body: AsyncIterable<Uint8Array>,
  signal: AbortSignal,
): Promise<PartReceipt | null> {
  const writer = await upload.createPartWriter(part);
  try {
    await pipeline(body, writer.writable, { signal });
  } catch (error) {
    writer.writable.destroy(error as Error);
    // The writer's own verdict (e.g. a PartLengthError) says more than the pipeline's.
    await writer.done;
    throw error;
  }
  return writer.done;
}
