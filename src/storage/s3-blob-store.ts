/**
 * The S3 BlobStore (AWS S3 and S3-compatible stores: MinIO, Cloudflare R2, Backblaze B2, Ceph RGW).
 * An upload is an S3 multipart upload: its id is the upload state, each part is one UploadPart
 * streamed from the source (see s3-part-writer.ts), and completion sends the whole file's CRC32C as
 * S3's full-object checksum, so the store itself verifies the assembled object before publishing
 * it. A part is durable once UploadPart answered, so `flush` has nothing to do. Reads are ranged
 * GETs; media work and downloads get pre-signed GET URLs, so nothing is copied to local disk first.
 */
import { randomUUID } from 'node:crypto';
import { PassThrough, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, DeleteObjectCommand, DeleteObjectsCommand,
  GetObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, ListPartsCommand, PutObjectCommand,
  S3ServiceException, UploadPartCommand, type S3Client, type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import contentDisposition from 'content-disposition';
import { AppError } from '../domain/errors.js';
import { toBlobKey, type BlobKey } from './blob-keys.js';
import {
  UploadLostError, type BlobInfo, type BlobStore, type BlobUpload, type ByteRange, type CompletedPart, type DownloadOptions,
  type PartWriter, type PartWriterOptions, type PendingUpload, type UploadPart, type UploadState,
} from './blob-store.js';
import { S3PartSink, crc32cToBase64, type S3PartReceipt } from './s3-part-writer.js';

const MEBIBYTE = 1024 * 1024;
/** S3's limits on multipart uploads: parts of 5 MiB..5 GiB (the last may be smaller), at most 10,000 of them. */
export const S3_MIN_PART_SIZE_BYTES = 5 * MEBIBYTE;
export const S3_MAX_PART_SIZE_BYTES = 5 * 1024 * MEBIBYTE;
export const S3_MAX_PARTS = 10_000;
/** SigV4 pre-signed URLs live at most 7 days. */
export const S3_MAX_PRESIGN_SECONDS = 7 * 86_400;
/** DeleteObjects takes at most 1,000 keys. */
const DELETE_BATCH = 1_000;

export interface S3BlobStoreOptions {
  client: S3Client;
  bucket: string;
  /** Prepended to every key: empty, or segments ending in `/`. */
  keyPrefix: string;
}

/** The S3 client settings the store relies on; the caller adds region, endpoint, handler and credentials. */
export function s3ClientDefaults(): Pick<S3ClientConfig, 'requestChecksumCalculation' | 'responseChecksumValidation'> {
  return {
    // Checksums where an operation requires one, plus where we ask for them explicitly (UploadPart,
    // CreateMultipartUpload). WHEN_SUPPORTED would add a CRC32 to every PutObject and
    // CompleteMultipartUpload the SDK sends, which several S3-compatible stores refuse.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    // Range reads cannot be validated against a whole-object checksum, and imports verify their
    // own CRC32C; validating on every GET would only cost CPU (or fail on stores that send none).
    responseChecksumValidation: 'WHEN_REQUIRED',
  };
}

interface S3UploadState extends UploadState {
  store: 's3';
  uploadId: string;
}

function uploadIdOf(state: UploadState | null): string | null {
  return state !== null && state.store === 's3' && typeof state.uploadId === 'string' ? state.uploadId : null;
}

function isS3Error(error: unknown, ...names: string[]): boolean {
  if (!(error instanceof S3ServiceException)) return false;
  return names.includes(error.name) || (names.includes('NotFound') && error.$metadata.httpStatusCode === 404);
}

export class S3BlobStore implements BlobStore {
  readonly capabilities = { presignedDownloads: true, minPartSizeBytes: S3_MIN_PART_SIZE_BYTES };
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly keyPrefix: string;

  constructor(options: S3BlobStoreOptions) {
    this.client = options.client;
    this.bucket = options.bucket;
    this.keyPrefix = options.keyPrefix;
  }

  /** The object key of a blob key. */
  objectKey(key: BlobKey): string {
    return `${this.keyPrefix}${key}`;
  }

  async openUpload(key: BlobKey, sizeBytes: number, state: UploadState | null): Promise<BlobUpload> {
    const objectKey = this.objectKey(key);
    if (state === null) {
      const created = await this.client.send(new CreateMultipartUploadCommand({
        Bucket: this.bucket, Key: objectKey, ChecksumAlgorithm: 'CRC32C', ChecksumType: 'FULL_OBJECT',
      }));
      if (!created.UploadId) throw new Error(`S3 answered CreateMultipartUpload for ${objectKey} without an upload id`);
      return new S3Upload(this, key, sizeBytes, { store: 's3', uploadId: created.UploadId });
    }
    const uploadId = uploadIdOf(state);
    if (uploadId === null) throw new UploadLostError(`the recorded upload of ${key} is not an S3 multipart upload (${JSON.stringify(state)})`);
    try {
      await this.client.send(new ListPartsCommand({ Bucket: this.bucket, Key: objectKey, UploadId: uploadId, MaxParts: 1 }));
    } catch (error) {
      if (isS3Error(error, 'NoSuchUpload', 'NotFound')) throw new UploadLostError(`the multipart upload ${uploadId} of ${key} no longer exists`, { cause: error });
      throw error;
    }
    return new S3Upload(this, key, sizeBytes, { store: 's3', uploadId });
  }

  /** Aborts the recorded upload; without one, every upload of the key (one created before its id was recorded). */
  async abortUpload(key: BlobKey, state: UploadState | null): Promise<void> {
    const recorded = uploadIdOf(state);
    const uploadIds = recorded !== null ? [recorded] : await this.listUploadIdsOf(key);
    for (const uploadId of uploadIds) {
      try {
        await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: this.objectKey(key), UploadId: uploadId }));
      } catch (error) {
        if (!isS3Error(error, 'NoSuchUpload', 'NotFound')) throw error;
      }
    }
  }

  private async listUploadIdsOf(key: BlobKey): Promise<string[]> {
    const objectKey = this.objectKey(key);
    const ids: string[] = [];
    for await (const upload of this.listRawUploads(objectKey)) {
      if (upload.objectKey === objectKey) ids.push(upload.uploadId);
    }
    return ids;
  }

  private async *listRawUploads(prefix: string): AsyncGenerator<{ objectKey: string; uploadId: string; initiatedAt: Date }> {
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      const page = await this.client.send(new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }));
      for (const upload of page.Uploads ?? []) {
        if (upload.Key && upload.UploadId) yield { objectKey: upload.Key, uploadId: upload.UploadId, initiatedAt: upload.Initiated ?? new Date(0) };
      }
      if (!page.IsTruncated) return;
      keyMarker = page.NextKeyMarker;
      uploadIdMarker = page.NextUploadIdMarker;
    }
  }

  /** Every multipart upload under the key prefix whose key is one of this service's keys. */
  async *listUploads(): AsyncIterable<PendingUpload> {
    for await (const upload of this.listRawUploads(this.keyPrefix)) {
      const key = this.blobKeyOf(upload.objectKey);
      if (key === null) continue;
      yield { key, uploadId: upload.uploadId, initiatedAt: upload.initiatedAt, state: { store: 's3', uploadId: upload.uploadId } };
    }
  }

  /** The blob key of an object key under the prefix, or null for objects that are not the service's. */
  private blobKeyOf(objectKey: string): BlobKey | null {
    if (!objectKey.startsWith(this.keyPrefix)) return null;
    const rest = objectKey.slice(this.keyPrefix.length);
    if (!rest.startsWith('teams/')) return null;
    try {
      return toBlobKey(rest);
    } catch {
      return null;
    }
  }

  async stat(key: BlobKey): Promise<BlobInfo | null> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
      return { sizeBytes: head.ContentLength ?? 0 };
    } catch (error) {
      if (isS3Error(error, 'NotFound', 'NoSuchKey')) return null;
      throw error;
    }
  }

  async read(key: BlobKey, range?: ByteRange): Promise<Readable> {
    const answer = await this.client.send(new GetObjectCommand({
      Bucket: this.bucket, Key: this.objectKey(key), ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}),
    }));
    if (!(answer.Body instanceof Readable)) throw new Error(`S3 answered GetObject for ${key} without a body stream`);
    return answer.Body;
  }

  /**
   * Stores an artifact with the SDK's managed upload: one PutObject when it fits in a part, else a
   * multipart upload (aborted on failure). Either way the object appears only when it is whole.
   */
  async put(key: BlobKey, body: Readable, signal?: AbortSignal): Promise<BlobInfo> {
    let sizeBytes = 0;
    const counted = new PassThrough({ highWaterMark: 256 * 1024 });
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        sizeBytes += chunk.byteLength;
        callback(null, chunk);
      },
    });
    const abort = new AbortController();
    const onAbort = () => abort.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: this.objectKey(key), Body: counted },
      // Memory: at most queueSize parts of partSize bytes are buffered.
      queueSize: 2,
      partSize: S3_MIN_PART_SIZE_BYTES,
      leavePartsOnError: false,
      abortController: abort,
    });
    try {
      // Each side's failure ends the other: a failed body destroys `counted`, which fails the
      // upload; a failed upload destroys `counted`, which ends the pipeline.
      const uploading = upload.done().catch((error: unknown) => {
        counted.destroy(error as Error);
        throw error;
      });
      const [fed, stored] = await Promise.allSettled([pipeline(body, counter, counted, { signal: abort.signal }), uploading]);
      if (fed.status === 'rejected') throw fed.reason;
      if (stored.status === 'rejected') throw stored.reason;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    return { sizeBytes };
  }

  /** A pre-signed GET URL (ffmpeg reads it with range requests), valid for the seconds asked, at most S3's 7 days. */
  async mediaSource(key: BlobKey, validForSeconds: number): Promise<string> {
    if ((await this.stat(key)) === null) throw new Error(`no file is stored at ${key}`);
    const expiresIn = Math.max(1, Math.min(Math.ceil(validForSeconds), S3_MAX_PRESIGN_SECONDS));
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }), { expiresIn });
  }

  /** A pre-signed GET URL that names the file in its Content-Disposition, until `expiresAt` (at most 7 days after `signedAt`). */
  async presignDownload(key: BlobKey, options: DownloadOptions): Promise<string> {
    const expiresIn = Math.max(1, Math.min(Math.round((options.expiresAt.getTime() - options.signedAt.getTime()) / 1000), S3_MAX_PRESIGN_SECONDS));
    return getSignedUrl(this.client, new GetObjectCommand({
      Bucket: this.bucket,
      Key: this.objectKey(key),
      ResponseContentDisposition: contentDisposition(options.fileName, { type: options.disposition }),
      ResponseContentType: options.contentType,
    }), { expiresIn, signingDate: options.signedAt });
  }

  async delete(key: BlobKey): Promise<void> {
    // S3 answers 204 for a key that does not exist, so this is idempotent as it is.
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
  }

  /** Deletes the object at the prefix and every object under `prefix/` (whole segments only). */
  async deletePrefix(prefix: BlobKey): Promise<void> {
    await this.delete(prefix);
    const listPrefix = `${this.objectKey(prefix)}/`;
    let continuationToken: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: listPrefix, ContinuationToken: continuationToken, MaxKeys: DELETE_BATCH }));
      const keys = (page.Contents ?? []).flatMap((object) => (object.Key ? [{ Key: object.Key }] : []));
      if (keys.length > 0) {
        const answer = await this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: keys, Quiet: true } }));
        const failed = answer.Errors ?? [];
        if (failed.length > 0) {
          throw new Error(`S3 could not delete ${failed.length} objects under ${prefix}: ${failed.slice(0, 3).map((item) => `${item.Key}: ${item.Code} ${item.Message}`).join('; ')}`);
        }
      }
      continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (continuationToken !== undefined);
  }

  async checkWritable(): Promise<void> {
    const probeKey = `${this.keyPrefix}.probe/${randomUUID()}`;
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: probeKey, Body: 'ok' }));
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: probeKey }));
    } catch (error) {
      throw new Error(`the S3 bucket ${this.bucket} is not writable: ${(error as Error).message}`, { cause: error });
    }
  }

  /** @internal The S3 calls of an upload. */
  sendPart(key: BlobKey, uploadId: string, part: UploadPart, body: Readable, signal: AbortSignal) {
    return this.client.send(new UploadPartCommand({
      Bucket: this.bucket,
      Key: this.objectKey(key),
      UploadId: uploadId,
      PartNumber: part.index + 1,
      ContentLength: part.lengthBytes,
      ChecksumAlgorithm: 'CRC32C',
      Body: body,
    }), { abortSignal: signal });
  }

  /** @internal */
  async completeUpload(key: BlobKey, uploadId: string, sizeBytes: number, parts: readonly CompletedPart[], crc32c: number): Promise<void> {
    const objectKey = this.objectKey(key);
    const wholeCrc = crc32cToBase64(crc32c);
    try {
      await this.client.send(new CompleteMultipartUploadCommand({
        Bucket: this.bucket,
        Key: objectKey,
        UploadId: uploadId,
        ChecksumCRC32C: wholeCrc,
        ChecksumType: 'FULL_OBJECT',
        MpuObjectSize: sizeBytes,
        MultipartUpload: {
          Parts: [...parts].sort((a, b) => a.index - b.index).map((part) => {
            const receipt = part.receipt as S3PartReceipt | null;
            if (!receipt?.etag) throw new Error(`part ${part.index} of ${key} has no S3 receipt (ETag): it was not uploaded to this store`);
            return { PartNumber: part.index + 1, ETag: receipt.etag, ChecksumCRC32C: receipt.crc32c ?? crc32cToBase64(part.crc32c) };
          }),
        },
      }));
    } catch (error) {
      if (isS3Error(error, 'BadDigest', 'InvalidDigest') || (isS3Error(error, 'InvalidRequest') && /checksum/i.test((error as Error).message))) {
        throw new AppError('CHECKSUM_MISMATCH', `S3 refused to assemble ${key}: the stored parts do not have the whole-file CRC32C ${wholeCrc} (0x${(crc32c >>> 0).toString(16).padStart(8, '0')}) the copy computed; restart the import`, { crc32c }, { cause: error });
      }
      // A completion that succeeded before a crash or a lost answer: the object is there, whole.
      if (isS3Error(error, 'NoSuchUpload') && (await this.stat(key))?.sizeBytes === sizeBytes) return;
      throw error;
    }
  }
}

class S3Upload implements BlobUpload {
  constructor(private readonly store: S3BlobStore, readonly key: BlobKey, private readonly sizeBytes: number, readonly state: S3UploadState) {}

  async createPartWriter(part: UploadPart, options: PartWriterOptions = {}): Promise<PartWriter> {
    checkPart(part, this.sizeBytes);
    const sink = new S3PartSink(part, options.observe, (body, signal) => this.store.sendPart(this.key, this.state.uploadId, part, body, signal));
    const done = new Promise<S3PartReceipt>((resolve, reject) => {
      sink.on('finish', () => (sink.receipt ? resolve(sink.receipt) : reject(new Error(`part ${part.index}: finished without a receipt`))));
      sink.on('error', reject);
      sink.on('close', () => reject(new Error(`part ${part.index}: the writer was closed before the part was stored`)));
    });
    // Observed by whoever awaits it; never an unhandled rejection if nobody does.
    done.catch(() => undefined);
    return { writable: sink, done };
  }

  /** Nothing to do: a part is durable in S3 once its UploadPart was answered. */
  async flush(): Promise<void> {}

  async complete(parts: readonly CompletedPart[], crc32c: number): Promise<void> {
    await this.store.completeUpload(this.key, this.state.uploadId, this.sizeBytes, parts, crc32c);
  }

  /** Nothing to release: sockets belong to the client's pool; the upload stays open for a resume. */
  async close(): Promise<void> {}
}

/** A part must lie inside the file and within S3's part limits. */
function checkPart(part: UploadPart, sizeBytes: number): void {
  if (!Number.isSafeInteger(part.index) || part.index < 0 || part.index >= S3_MAX_PARTS) {
    throw new RangeError(`part ${part.index}: S3 numbers parts 1..${S3_MAX_PARTS}`);
  }
  if (part.offsetBytes < 0 || part.lengthBytes <= 0 || part.offsetBytes + part.lengthBytes > sizeBytes) {
    throw new RangeError(`part ${part.index} (${part.offsetBytes}+${part.lengthBytes}) lies outside the file of ${sizeBytes} bytes`);
  }
  if (part.lengthBytes > S3_MAX_PART_SIZE_BYTES) throw new RangeError(`part ${part.index}: ${part.lengthBytes} bytes is more than S3's 5 GiB part limit`);
  const isLast = part.offsetBytes + part.lengthBytes === sizeBytes;
  if (!isLast && part.lengthBytes < S3_MIN_PART_SIZE_BYTES) throw new RangeError(`part ${part.index}: ${part.lengthBytes} bytes is less than S3's 5 MiB minimum for all parts but the last`);
}
