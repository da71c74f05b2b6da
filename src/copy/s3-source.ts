/**
 * An S3 object as the source of an import. Before anything is created the object is located (an
 * AWS bucket's region is asked of AWS unless given) and probed with a signed HEAD that states its
 * size, validators and, when S3 keeps one for the whole object, its CRC32C. A HEAD that fails has
 * no body, so the same request is made again as a signed one-byte GET, whose XML error names the
 * cause (NoSuchBucket, NoSuchKey, InvalidAccessKeyId, ...). Every request goes through the
 * OutboundClient (URL and address policy, pinned addresses), and none follows redirects: S3 only
 * redirects to another region, which is reported instead.
 */
import { AppError } from '../domain/errors.js';
import { MAX_SOURCE_BYTES } from '../domain/part-plan.js';
import { openSecret, sealSecret } from '../domain/secret-box.js';
import {
  awsRegionalEndpoint,
  bucketRegionLookupUrl,
  chooseAwsAddressing,
  fullObjectCrc32c,
  parseS3Error,
  s3ErrorToAppError,
  s3ObjectUrl,
  type S3Credentials,
  type S3ObjectLocation,
} from '../domain/s3-object.js';
import { describeHttpStatus } from '../net/http-status.js';
import { headerValue, type OutboundClient, type OutboundResponse, type PinnedPool } from '../net/outbound-client.js';
import { describeSource, foreignContentEncoding, identityHeaders, USER_AGENT, type SourceInfo } from './probe.js';
import { createS3RequestSigner } from './s3-signer.js';

/** What the request names: the endpoint (null: AWS) and region (null: looked up, or the default for an endpoint). */
export interface S3ObjectRequest {
  endpoint: string | null;
  region: string | null;
  bucket: string;
  objectKey: string;
}

export interface S3SourceInfo extends SourceInfo {
  /** The object's CRC32C as S3 keeps it for the whole object; null when S3 has none (or only a composite one). */
  crc32c: number | null;
}

const ERROR_BODY_LIMIT_BYTES = 64 * 1024;

/** Works out the endpoint, region and addressing of the object. */
export async function locateS3Object(
  client: OutboundClient,
  request: S3ObjectRequest,
  defaultRegion: string,
  signal?: AbortSignal,
): Promise<S3ObjectLocation> {
  const { bucket, objectKey } = request;
  if (request.endpoint !== null)
    return {
      endpoint: request.endpoint,
      region: request.region ?? defaultRegion,
      bucket,
      objectKey,
      addressing: 'path',
    };
  const region = request.region ?? (await lookUpBucketRegion(client, bucket, signal));
  return { endpoint: awsRegionalEndpoint(region), region, bucket, objectKey, addressing: chooseAwsAddressing(bucket) };
}

/**
 * AWS answers an unsigned HEAD of the bucket on the global endpoint with the bucket's region in
 * `x-amz-bucket-region`, whether it allows the request (200), redirects it (301) or refuses it
 * (400, 403); 404 means there is no such bucket.
 */
async function lookUpBucketRegion(client: OutboundClient, bucket: string, signal?: AbortSignal): Promise<string> {
  const pool = client.openPool(await client.pin(bucketRegionLookupUrl(bucket)), 1);
  try {
    const response = await pool.request({
      method: 'HEAD',
      headers: { 'user-agent': USER_AGENT },
      ...(signal ? { signal } : {}),
    });
    await response.body.dump().catch(() => undefined);
    const region = headerValue(response.headers, 'x-amz-bucket-region');
    if (region !== null && region.trim() !== '') return region.trim();
    if (response.statusCode === 404)
      throw s3ErrorToAppError({ status: 404, code: 'NoSuchBucket', message: null }, { bucket, objectKey: '' });
    throw new AppError(
      'RESOLVE_OBJECT_METADATA_ERROR',
      `AWS did not tell the region of the bucket ${bucket} (it answered ${describeHttpStatus(response.statusCode)}): give it in s3Bucket.region`,
      { status: response.statusCode, bucket },
    );
  } finally {
    await pool.close();
  }
}

/** Probes the object; throws AppError with the most specific code when it cannot be imported. */
export async function probeS3Object(
  client: OutboundClient,
  location: S3ObjectLocation,
  credentials: S3Credentials,
  options: { now?: () => Date; signal?: AbortSignal } = {},
): Promise<S3SourceInfo> {
  const sign = createS3RequestSigner({
    credentials,
    region: location.region,
    ...(options.now ? { now: options.now } : {}),
  });
  const target = await client.pin(s3ObjectUrl(location));
  const pool = client.openPool(target, 1);
  const signal = options.signal ? { signal: options.signal } : {};
  try {
    const head = await pool.request({
      method: 'HEAD',
      headers: await sign({
        method: 'HEAD',
        url: target.url,
        headers: { 'x-amz-checksum-mode': 'ENABLED', 'user-agent': USER_AGENT },
      }),
      ...signal,
    });
    await head.body.dump().catch(() => undefined);
    if (head.statusCode === 200) return describeObject(head, pool, location);
    const get = await pool.request({
      method: 'GET',
      headers: await sign({ method: 'GET', url: target.url, headers: identityHeaders('bytes=0-0') }),
      ...signal,
    });
    const body = await readLimited(get);
    if (get.statusCode < 300) {
      throw new AppError(
        'RESOLVE_OBJECT_METADATA_ERROR',
        `S3 answered ${describeHttpStatus(head.statusCode)} to a HEAD of the object ${JSON.stringify(location.objectKey)} but serves it to a GET`,
        { status: head.statusCode, bucket: location.bucket },
      );
    }
    const parsed = parseS3Error(body);
    throw s3ErrorToAppError(
      { status: get.statusCode, code: parsed?.code ?? null, message: parsed?.message ?? null },
      location,
    );
  } finally {
    await pool.close();
  }
}

function describeObject(head: OutboundResponse, pool: PinnedPool, location: S3ObjectLocation): S3SourceInfo {
  const length = headerValue(head.headers, 'content-length');
  const totalBytes = length !== null && /^[0-9]{1,16}$/.test(length.trim()) ? Number(length.trim()) : null;
  if (totalBytes === null) {
    throw new AppError(
      'RESOLVE_OBJECT_METADATA_ERROR',
      `S3 did not state the size of the object ${JSON.stringify(location.objectKey)} (Content-Length ${JSON.stringify(length)})`,
      { contentLength: length },
    );
  }
  if (totalBytes === 0)
    throw new AppError('NO_CONTENT', 'the object is empty (0 bytes): there is nothing to import', {
      bucket: location.bucket,
    });
  if (totalBytes > MAX_SOURCE_BYTES) {
    throw new AppError(
      'VALIDATION_ERROR',
      `the object is ${totalBytes} bytes; at most ${MAX_SOURCE_BYTES} bytes (500 GB) can be imported`,
      { totalBytes, maxBytes: MAX_SOURCE_BYTES },
      {
        validationErrors: [
          {
            field: 'objectKey',
            value: location.objectKey,
            message: `the object is larger than 500 GB (${totalBytes} bytes)`,
          },
        ],
      },
    );
  }
  const encoding = foreignContentEncoding(head);
  if (encoding !== null) {
    throw new AppError(
      'CONTENT_ENCODING_NOT_IDENTITY',
      `the object is stored with Content-Encoding ${encoding}, which S3 repeats on every range: the copy cannot tell its bytes from a compressed transfer`,
      { contentEncoding: encoding },
    );
  }
  return {
    ...describeSource(pool, head, totalBytes),
    crc32c: fullObjectCrc32c(
      headerValue(head.headers, 'x-amz-checksum-crc32c'),
      headerValue(head.headers, 'x-amz-checksum-type'),
    ),
  };
}

/** At most the first 64 KiB of an error body, as text. */
async function readLimited(response: OutboundResponse): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    chunks.push(buffer);
    size += buffer.length;
    if (size >= ERROR_BODY_LIMIT_BYTES) {
      response.body.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, ERROR_BODY_LIMIT_BYTES).toString('utf8');
}

/** The part-request hook of an S3 copy: signs each attempt's headers for the object's URL. */
export function s3PartAuthorizer(
  fetchUrl: string,
  region: string,
  credentials: S3Credentials,
): (headers: Record<string, string>) => Promise<Record<string, string>> {
  const sign = createS3RequestSigner({ credentials, region });
  const url = new URL(fetchUrl);
  return (headers) => sign({ method: 'GET', url, headers });
}

/** The key pair as stored: JSON sealed under the key-encryption key (never logged, never returned). */
export function sealS3Credentials(credentials: S3Credentials, kek: Buffer): string {
  return sealSecret(
    Buffer.from(
      JSON.stringify({ accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey }),
      'utf8',
    ),
    kek,
  );
}

/** Opens stored credentials; an AppError when they are gone or were sealed under another key-encryption key. */
export function openS3Credentials(sealed: string | null, kek: Buffer): S3Credentials {
  if (sealed === null)
    throw new AppError(
      'INTERNAL_SERVER_ERROR',
      "the import's S3 credentials are no longer stored: abandon the import and import the object again",
    );
  try {
    const parsed = JSON.parse(openSecret(sealed, kek).toString('utf8')) as Partial<S3Credentials>;
    if (typeof parsed.accessKeyId !== 'string' || typeof parsed.secretAccessKey !== 'string')
      throw new Error('the sealed S3 credentials lack a key');
    return { accessKeyId: parsed.accessKeyId, secretAccessKey: parsed.secretAccessKey };
  } catch (error) {
    throw new AppError(
      'INTERNAL_SERVER_ERROR',
      "the import's S3 credentials cannot be decrypted: the key-encryption key (REELIN_WEBHOOK_KEY_ENCRYPTION_KEY) is not the one they were stored under",
      null,
      { cause: error },
    );
  }
}

/** The stored S3 columns of an import. */
export interface StoredS3Source {
  s3Endpoint: string | null;
  s3Region: string | null;
  s3Bucket: string | null;
  s3ObjectKey: string | null;
  s3Addressing: S3ObjectLocation['addressing'] | null;
  sourceCredentials: string | null;
}

/** The object and key pair of a stored S3 import. */
export function storedS3Source(
  row: StoredS3Source,
  kek: Buffer,
): { location: S3ObjectLocation; credentials: S3Credentials } {
  const {
    s3Endpoint: endpoint,
    s3Region: region,
    s3Bucket: bucket,
    s3ObjectKey: objectKey,
    s3Addressing: addressing,
  } = row;
  if (endpoint === null || region === null || bucket === null || objectKey === null || addressing === null) {
    throw new Error("an S3 import lacks its object's coordinates");
  }
  return {
    location: { endpoint, region, bucket, objectKey, addressing },
    credentials: openS3Credentials(row.sourceCredentials, kek),
  };
}
