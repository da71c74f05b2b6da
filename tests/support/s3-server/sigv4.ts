/**
 * AWS Signature Version 4 verification, in the Authorization header or in a presigned URL's query.
 * The signature is recomputed for real (canonical request, string to sign, HMAC key chain) so a
 * client that signs wrongly fails here as it would on S3. Hand-written with node:crypto because
 * @smithy/signature-v4 only signs: verifying means rebuilding the canonical request from what
 * arrived on the wire (the path as sent, the query as sent), which the signer cannot do for us.
 *
 * Not checked: clock skew of header-signed requests (S3 refuses beyond 15 minutes; tests run fake
 * clocks), and the per-chunk signatures of STREAMING-AWS4-HMAC-SHA256-PAYLOAD bodies (the seed
 * signature in the header is checked; the chunks' own signatures are skipped).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { s3Errors, S3Error } from './errors.js';

export interface SigningCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface SignedRequest {
  method: string;
  /** The request target exactly as received: encoded path and raw query. */
  url: string;
  /** Every header's values as received (Node's `headersDistinct`), names lower-case. */
  headers: Record<string, string[] | undefined>;
}

export interface VerifiedRequest {
  accessKeyId: string;
  /** What the signature covers as payload: a hex SHA-256, UNSIGNED-PAYLOAD or a STREAMING-* mode. */
  payloadHash: string;
  isPresigned: boolean;
}

const algorithm = 'AWS4-HMAC-SHA256';

/** RFC 3986 encoding as SigV4 wants it: everything but A-Z a-z 0-9 - . _ ~ is percent-encoded. */
function encodeRfc3986(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function decodeComponent(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw s3Errors.invalidRequest(`The request target has a malformed percent-encoding: ${text}`);
  }
}

/** Splits the raw query into decoded [name, value] pairs, in order. */
export function parseRawQuery(rawQuery: string): Array<[string, string]> {
  return rawQuery
    .split('&')
    .filter((part) => part !== '')
    .map((part) => {
      const equals = part.indexOf('=');
      return equals === -1
        ? [decodeComponent(part), '']
        : [decodeComponent(part.slice(0, equals)), decodeComponent(part.slice(equals + 1))];
    });
}

function canonicalUri(rawPath: string): string {
  return rawPath
    .split('/')
    .map((segment) => encodeRfc3986(decodeComponent(segment)))
    .join('/');
}

function canonicalQuery(pairs: Array<[string, string]>): string {
  return pairs
    .map(([name, value]) => [encodeRfc3986(name), encodeRfc3986(value)] as const)
    .sort(([nameA, valueA], [nameB, valueB]) =>
      nameA < nameB ? -1 : nameA > nameB ? 1 : valueA < valueB ? -1 : valueA > valueB ? 1 : 0,
    )
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

function canonicalHeaders(headers: SignedRequest['headers'], signedHeaders: string[]): string {
  return signedHeaders
    .map((name) => `${name}:${(headers[name] ?? []).map((value) => value.trim().replace(/\s+/g, ' ')).join(',')}\n`)
    .join('');
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

function hmac(key: Buffer | string, text: string): Buffer {
  return createHmac('sha256', key).update(text, 'utf8').digest();
}

interface SignatureParts {
  accessKeyId: string;
  scope: string; // date/region/service/aws4_request
  scopeDate: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
  amzDate: string;
}

function parseCredential(
  credential: string,
): Pick<SignatureParts, 'accessKeyId' | 'scope' | 'scopeDate' | 'region' | 'service'> {
  const [accessKeyId, scopeDate, region, service, terminator, ...rest] = credential.split('/');
  if (!accessKeyId || !scopeDate || !region || !service || terminator !== 'aws4_request' || rest.length > 0) {
    throw new S3Error(
      400,
      'AuthorizationHeaderMalformed',
      `The authorization credential is malformed: "${credential}"`,
    );
  }
  return { accessKeyId, scope: `${scopeDate}/${region}/${service}/aws4_request`, scopeDate, region, service };
}

function parseAuthorizationHeader(header: string, amzDate: string | undefined): SignatureParts {
  if (!header.startsWith(`${algorithm} `)) {
    throw s3Errors.invalidRequest(
      'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.',
    );
  }
  const fields = new Map(
    header
      .slice(algorithm.length + 1)
      .split(',')
      .map((field) => {
        const trimmed = field.trim();
        const equals = trimmed.indexOf('=');
        return [trimmed.slice(0, equals), trimmed.slice(equals + 1)] as const;
      }),
  );
  const credential = fields.get('Credential');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (!credential || !signedHeaders || !signature) {
    throw new S3Error(
      400,
      'AuthorizationHeaderMalformed',
      'The authorization header is malformed; it needs Credential, SignedHeaders and Signature.',
    );
  }
  if (!amzDate) throw s3Errors.accessDenied('AWS authentication requires a valid Date or x-amz-date header');
  return { ...parseCredential(credential), signedHeaders: signedHeaders.split(';'), signature, amzDate };
}

/** `20261128T162439Z` to milliseconds since the epoch, or NaN. */
function parseAmzDate(amzDate: string): number {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!match) return Number.NaN;
  const [, year, month, day, hour, minute, second] = match.map(Number);
  return Date.UTC(year!, month! - 1, day!, hour!, minute!, second!);
}

export interface VerifyOptions {
  region: string;
  findSecret: (accessKeyId: string) => string | undefined;
  now: () => number;
}

/** Checks the request's signature; returns who signed it or throws the S3 error S3 would answer. */
export function verifySignature(request: SignedRequest, options: VerifyOptions): VerifiedRequest {
  const questionMark = request.url.indexOf('?');
  const rawPath = questionMark === -1 ? request.url : request.url.slice(0, questionMark);
  const query = parseRawQuery(questionMark === -1 ? '' : request.url.slice(questionMark + 1));
  const queryValue = (name: string) => query.find(([key]) => key === name)?.[1];
  const authorization = request.headers.authorization?.[0];
  const isPresigned = queryValue('X-Amz-Algorithm') !== undefined;

  let parts: SignatureParts;
  let payloadHash: string;
  let signedQuery = query;
  if (authorization !== undefined) {
    const amzDate = request.headers['x-amz-date']?.[0];
    parts = parseAuthorizationHeader(authorization, amzDate);
    payloadHash = request.headers['x-amz-content-sha256']?.[0] ?? '';
    if (!payloadHash) throw s3Errors.invalidRequest('Missing required header for this request: x-amz-content-sha256');
  } else if (isPresigned) {
    if (queryValue('X-Amz-Algorithm') !== algorithm)
      throw s3Errors.invalidRequest('X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
    const credential = queryValue('X-Amz-Credential');
    const amzDate = queryValue('X-Amz-Date');
    const signedHeaders = queryValue('X-Amz-SignedHeaders');
    const signature = queryValue('X-Amz-Signature');
    const expires = Number(queryValue('X-Amz-Expires'));
    if (!credential || !amzDate || !signedHeaders || !signature || !Number.isInteger(expires)) {
      throw new S3Error(
        400,
        'AuthorizationQueryParametersError',
        'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
      );
    }
    if (expires < 1 || expires > 604_800) {
      throw new S3Error(400, 'AuthorizationQueryParametersError', 'X-Amz-Expires must be between 1 and 604800 seconds');
    }
    parts = { ...parseCredential(credential), signedHeaders: signedHeaders.split(';'), signature, amzDate };
    const signedAt = parseAmzDate(amzDate);
    if (Number.isNaN(signedAt))
      throw new S3Error(
        400,
        'AuthorizationQueryParametersError',
        `X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd'T'HHmmss'Z'", got ${amzDate}`,
      );
    if (options.now() > signedAt + expires * 1000) {
      throw new S3Error(403, 'AccessDenied', 'Request has expired', {
        'X-Amz-Expires': String(expires),
        Expires: new Date(signedAt + expires * 1000).toISOString(),
        ServerTime: new Date(options.now()).toISOString(),
      });
    }
    payloadHash = queryValue('X-Amz-Content-Sha256') ?? 'UNSIGNED-PAYLOAD';
    signedQuery = query.filter(([name]) => name !== 'X-Amz-Signature');
  } else {
    throw s3Errors.accessDenied();
  }

  if (parts.region !== options.region) {
    throw new S3Error(
      400,
      'AuthorizationHeaderMalformed',
      `The authorization header is malformed; the region '${parts.region}' is wrong; expecting '${options.region}'`,
      { Region: options.region },
    );
  }
  if (parts.service !== 's3') {
    throw new S3Error(
      400,
      'AuthorizationHeaderMalformed',
      `The authorization header is malformed; incorrect service "${parts.service}". This endpoint belongs to "s3".`,
    );
  }
  const secret = options.findSecret(parts.accessKeyId);
  if (secret === undefined) throw s3Errors.invalidAccessKeyId();

  const canonicalRequest = [
    request.method,
    canonicalUri(rawPath),
    canonicalQuery(signedQuery),
    canonicalHeaders(request.headers, parts.signedHeaders),
    parts.signedHeaders.join(';'),
    payloadHash,
  ].join('\n');
  const stringToSign = [algorithm, parts.amzDate, parts.scope, sha256Hex(canonicalRequest)].join('\n');
  let key = hmac(`AWS4${secret}`, parts.scopeDate);
  for (const element of [parts.region, parts.service, 'aws4_request']) key = hmac(key, element);
  const expected = createHmac('sha256', key).update(stringToSign, 'utf8').digest();
  const provided = Buffer.from(parts.signature, 'hex');
  if (provided.length !== expected.length || !timingSafeEqual(provided, expected)) {
    throw s3Errors.signatureDoesNotMatch({
      AWSAccessKeyId: parts.accessKeyId,
      StringToSign: stringToSign,
      SignatureProvided: parts.signature,
      CanonicalRequest: canonicalRequest,
    });
  }
  return { accessKeyId: parts.accessKeyId, payloadHash, isPresigned };
}
