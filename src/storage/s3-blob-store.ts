/**
 * The S3 BlobStore (AWS S3 and S3-compatible stores: MinIO, Cloudflare R2, Backblaze B2, Ceph RGW).
 * An upload is an S3 multipart upload: its id is the upload state, each part is one UploadPart
 * streamed from the source (see s3-part-writer.ts), and completion sends the whole file's CRC32C as
 * S3's full-object checksum, so the store itself verifies the assembled object before publishing
 * it. A part is durable once UploadPart answered, so `flush` has nothing to do. Reads are ranged
 * GETs; media work and downloads get pre-signed GET URLs, so nothing is copied to local disk first.
 */
import { randomUUID } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AbortMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  type S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import contentDisposition from 'content-disposition';
import { toBlobKey, type BlobKey } from './blob-keys.js';
import {
  UploadLostError,
  type BlobInfo,
  type BlobStore,
  type BlobUpload,
  type ByteRange,
  type DownloadOptions,
  type PendingUpload,
  type UploadState,
} from './blob-store.js';
import { NativeCrc32c } from './s3-checksums.js';
import { S3_MIN_PART_SIZE_BYTES, S3Upload, isS3Error } from './s3-upload.js';

export { S3_MAX_PARTS, S3_MAX_PART_SIZE_BYTES, S3_MIN_PART_SIZE_BYTES } from './s3-upload.js';

const MEBIBYTE = 1024 * 1024;
/** SigV4 pre-signed URLs live at most 7 days. */
export const S3_MAX_PRESIGN_SECONDS = 7 * 86_400;
/** DeleteObjects takes at most 1,000 keys. */
const DELETE_BATCH = 1_000;

export interface S3BlobStoreOptions {
  client: S3Client;
  /** Signs download links (users may reach the store by another address than the service); default `client`. */
  downloadClient?: S3Client;
  bucket: string;
  /** Prepended to every key: empty, or segments ending in `/`. */
  keyPrefix: string;
}

/** The S3 client settings the store relies on; the caller adds region, endpoint, handler and credentials. */
export function s3ClientDefaults(): Pick<
  S3ClientConfig,
  'requestChecksumCalculation' | 'responseChecksumValidation' | 'checksumAlgorithms'
> {
  return {
    // The parts' CRC32C trailers on native code instead of the SDK's JavaScript loop.
    checksumAlgorithms: { CRC32C: NativeCrc32c },
    // Checksums where an operation requires one, plus where we ask for them explicitly (UploadPart,
    // CreateMultipartUpload). WHEN_SUPPORTED would add a CRC32 to every upload request the SDK
    // sends (artifact puts included), which several S3-compatible stores refuse.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    // Range reads cannot be validated against a whole-object checksum, and imports verify their
    // own CRC32C; validating on every GET would only cost CPU (or fail on stores that send none).
    responseChecksumValidation: 'WHEN_REQUIRED',
  };
}

function uploadIdOf(state: UploadState | null): string | null {
  return state !== null && state.store === 's3' && typeof state.uploadId === 'string' ? state.uploadId : null;
}

export class S3BlobStore implements BlobStore {
  readonly capabilities = { presignedDownloads: true, minPartSizeBytes: S3_MIN_PART_SIZE_BYTES };
  private readonly client: S3Client;
  private readonly downloadClient: S3Client;
  private readonly bucket: string;
  private readonly keyPrefix: string;

  constructor(options: S3BlobStoreOptions) {
    this.client = options.client;
    this.downloadClient = options.downloadClient ?? options.client;
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
      const created = await this.client.send(
        new CreateMultipartUploadCommand({
          Bucket: this.bucket,
          Key: objectKey,
          ChecksumAlgorithm: 'CRC32C',
          ChecksumType: 'FULL_OBJECT',
        }),
      );
      if (!created.UploadId) throw new Error(`S3 answered CreateMultipartUpload for ${objectKey} without an upload id`);
      return this.upload(key, sizeBytes, created.UploadId);
    }
    const uploadId = uploadIdOf(state);
    if (uploadId === null)
      throw new UploadLostError(
        `the recorded upload of ${key} is not an S3 multipart upload (${JSON.stringify(state)})`,
      );
    try {
      await this.client.send(
        new ListPartsCommand({ Bucket: this.bucket, Key: objectKey, UploadId: uploadId, MaxParts: 1 }),
      );
    } catch (error) {
      if (isS3Error(error, 'NoSuchUpload', 'NotFound'))
        throw new UploadLostError(`the multipart upload ${uploadId} of ${key} no longer exists`, { cause: error });
      throw error;
    }
    return this.upload(key, sizeBytes, uploadId);
  }

  private upload(key: BlobKey, sizeBytes: number, uploadId: string): BlobUpload {
    return new S3Upload({
      client: this.client,
      bucket: this.bucket,
      objectKey: this.objectKey(key),
      key,
      sizeBytes,
      uploadId,
      stat: () => this.stat(key),
    });
  }

  /** Aborts the recorded upload; without one, every upload of the key (one created before its id was recorded). */
  async abortUpload(key: BlobKey, state: UploadState | null): Promise<void> {
    const recorded = uploadIdOf(state);
    const uploadIds = recorded !== null ? [recorded] : await this.listUploadIdsOf(key);
    for (const uploadId of uploadIds) {
      try {
        await this.client.send(
          new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: this.objectKey(key), UploadId: uploadId }),
        );
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

  private async *listRawUploads(
    prefix: string,
  ): AsyncGenerator<{ objectKey: string; uploadId: string; initiatedAt: Date }> {
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      const page = await this.client.send(
        new ListMultipartUploadsCommand({
          Bucket: this.bucket,
          Prefix: prefix,
          KeyMarker: keyMarker,
          UploadIdMarker: uploadIdMarker,
        }),
      );
      for (const upload of page.Uploads ?? []) {
        if (upload.Key && upload.UploadId)
          yield { objectKey: upload.Key, uploadId: upload.UploadId, initiatedAt: upload.Initiated ?? new Date(0) };
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
      yield {
        key,
        uploadId: upload.uploadId,
        initiatedAt: upload.initiatedAt,
        state: { store: 's3', uploadId: upload.uploadId },
      };
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
    const answer = await this.client.send(
      new GetObjectCommand({
        Bucket: this.bucket,
        Key: this.objectKey(key),
        ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}),
      }),
    );
    if (!(answer.Body instanceof Readable)) throw new Error(`S3 answered GetObject for ${key} without a body stream`);
    return answer.Body;
  }

  /**
   * Stores an artifact with the SDK's managed upload: one PutObject when it fits in a part, else a
   * multipart upload (aborted on failure). Either way the object appears only when it is whole.
   */
  async put(key: BlobKey, body: Readable, signal?: AbortSignal): Promise<BlobInfo> {
    signal?.throwIfAborted();
    let sizeBytes = 0;
    const counted = new Transform({
      highWaterMark: 256 * 1024,
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
      // Memory: at most queueSize parts of partSize bytes are buffered. 10,000 parts of 16 MiB
      // allow artifacts up to 160 GiB (their size is not known in advance).
      queueSize: 2,
      partSize: 16 * MEBIBYTE,
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
      const [fed, stored] = await Promise.allSettled([pipeline(body, counted, { signal: abort.signal }), uploading]);
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
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }), {
      expiresIn,
    });
  }

  /** A pre-signed GET URL that names the file in its Content-Disposition, until `expiresAt` (at most 7 days after `signedAt`). */
  async presignDownload(key: BlobKey, options: DownloadOptions): Promise<string> {
    const expiresIn = Math.max(
      1,
      Math.min(Math.round((options.expiresAt.getTime() - options.signedAt.getTime()) / 1000), S3_MAX_PRESIGN_SECONDS),
    );
    return getSignedUrl(
      this.downloadClient,
      new GetObjectCommand({
        Bucket: this.bucket,
        Key: this.objectKey(key),
        ResponseContentDisposition: contentDisposition(options.fileName, { type: options.disposition }),
        ResponseContentType: options.contentType,
      }),
      { expiresIn, signingDate: options.signedAt },
    );
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
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: listPrefix,
          ContinuationToken: continuationToken,
          MaxKeys: DELETE_BATCH,
        }),
      );
      const keys = (page.Contents ?? []).flatMap((object) => (object.Key ? [{ Key: object.Key }] : []));
      if (keys.length > 0) {
        const answer = await this.client.send(
          new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: keys, Quiet: true } }),
        );
        const failed = answer.Errors ?? [];
        if (failed.length > 0) {
          throw new Error(
            `S3 could not delete ${failed.length} objects under ${prefix}: ${failed
              .slice(0, 3)
              .map((item) => `${item.Key}: ${item.Code} ${item.Message}`)
              .join('; ')}`,
          );
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
}
