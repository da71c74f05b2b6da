/**
 * Where an S3 object is and what S3's answers about it mean, decided without I/O: the endpoint and
 * addressing style, the object's URL, the checksum S3 states for it, and the error an S3 error code
 * becomes. AWS buckets are addressed virtual-hosted (`<bucket>.s3.<region>.amazonaws.com`) when the
 * name is a plain DNS label, else path-style (names with dots would break the wildcard
 * certificate); self-hosted endpoints (MinIO, Ceph, R2, ...) are always addressed path-style, the
 * one style they all serve.
 */
import { AppError } from './errors.js';
import { storableText } from './stored-text.js';

export type S3Addressing = 'virtual-hosted' | 'path';

/** An S3 key pair: the service's own storage's (when not from the SDK's provider chain) or an import's. */
export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** Present with temporary credentials only; an import's key pair never has one. */
  sessionToken?: string;
}

/** An object in a bucket, with the endpoint, region and style its requests are made and signed with. */
export interface S3ObjectLocation {
  /** Base URL of the S3 service, without the bucket (`https://s3.eu-west-1.amazonaws.com`). */
  endpoint: string;
  region: string;
  bucket: string;
  objectKey: string;
  addressing: S3Addressing;
}

/** Where AWS answers any bucket's region, whatever region the bucket is in. */
export const AWS_GLOBAL_ENDPOINT = 'https://s3.amazonaws.com';

const regionPattern = /^[a-z0-9-]{1,64}$/;

/** An S3 endpoint base URL in its one comparable form (no trailing slash), or null when it is not one. */
export function normalizeS3Endpoint(input: string): string | null {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return null;
  }
  if (
    url.protocol !== 'https:' ||
    url.username !== '' ||
    url.password !== '' ||
    input.includes('?') ||
    input.includes('#')
  )
    return null;
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

export function isValidRegion(region: string): boolean {
  return regionPattern.test(region);
}

/** The AWS regional endpoint of `region` (commercial partition). */
export function awsRegionalEndpoint(region: string): string {
  if (!isValidRegion(region))
    throw new AppError('VALIDATION_ERROR', `${JSON.stringify(region.slice(0, 64))} is not an S3 region name`, null, {
      validationErrors: [
        { field: 's3Bucket.region', value: region, message: 'must be a region name such as eu-west-1' },
      ],
    });
  return `https://s3.${region}.amazonaws.com`;
}

/** Virtual-hosted when the bucket name is one DNS label AWS's wildcard certificate covers, else path-style. */
export function chooseAwsAddressing(bucket: string): S3Addressing {
  return /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(bucket) ? 'virtual-hosted' : 'path';
}

/**
 * Percent-encodes a key the way S3's canonical request expects it: every byte except the
 * unreserved characters (RFC 3986) and `/`, which separates segments and is sent as is.
 */
export function encodeObjectKey(objectKey: string): string {
  return objectKey.split('/').map(encodeSegment).join('/');
}

function encodeSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/[!'()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);
}

export const DOT_SEGMENT_MESSAGE =
  'must not have a . or .. segment: URL parsers resolve them as path steps, which would leave the bucket';

/**
 * Whether a key has a `.` or `..` segment. Such a key cannot be addressed safely: every URL parser
 * (WHATWG's, undici's, S3's own) resolves those segments, and their percent-encoded forms
 * (`%2e%2e`), as steps up the path, out of the bucket and out of an endpoint's path prefix.
 */
export function hasDotSegment(objectKey: string): boolean {
  return objectKey.split('/').some((segment) => segment === '.' || segment === '..');
}

/** The HTTPS URL of the object; refuses a key that could climb out of its bucket. */
export function s3ObjectUrl(location: S3ObjectLocation): string {
  if (hasDotSegment(location.objectKey)) {
    throw new AppError('VALIDATION_ERROR', `the request is not valid: objectKey: ${DOT_SEGMENT_MESSAGE}`, null, {
      validationErrors: [{ field: 'objectKey', value: location.objectKey, message: DOT_SEGMENT_MESSAGE }],
    });
  }
  // Every other byte that is not unreserved is percent-encoded (a literal `%2e` becomes `%252e`), so
  // no segment of the encoded key is a dot segment either.
  const key = encodeObjectKey(location.objectKey);
  if (location.addressing === 'virtual-hosted') {
    const endpoint = new URL(location.endpoint);
    return `${endpoint.protocol}//${location.bucket}.${endpoint.host}${endpoint.pathname.replace(/\/+$/, '')}/${key}`;
  }
  return `${location.endpoint}/${encodeSegment(location.bucket)}/${key}`;
}

/** The URL whose unsigned HEAD tells an AWS bucket's region (`x-amz-bucket-region`). */
export function bucketRegionLookupUrl(bucket: string): string {
  return `${AWS_GLOBAL_ENDPOINT}/${encodeSegment(bucket)}`;
}

/** How the source is shown and stored as `sourceUrl`: never with credentials or the endpoint's secrets. */
export function s3SourceUrl(bucket: string, objectKey: string): string {
  return `s3://${bucket}/${objectKey}`;
}

/**
 * The object's CRC32C as S3 states it (HEAD with `x-amz-checksum-mode: ENABLED`), when it is the
 * checksum of the whole object: type FULL_OBJECT, or no type and no `-<parts>` suffix (servers that
 * predate checksum types state single-part checksums that way). A COMPOSITE checksum is a checksum
 * of the parts' checksums and cannot be compared with the file's own.
 */
export function fullObjectCrc32c(checksum: string | null, checksumType: string | null): number | null {
  if (checksum === null) return null;
  const type = checksumType?.trim().toUpperCase() ?? null;
  if (type !== null && type !== 'FULL_OBJECT') return null;
  if (type === null && /-\d+$/.test(checksum.trim())) return null;
  const bytes = Buffer.from(checksum.trim(), 'base64');
  if (bytes.length !== 4 || bytes.toString('base64') !== checksum.trim()) return null;
  return bytes.readUInt32BE(0);
}

/** The `<Code>` and `<Message>` of an S3 XML error body; null when the body is not one. */
export function parseS3Error(body: string): { code: string; message: string | null } | null {
  const code = /<Code>([^<]{1,100})<\/Code>/.exec(body)?.[1];
  if (code === undefined) return null;
  const message = /<Message>([^<]{0,500})<\/Message>/.exec(body)?.[1] ?? null;
  // Quoted in error messages that are stored with the import: no NUL may reach the database.
  return {
    code: storableText(unescapeXml(code.trim())),
    message: message === null ? null : storableText(unescapeXml(message.trim())),
  };
}

function unescapeXml(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

/**
 * The error a failed request for the object ends the import with. Credentials problems are the
 * source's, not the caller's: they are marked so the API answers 400, not 401/403. No message
 * quotes the access key, the secret or a signature.
 */
export function s3ErrorToAppError(
  failure: { status: number; code: string | null; message: string | null },
  location: Pick<S3ObjectLocation, 'bucket' | 'objectKey'>,
): AppError {
  const { status, code } = failure;
  const details = { status, s3ErrorCode: code, bucket: location.bucket };
  const object = `the object ${JSON.stringify(location.objectKey)} in the bucket ${location.bucket}`;
  switch (code) {
    case 'NoSuchBucket':
      return new AppError('RESOURCE_NOT_FOUND', `the bucket ${location.bucket} does not exist`, details);
    case 'NoSuchKey':
      return new AppError('RESOURCE_NOT_FOUND', `${object} does not exist`, {
        ...details,
        objectKey: location.objectKey,
      });
    case 'InvalidAccessKeyId':
      return new AppError(
        'INVALID_CREDENTIALS',
        'S3 does not know the access key in s3Bucket.accessKey: check that it is an active access key of this S3 service',
        details,
        { aboutSource: true },
      );
    case 'SignatureDoesNotMatch':
      return new AppError(
        'INVALID_CREDENTIALS',
        'S3 refused the request signature: s3Bucket.secretAccessKey is not the secret of s3Bucket.accessKey',
        details,
        { aboutSource: true },
      );
    case 'AccessDenied':
    case 'AllAccessDisabled':
      return new AppError(
        'ACCESS_DENIED',
        `the credentials may not read ${object}: they need s3:GetObject on it`,
        details,
        { aboutSource: true },
      );
    case 'PermanentRedirect':
    case 'AuthorizationHeaderMalformed':
    case 'IllegalLocationConstraintException':
      return new AppError(
        'VALIDATION_ERROR',
        `the bucket ${location.bucket} is not in the region the request was signed for`,
        details,
        {
          validationErrors: [
            {
              field: 's3Bucket.region',
              value: null,
              message: "is not the bucket's region; leave it out to have it looked up",
            },
          ],
        },
      );
    case 'InvalidBucketName':
      return new AppError(
        'VALIDATION_ERROR',
        `${JSON.stringify(location.bucket)} is not a valid bucket name`,
        details,
        {
          validationErrors: [
            { field: 's3Bucket.bucket', value: location.bucket, message: 'is not a valid bucket name' },
          ],
        },
      );
    default:
      break;
  }
  if (code === null && status === 404)
    return new AppError('RESOURCE_NOT_FOUND', `${object} does not exist`, {
      ...details,
      objectKey: location.objectKey,
    });
  if (code === null && status === 403)
    return new AppError('ACCESS_DENIED', `S3 answered 403 Forbidden for ${object}`, details, { aboutSource: true });
  const said = code === null ? '' : ` ${code}${failure.message === null ? '' : ` (${failure.message.slice(0, 200)})`}`;
  return new AppError(
    'RESOLVE_OBJECT_METADATA_ERROR',
    `S3 answered ${status}${said} to a request for ${object}`,
    details,
  );
}
