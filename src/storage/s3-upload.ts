/**
 * One S3 multipart upload of a file, as a BlobUpload: parts go out as streamed UploadPart requests
 * (see s3-part-writer.ts), and completion hands S3 every part's ETag and CRC32C with the whole
 * file's CRC32C as the full-object checksum, so S3 itself verifies the assembled object.
 */
import {
  CompleteMultipartUploadCommand,
  S3ServiceException,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { AppError } from '../domain/errors.js';
import type { BlobKey } from './blob-keys.js';
import type {
  BlobInfo,
  BlobUpload,
  CompletedPart,
  PartWriter,
  PartWriterOptions,
  UploadPart,
  UploadState,
} from './blob-store.js';
import { S3PartSink, crc32cToBase64, type S3PartReceipt } from './s3-part-writer.js';

const MEBIBYTE = 1024 * 1024;
/** S3's limits on multipart uploads: parts of 5 MiB..5 GiB (the last may be smaller), at most 10,000 of them. */
export const S3_MIN_PART_SIZE_BYTES = 5 * MEBIBYTE;
export const S3_MAX_PART_SIZE_BYTES = 5 * 1024 * MEBIBYTE;
export const S3_MAX_PARTS = 10_000;

export interface S3UploadState extends UploadState {
  store: 's3';
  uploadId: string;
}

export interface S3UploadTarget {
  client: S3Client;
  bucket: string;
  objectKey: string;
  key: BlobKey;
  sizeBytes: number;
  uploadId: string;
  /** The stored object at the key, to recognise a completion that already happened. */
  stat: () => Promise<BlobInfo | null>;
}

export function isS3Error(error: unknown, ...names: string[]): boolean {
  if (!(error instanceof S3ServiceException)) return false;
  return names.includes(error.name) || (names.includes('NotFound') && error.$metadata.httpStatusCode === 404);
}

export class S3Upload implements BlobUpload {
  readonly key: BlobKey;
  readonly state: S3UploadState;

  constructor(private readonly target: S3UploadTarget) {
    this.key = target.key;
    this.state = { store: 's3', uploadId: target.uploadId };
  }

  async createPartWriter(part: UploadPart, options: PartWriterOptions = {}): Promise<PartWriter> {
    checkPart(part, this.target.sizeBytes);
    const { client, bucket, objectKey, uploadId } = this.target;
    const sink = new S3PartSink(part, options.observe, (body, signal) =>
      client.send(
        new UploadPartCommand({
          Bucket: bucket,
          Key: objectKey,
          UploadId: uploadId,
          PartNumber: part.index + 1,
          ContentLength: part.lengthBytes,
          // The SDK sends the CRC32C as a trailer of the streamed body, and S3 checks it.
          ChecksumAlgorithm: 'CRC32C',
          Body: body,
        }),
        { abortSignal: signal },
      ),
    );
    const done = new Promise<S3PartReceipt>((resolve, reject) => {
      sink.on('finish', () =>
        sink.receipt ? resolve(sink.receipt) : reject(new Error(`part ${part.index}: finished without a receipt`)),
      );
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
    const { client, bucket, objectKey, uploadId, sizeBytes, key } = this.target;
    const wholeCrc = crc32cToBase64(crc32c);
    const listed = [...parts]
      .sort((a, b) => a.index - b.index)
      .map((part) => {
        const receipt = part.receipt as S3PartReceipt | null;
        if (!receipt?.etag)
          throw new Error(`part ${part.index} of ${key} has no S3 receipt (ETag): it was not uploaded to this store`);
        return {
          PartNumber: part.index + 1,
          ETag: receipt.etag,
          ChecksumCRC32C: receipt.crc32c ?? crc32cToBase64(part.crc32c),
        };
      });
    try {
      await client.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: objectKey,
          UploadId: uploadId,
          ChecksumCRC32C: wholeCrc,
          ChecksumType: 'FULL_OBJECT',
          MpuObjectSize: sizeBytes,
          MultipartUpload: { Parts: listed },
        }),
      );
    } catch (error) {
      if (
        isS3Error(error, 'BadDigest', 'InvalidDigest') ||
        (isS3Error(error, 'InvalidRequest') && /checksum/i.test((error as Error).message))
      ) {
        throw new AppError(
          'CHECKSUM_MISMATCH',
          `S3 refused to assemble ${key}: the stored parts do not have the whole-file CRC32C ${wholeCrc} (0x${(crc32c >>> 0).toString(16).padStart(8, '0')}) the copy computed; restart the import`,
          { crc32c },
          { cause: error },
        );
      }
      // A completion that succeeded before a crash or a lost answer: the object is there, whole.
      if (isS3Error(error, 'NoSuchUpload') && (await this.target.stat())?.sizeBytes === sizeBytes) return;
      throw error;
    }
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
    throw new RangeError(
      `part ${part.index} (${part.offsetBytes}+${part.lengthBytes}) lies outside the file of ${sizeBytes} bytes`,
    );
  }
  if (part.lengthBytes > S3_MAX_PART_SIZE_BYTES)
    throw new RangeError(`part ${part.index}: ${part.lengthBytes} bytes is more than S3's 5 GiB part limit`);
  const isLast = part.offsetBytes + part.lengthBytes === sizeBytes;
  if (!isLast && part.lengthBytes < S3_MIN_PART_SIZE_BYTES)
    throw new RangeError(
      `part ${part.index}: ${part.lengthBytes} bytes is less than S3's 5 MiB minimum for all parts but the last`,
    );
}
