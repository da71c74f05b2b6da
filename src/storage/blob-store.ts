/**
 * The storage seam. A BlobStore keeps immutable files under keys; large files arrive as uploads of
 * parts written at their offsets, in any order and in parallel, which a resumed copy can continue.
 * Implementations: the filesystem (here) and S3-compatible object storage.
 */
import type { Readable } from 'node:stream';
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

export interface BlobUpload {
  readonly key: BlobKey;
  /** Persist this before writing parts; pass it back to `resumeUpload` to continue. */
  readonly state: UploadState;
  /** Streams exactly `part.lengthBytes` bytes from `body` into the part's place. */
  writePart(part: UploadPart, body: Readable, signal: AbortSignal): Promise<PartReceipt | null>;
  /** Makes every part whose `writePart` resolved durable (survives a crash of the machine). */
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
  /** Deletes a file. Idempotent. */
  delete(key: BlobKey): Promise<void>;
  /** Deletes every file under a prefix. Idempotent. */
  deletePrefix(prefix: BlobKey): Promise<void>;
  /** Proves the store can be written now (readiness check). */
  checkWritable(): Promise<void>;
}
