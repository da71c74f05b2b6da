/**
 * What the server holds: buckets, objects and multipart uploads in memory, their bytes in files
 * under the data directory (one file per PutObject body or uploaded part, named at random).
 *
 * Objects appear atomically: a body is streamed to a fresh file, and only once it is complete and
 * checked does the object's index entry point at it, in one synchronous step. Completing a multipart
 * upload makes the part files the object's segments, so nothing is copied. Files of a replaced or
 * deleted object are removed once no GET is still reading them.
 */
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChecksumAlgorithm, ChecksumType } from './checksums.js';

/** Data files shared by an object and its readers; unlinked when dropped and no reader is left. */
export class DataFiles {
  private readers = 0;
  private isDropped = false;

  constructor(readonly segments: ReadonlyArray<{ path: string; lengthBytes: number }>) {}

  acquire(): () => void {
    this.readers += 1;
    let isReleased = false;
    return () => {
      if (isReleased) return;
      isReleased = true;
      this.readers -= 1;
      this.removeIfUnused();
    };
  }

  drop(): void {
    this.isDropped = true;
    this.removeIfUnused();
  }

  private removeIfUnused(): void {
    if (!this.isDropped || this.readers > 0) return;
    for (const segment of this.segments) void rm(segment.path, { force: true }).catch(() => undefined);
  }
}

export interface StoredChecksum {
  algorithm: ChecksumAlgorithm;
  base64: string;
  type: ChecksumType;
}

export interface StoredObject {
  key: string;
  lengthBytes: number;
  /** Quoted, as sent in the ETag header. */
  etag: string;
  lastModified: Date;
  /** Content-Type, Content-Disposition, ..., and x-amz-meta-* as received (names lower-case). */
  headers: Record<string, string>;
  checksum?: StoredChecksum;
  files: DataFiles;
  /** Number of parts for a completed multipart upload. */
  partCount?: number;
}

export interface StoredPart {
  partNumber: number;
  path: string;
  lengthBytes: number;
  etag: string;
  md5: Buffer;
  crc32: number;
  crc32c: number;
  /** Base64 checksums known for this part, per algorithm. */
  checksums: Partial<Record<ChecksumAlgorithm, string>>;
  lastModified: Date;
}

export interface MultipartUpload {
  bucket: string;
  key: string;
  uploadId: string;
  initiated: Date;
  checksum?: { algorithm: ChecksumAlgorithm; type: ChecksumType };
  headers: Record<string, string>;
  parts: Map<number, StoredPart>;
}

export interface Bucket {
  name: string;
  created: Date;
  objects: Map<string, StoredObject>;
}

export class S3State {
  readonly buckets = new Map<string, Bucket>();
  readonly uploads = new Map<string, MultipartUpload>();

  constructor(readonly dataDir: string) {}

  /** A fresh path for a body about to be written. */
  newDataPath(): string {
    return join(this.dataDir, randomUUID());
  }

  /** Makes `object` the current version of its key, dropping the files of the one it replaces. */
  putObject(bucket: Bucket, object: StoredObject): void {
    const previous = bucket.objects.get(object.key);
    bucket.objects.set(object.key, object);
    previous?.files.drop();
  }

  deleteObject(bucket: Bucket, key: string): void {
    const previous = bucket.objects.get(key);
    bucket.objects.delete(key);
    previous?.files.drop();
  }

  /** Forgets an upload and removes the files of the parts not kept by `keptPartNumbers`. */
  endUpload(upload: MultipartUpload, keptPartNumbers: ReadonlySet<number> = new Set()): void {
    this.uploads.delete(upload.uploadId);
    for (const part of upload.parts.values()) {
      if (!keptPartNumbers.has(part.partNumber)) void rm(part.path, { force: true }).catch(() => undefined);
    }
  }
}
