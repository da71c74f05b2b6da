/**
 * Receiving a request body: undo aws-chunked encoding, hash while streaming into the sink (a file
 * for data, memory for XML), then check everything the client claimed about the body: its length,
 * Content-MD5, x-amz-content-sha256 when it is a digest, and one x-amz-checksum-* in a header or a
 * trailer. A body that fails a check is reported as the S3 error, and the caller stores nothing.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Transform, Writable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AwsChunkedDecoder } from './aws-chunked.js';
import {
  BodyDigests,
  checksumAlgorithms,
  checksumHeader,
  type ChecksumAlgorithm,
  type FinishedDigests,
} from './checksums.js';
import { s3Errors, S3Error } from './errors.js';

/** Transform buffers sized for big sequential writes: fewer, larger writes to disk. */
const streamBufferBytes = 1024 * 1024;

export interface ReceivedBody {
  digests: FinishedDigests;
  /** The checksum the client sent (header or trailer) and that matched, if any. */
  clientChecksum?: { algorithm: ChecksumAlgorithm; base64: string };
}

class DigestingPassThrough extends Transform {
  constructor(readonly digests: BodyDigests) {
    super({ readableHighWaterMark: streamBufferBytes, writableHighWaterMark: streamBufferBytes });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.digests.update(chunk);
    callback(null, chunk);
  }
}

/** A sink that keeps small bodies (XML requests) in memory, refusing anything past `maxBytes`. */
export class MemorySink extends Writable {
  private readonly chunks: Buffer[] = [];
  private lengthBytes = 0;

  constructor(private readonly maxBytes: number) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.lengthBytes += chunk.length;
    if (this.lengthBytes > this.maxBytes) {
      callback(
        new S3Error(
          400,
          'MaxMessageLengthExceeded',
          `Your request was too big: this request body may be at most ${this.maxBytes} bytes.`,
        ),
      );
      return;
    }
    this.chunks.push(chunk);
    callback();
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The length the decoded body must have, from x-amz-decoded-content-length or Content-Length. */
function expectedLength(request: IncomingMessage, isChunked: boolean): number | undefined {
  const text = isChunked ? header(request, 'x-amz-decoded-content-length') : header(request, 'content-length');
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0)
    throw s3Errors.invalidArgument(
      'The content length is not a non-negative integer.',
      isChunked ? 'x-amz-decoded-content-length' : 'Content-Length',
      text,
    );
  return value;
}

/** The one checksum header the client sent (if any); more than one is an error, as on S3. */
function checksumFromHeaders(request: IncomingMessage): { algorithm: ChecksumAlgorithm; base64: string } | undefined {
  if (header(request, 'x-amz-checksum-crc64nvme') !== undefined)
    throw s3Errors.notImplemented('x-amz-checksum-crc64nvme (use CRC32C)');
  const present = checksumAlgorithms.flatMap((algorithm) => {
    const value = header(request, checksumHeader(algorithm));
    return value === undefined ? [] : [{ algorithm, base64: value }];
  });
  if (present.length > 1)
    throw s3Errors.invalidRequest(
      'Expecting a single x-amz-checksum- header. Multiple checksum types are not allowed.',
    );
  return present[0];
}

function trailerAlgorithm(request: IncomingMessage): ChecksumAlgorithm | undefined {
  const trailer = header(request, 'x-amz-trailer')?.trim().toLowerCase();
  if (trailer === undefined) return undefined;
  if (trailer === 'x-amz-checksum-crc64nvme') throw s3Errors.notImplemented('x-amz-checksum-crc64nvme (use CRC32C)');
  const algorithm = checksumAlgorithms.find((candidate) => checksumHeader(candidate) === trailer);
  if (!algorithm)
    throw s3Errors.invalidRequest(`The value specified in the x-amz-trailer header is not supported: ${trailer}`);
  return algorithm;
}

/**
 * Streams the body of `request` into `sink`, checking it; throws the S3 error on any mismatch.
 * `isChecksumHeaderAboutObject`: for CompleteMultipartUpload the x-amz-checksum-* header is the
 * whole object's checksum, not the XML body's, so it is left to the caller.
 */
export async function receiveBody(
  request: IncomingMessage,
  payloadHash: string,
  sink: Writable,
  isChecksumHeaderAboutObject = false,
): Promise<ReceivedBody> {
  const isChunked =
    payloadHash.startsWith('STREAMING-') || /aws-chunked/i.test(header(request, 'content-encoding') ?? '');
  const length = expectedLength(request, isChunked);
  if (length === undefined && header(request, 'transfer-encoding') !== undefined) {
    throw new S3Error(411, 'MissingContentLength', 'You must provide the Content-Length HTTP header.');
  }
  const headerChecksum = isChecksumHeaderAboutObject ? undefined : checksumFromHeaders(request);
  const declaredTrailer = isChunked ? trailerAlgorithm(request) : undefined;
  const isPayloadDigest = /^[0-9a-f]{64}$/.test(payloadHash);
  const shaAlgorithms = new Set<'SHA1' | 'SHA256'>();
  for (const algorithm of [headerChecksum?.algorithm, declaredTrailer])
    if (algorithm === 'SHA1' || algorithm === 'SHA256') shaAlgorithms.add(algorithm);
  const payloadSha256 = isPayloadDigest ? createHash('sha256') : undefined;

  const digester = new DigestingPassThrough(new BodyDigests(shaAlgorithms));
  const decoder = isChunked ? new AwsChunkedDecoder() : undefined;
  const stages: Array<NodeJS.ReadableStream | NodeJS.WritableStream> = [request];
  if (decoder) stages.push(decoder);
  if (payloadSha256) {
    stages.push(
      new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          payloadSha256.update(chunk);
          callback(null, chunk);
        },
      }),
    );
  }
  stages.push(digester, sink);
  await (pipeline as (...streams: Array<NodeJS.ReadableStream | NodeJS.WritableStream>) => Promise<void>)(...stages);

  const digests = digester.digests.finish();
  if (length !== undefined && digests.lengthBytes !== length) {
    throw new S3Error(
      400,
      'IncompleteBody',
      `You did not provide the number of bytes specified by the Content-Length HTTP header: expected ${length}, received ${digests.lengthBytes}.`,
    );
  }
  if (payloadSha256 && payloadSha256.digest('hex') !== payloadHash) {
    throw new S3Error(
      400,
      'XAmzContentSHA256Mismatch',
      "The provided 'x-amz-content-sha256' header does not match what was computed.",
    );
  }
  const contentMd5 = header(request, 'content-md5');
  if (contentMd5 !== undefined && contentMd5 !== digests.md5.toString('base64')) {
    throw s3Errors.badDigest('The Content-MD5 you specified did not match what we received.');
  }
  const trailerValue = declaredTrailer && decoder?.trailers.get(checksumHeader(declaredTrailer));
  const clientChecksum =
    headerChecksum ??
    (declaredTrailer && trailerValue ? { algorithm: declaredTrailer, base64: trailerValue } : undefined);
  if (clientChecksum && digests.base64[clientChecksum.algorithm] !== clientChecksum.base64) {
    throw s3Errors.badDigest(`The ${clientChecksum.algorithm} you specified did not match the calculated checksum.`);
  }
  return clientChecksum ? { digests, clientChecksum } : { digests };
}
