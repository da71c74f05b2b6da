import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { httpStatusOfError } from '../../src/api/errors.js';
import { loadConfig } from '../../src/config/config.js';
import { openS3Credentials, sealS3Credentials, storedS3Source } from '../../src/copy/s3-source.js';
import { AppError } from '../../src/domain/errors.js';
import {
  awsRegionalEndpoint,
  bucketRegionLookupUrl,
  chooseAwsAddressing,
  encodeObjectKey,
  fullObjectCrc32c,
  hasDotSegment,
  normalizeS3Endpoint,
  parseS3Error,
  s3ErrorToAppError,
  s3ObjectUrl,
  s3SourceUrl,
} from '../../src/domain/s3-object.js';
import { openSecret, sealSecret } from '../../src/domain/secret-box.js';

const object = { bucket: 'masters', objectKey: 'season 1/ep1.mov' };

describe('S3 addressing', () => {
  it('addresses an AWS bucket whose name is one DNS label virtual-hosted', () => {
    expect(chooseAwsAddressing('my-bucket-01')).toBe('virtual-hosted');
    expect(
      s3ObjectUrl({
        endpoint: awsRegionalEndpoint('eu-west-1'),
        region: 'eu-west-1',
        bucket: 'my-bucket-01',
        objectKey: 'a/b c.mov',
        addressing: 'virtual-hosted',
      }),
    ).toBe('https://my-bucket-01.s3.eu-west-1.amazonaws.com/a/b%20c.mov');
  });

  it('addresses an AWS bucket with dots, upper-case letters or underscores path-style', () => {
    expect(chooseAwsAddressing('media.example.com')).toBe('path');
    expect(chooseAwsAddressing('Legacy_Bucket')).toBe('path');
    expect(
      s3ObjectUrl({
        endpoint: awsRegionalEndpoint('us-east-2'),
        region: 'us-east-2',
        bucket: 'media.example.com',
        objectKey: 'x.mp4',
        addressing: 'path',
      }),
    ).toBe('https://s3.us-east-2.amazonaws.com/media.example.com/x.mp4');
  });

  it('addresses a self-hosted endpoint path-style, under its path prefix and port', () => {
    expect(
      s3ObjectUrl({
        endpoint: 'https://minio.internal:9000/s3',
        region: 'us-east-1',
        bucket: 'raw',
        objectKey: '/lead/slash//double.mov',
        addressing: 'path',
      }),
    ).toBe('https://minio.internal:9000/s3/raw//lead/slash//double.mov');
  });

  it('encodes every byte of a key but the unreserved characters and /', () => {
    expect(encodeObjectKey("a b+c=d&e?f#g%h!i'j(k)l*m~n_o-p.q/ü")).toBe(
      'a%20b%2Bc%3Dd%26e%3Ff%23g%25h%21i%27j%28k%29l%2Am~n_o-p.q/%C3%BC',
    );
  });

  it.each(['..', '.', '../other-bucket/x', 'a/../../b', 'a/./b', 'a/..', 'x/.'])(
    'refuses to address the key %j, whose dot segments would climb out of the bucket',
    (objectKey) => {
      expect(hasDotSegment(objectKey)).toBe(true);
      for (const addressing of ['path', 'virtual-hosted'] as const) {
        const build = () =>
          s3ObjectUrl({
            endpoint: 'https://minio.internal:9000/s3',
            region: 'us-east-1',
            bucket: 'raw',
            objectKey,
            addressing,
          });
        expect(build).toThrow(AppError);
        expect(build).toThrow(
          'the request is not valid: objectKey: must not have a . or .. segment: URL parsers resolve them as path steps, which would leave the bucket',
        );
      }
    },
  );

  it.each([
    ['a/%2e%2e/b', 'https://minio.internal:9000/s3/raw/a/%252e%252e/b'],
    ['%2E%2E', 'https://minio.internal:9000/s3/raw/%252E%252E'],
    ['...', 'https://minio.internal:9000/s3/raw/...'],
    ['..a/b..', 'https://minio.internal:9000/s3/raw/..a/b..'],
    ['a\\..\\b', 'https://minio.internal:9000/s3/raw/a%5C..%5Cb'],
  ])('encodes the key %j so that no URL parser reads a dot segment in it', (objectKey, url) => {
    expect(hasDotSegment(objectKey)).toBe(false);
    const built = s3ObjectUrl({
      endpoint: 'https://minio.internal:9000/s3',
      region: 'us-east-1',
      bucket: 'raw',
      objectKey,
      addressing: 'path',
    });
    expect(built).toBe(url);
    // WHATWG URL parsing (undici's too) keeps it under the bucket, unchanged.
    expect(new URL(built).href).toBe(url);
  });

  it("asks the global endpoint for a bucket's region", () => {
    expect(bucketRegionLookupUrl('my-bucket')).toBe('https://s3.amazonaws.com/my-bucket');
  });

  it('refuses a region that is not a region name', () => {
    expect(() => awsRegionalEndpoint('evil.com/x')).toThrow(AppError);
    expect(awsRegionalEndpoint('ap-southeast-2')).toBe('https://s3.ap-southeast-2.amazonaws.com');
  });

  it('shows the source as s3://bucket/key', () => {
    expect(s3SourceUrl('masters', 'season 1/ep1.mov')).toBe('s3://masters/season 1/ep1.mov');
  });
});

describe('S3 endpoints', () => {
  it('normalizes an endpoint to its origin and path without a trailing slash', () => {
    expect(normalizeS3Endpoint('https://MinIO.Example.net:9000/')).toBe('https://minio.example.net:9000');
    expect(normalizeS3Endpoint('https://minio.example.net:443/prefix/')).toBe('https://minio.example.net/prefix');
  });

  it('refuses http, user info, a query or a fragment', () => {
    expect(normalizeS3Endpoint('http://minio.example.net')).toBeNull();
    expect(normalizeS3Endpoint('https://user:pw@minio.example.net')).toBeNull();
    expect(normalizeS3Endpoint('https://minio.example.net/?x=1')).toBeNull();
    expect(normalizeS3Endpoint('https://minio.example.net/#x')).toBeNull();
    expect(normalizeS3Endpoint('not a url')).toBeNull();
  });

  it('reads the allow-list and default region from the environment', () => {
    const config = loadConfig(
      {
        REELIN_S3_IMPORT_ENDPOINTS: 'https://minio.example.net:9000/, https://r2.example.com',
        REELIN_S3_IMPORT_REGION: 'auto',
      },
      '/srv',
    );
    expect(config.s3Import).toEqual({
      endpoints: ['https://minio.example.net:9000', 'https://r2.example.com'],
      defaultRegion: 'auto',
    });
    expect(loadConfig({}, '/srv').s3Import).toEqual({ endpoints: [], defaultRegion: 'us-east-1' });
  });

  it('refuses an endpoint list with an http entry, naming it', () => {
    expect(() =>
      loadConfig({ REELIN_S3_IMPORT_ENDPOINTS: 'https://ok.example.net,http://plain.example.net' }, '/srv'),
    ).toThrow(/REELIN_S3_IMPORT_ENDPOINTS: "http:\/\/plain.example.net" is not an https:\/\/ base URL/);
  });
});

describe('the checksum S3 keeps for an object', () => {
  // CRC32C of "123456789" is 0xE3069283.
  const checksum = Buffer.from([0xe3, 0x06, 0x92, 0x83]).toString('base64');

  it("is the object's CRC32C when it is of the FULL_OBJECT type", () => {
    expect(fullObjectCrc32c(checksum, 'FULL_OBJECT')).toBe(0xe3069283);
  });

  it('is the CRC32C of a single-part object when the server states no type', () => {
    expect(fullObjectCrc32c(checksum, null)).toBe(0xe3069283);
  });

  it('is ignored when it is COMPOSITE, has a part count, is missing or malformed', () => {
    expect(fullObjectCrc32c(checksum, 'COMPOSITE')).toBeNull();
    expect(fullObjectCrc32c(`${checksum}-3`, null)).toBeNull();
    expect(fullObjectCrc32c(null, 'FULL_OBJECT')).toBeNull();
    expect(fullObjectCrc32c('AAAAAAA=', 'FULL_OBJECT')).toBeNull();
  });
});

describe('S3 errors', () => {
  const body = (code: string, message = 'x') =>
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>1</RequestId></Error>`;

  it("replaces NUL characters of a server's error, which is stored with the import, by U+FFFD", () => {
    expect(parseS3Error(body('Slow\u0000Down', 'try\u0000again'))).toEqual({
      code: 'Slow\uFFFDDown',
      message: 'try\uFFFDagain',
    });
  });

  it('reads the code and message of an XML error', () => {
    expect(parseS3Error(body('NoSuchKey', 'The specified key does not exist.'))).toEqual({
      code: 'NoSuchKey',
      message: 'The specified key does not exist.',
    });
    expect(parseS3Error(body('AccessDenied', 'a &amp; b &lt;c&gt;'))).toEqual({
      code: 'AccessDenied',
      message: 'a & b <c>',
    });
    expect(parseS3Error('')).toBeNull();
    expect(parseS3Error('<html>502</html>')).toBeNull();
  });

  it.each([
    ['NoSuchBucket', 404, 'RESOURCE_NOT_FOUND', 404, 'the bucket masters does not exist'],
    ['NoSuchKey', 404, 'RESOURCE_NOT_FOUND', 404, 'the object "season 1/ep1.mov" in the bucket masters does not exist'],
    [
      'InvalidAccessKeyId',
      403,
      'INVALID_CREDENTIALS',
      400,
      'S3 does not know the access key in s3Bucket.accessKey: check that it is an active access key of this S3 service',
    ],
    [
      'SignatureDoesNotMatch',
      403,
      'INVALID_CREDENTIALS',
      400,
      'S3 refused the request signature: s3Bucket.secretAccessKey is not the secret of s3Bucket.accessKey',
    ],
    [
      'AccessDenied',
      403,
      'ACCESS_DENIED',
      400,
      'the credentials may not read the object "season 1/ep1.mov" in the bucket masters: they need s3:GetObject on it',
    ],
    [
      'PermanentRedirect',
      301,
      'VALIDATION_ERROR',
      400,
      'the bucket masters is not in the region the request was signed for',
    ],
    [
      'AuthorizationHeaderMalformed',
      400,
      'VALIDATION_ERROR',
      400,
      'the bucket masters is not in the region the request was signed for',
    ],
    [
      'InternalError',
      500,
      'RESOLVE_OBJECT_METADATA_ERROR',
      400,
      'S3 answered 500 InternalError (We encountered an internal error.) to a request for the object "season 1/ep1.mov" in the bucket masters',
    ],
  ])('maps %s (%i) to %s answered %i', (code, status, errorCode, httpStatus, message) => {
    const error = s3ErrorToAppError(
      { status, code, message: code === 'InternalError' ? 'We encountered an internal error.' : 'S3 said so' },
      object,
    );
    expect(error.code).toBe(errorCode);
    expect(httpStatusOfError(error)).toBe(httpStatus);
    expect(error.message).toBe(message);
    expect(error.details).toMatchObject({ status, s3ErrorCode: code, bucket: 'masters' });
  });

  it('names s3Bucket.region when the bucket is in another region', () => {
    expect(
      s3ErrorToAppError({ status: 301, code: 'PermanentRedirect', message: null }, object).validationErrors,
    ).toEqual([
      {
        field: 's3Bucket.region',
        value: null,
        message: "is not the bucket's region; leave it out to have it looked up",
      },
    ]);
  });

  it('maps a body-less 404 and 403 by their status', () => {
    expect(s3ErrorToAppError({ status: 404, code: null, message: null }, object).code).toBe('RESOURCE_NOT_FOUND');
    const forbidden = s3ErrorToAppError({ status: 403, code: null, message: null }, object);
    expect([forbidden.code, httpStatusOfError(forbidden)]).toEqual(['ACCESS_DENIED', 400]);
  });

  it("keeps 401 and 403 for the caller's own credentials", () => {
    expect(httpStatusOfError(new AppError('INVALID_CREDENTIALS', 'x'))).toBe(401);
    expect(httpStatusOfError(new AppError('ACCESS_DENIED', 'x'))).toBe(403);
  });
});

describe('stored S3 credentials', () => {
  const kek = randomBytes(32);
  const credentials = { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'very/secret+KEY' };

  it('are sealed so the secret does not appear in what is stored, and open with the same key', () => {
    const sealed = sealS3Credentials(credentials, kek);
    expect(sealed).toMatch(/^v1\.[A-Za-z0-9+/=]+\.[A-Za-z0-9+/=]+\.[A-Za-z0-9+/=]+$/);
    expect(sealed).not.toContain('secret');
    expect(Buffer.from(sealed.split('.')[3] ?? '', 'base64').toString('utf8')).not.toContain(
      credentials.secretAccessKey,
    );
    expect(openS3Credentials(sealed, kek)).toEqual(credentials);
    expect(sealS3Credentials(credentials, kek)).not.toBe(sealed);
  });

  it('do not open under another key-encryption key, and the error names the setting', () => {
    const sealed = sealS3Credentials(credentials, kek);
    expect(() => openS3Credentials(sealed, randomBytes(32))).toThrow(/REELIN_WEBHOOK_KEY_ENCRYPTION_KEY/);
    expect(() => openS3Credentials(null, kek)).toThrow(/no longer stored/);
  });

  it('come back with the stored object', () => {
    const stored = storedS3Source(
      {
        s3Endpoint: 'https://s3.eu-west-1.amazonaws.com',
        s3Region: 'eu-west-1',
        s3Bucket: 'b',
        s3ObjectKey: 'k',
        s3Addressing: 'virtual-hosted',
        sourceCredentials: sealS3Credentials(credentials, kek),
      },
      kek,
    );
    expect(stored).toEqual({
      location: {
        endpoint: 'https://s3.eu-west-1.amazonaws.com',
        region: 'eu-west-1',
        bucket: 'b',
        objectKey: 'k',
        addressing: 'virtual-hosted',
      },
      credentials,
    });
  });

  it('use the secret box the webhook signing keys use, which detects tampering', () => {
    const sealed = sealSecret(Buffer.from('abc'), kek);
    expect(openSecret(sealed, kek).toString()).toBe('abc');
    const [version, iv, tag, ciphertext] = sealed.split('.');
    const flipped = Buffer.from(ciphertext ?? '', 'base64');
    flipped[0] = (flipped[0] ?? 0) ^ 1;
    expect(() => openSecret([version, iv, tag, flipped.toString('base64')].join('.'), kek)).toThrow();
  });
});
