import { describe, expect, it } from 'vitest';
import { locateS3Object, probeS3Object } from '../../src/copy/s3-source.js';
import type {
  OutboundClient,
  OutboundRequest,
  OutboundResponse,
  PinnedPool,
  PinnedTarget,
} from '../../src/net/outbound-client.js';

// A scripted outbound client: each request is answered by `answer` for its URL and method, and
// every request is recorded with the URL it went to. No I/O.
interface Sent {
  url: string;
  method: string;
  headers: Record<string, string>;
}
type Answer = { statusCode: number; headers?: Record<string, string>; body?: string };

function scriptedClient(answer: (sent: Sent) => Answer): { client: OutboundClient; sent: Sent[] } {
  const sent: Sent[] = [];
  const target = (url: string): PinnedTarget => {
    const parsed = new URL(url);
    return { url: parsed, hostname: parsed.hostname, port: 443, addresses: ['52.95.1.1'] };
  };
  const pool = (pinned: PinnedTarget): PinnedPool => ({
    target: pinned,
    async request(request: OutboundRequest): Promise<OutboundResponse> {
      const record = { url: pinned.url.toString(), method: request.method ?? 'GET', headers: request.headers };
      sent.push(record);
      const { statusCode, headers = {}, body = '' } = answer(record);
      const bytes = Buffer.from(body);
      const stream = (async function* () {
        if (bytes.length > 0) yield bytes;
      })();
      const responseBody = Object.assign(stream, { dump: async () => undefined, destroy: () => undefined });
      return { statusCode, headers, body: responseBody } as unknown as OutboundResponse;
    },
    async stream() {
      throw new Error('the probe does not stream');
    },
    async close() {},
  });
  const client = {
    pin: async (url: string) => target(url),
    openPool: (pinned: PinnedTarget) => pool(pinned),
  } as unknown as OutboundClient;
  return { client, sent };
}

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret/EXAMPLE+key' };
const awsObject = { endpoint: null, region: null, bucket: 'my-media', objectKey: 'masters/ep 1.mov' };
const xmlError = (code: string) =>
  `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>m</Message></Error>`;

describe('locating an S3 object', () => {
  it("asks AWS for an AWS bucket's region with an unsigned HEAD, and reads it from a 301", async () => {
    const { client, sent } = scriptedClient(() => ({
      statusCode: 301,
      headers: { 'x-amz-bucket-region': 'eu-central-1' },
    }));
    const location = await locateS3Object(client, awsObject, 'us-east-1');
    expect(location).toEqual({
      endpoint: 'https://s3.eu-central-1.amazonaws.com',
      region: 'eu-central-1',
      bucket: 'my-media',
      objectKey: 'masters/ep 1.mov',
      addressing: 'virtual-hosted',
    });
    expect(sent).toEqual([
      { url: 'https://s3.amazonaws.com/my-media', method: 'HEAD', headers: { 'user-agent': 'reelin-video-intake' } },
    ]);
  });

  it('reads the region from a 403 too', async () => {
    const { client } = scriptedClient(() => ({ statusCode: 403, headers: { 'x-amz-bucket-region': 'ap-south-1' } }));
    expect((await locateS3Object(client, { ...awsObject, bucket: 'media.example.com' }, 'us-east-1')).endpoint).toBe(
      'https://s3.ap-south-1.amazonaws.com',
    );
  });

  it('answers 404 RESOURCE_NOT_FOUND when AWS has no such bucket', async () => {
    const { client } = scriptedClient(() => ({ statusCode: 404 }));
    await expect(locateS3Object(client, awsObject, 'us-east-1')).rejects.toMatchObject({
      code: 'RESOURCE_NOT_FOUND',
      message: 'the bucket my-media does not exist',
    });
  });

  it('asks nothing when the region is given, or for a self-hosted endpoint', async () => {
    const { client, sent } = scriptedClient(() => ({ statusCode: 500 }));
    expect((await locateS3Object(client, { ...awsObject, region: 'us-west-2' }, 'us-east-1')).endpoint).toBe(
      'https://s3.us-west-2.amazonaws.com',
    );
    expect(await locateS3Object(client, { ...awsObject, endpoint: 'https://minio.example.net' }, 'eu-1')).toEqual({
      endpoint: 'https://minio.example.net',
      region: 'eu-1',
      bucket: 'my-media',
      objectKey: 'masters/ep 1.mov',
      addressing: 'path',
    });
    expect(sent).toEqual([]);
  });
});

describe('probing an S3 object', () => {
  const location = {
    endpoint: 'https://s3.eu-west-1.amazonaws.com',
    region: 'eu-west-1',
    bucket: 'my-media',
    objectKey: 'masters/ep 1.mov',
    addressing: 'virtual-hosted' as const,
  };
  const objectHeaders = {
    'content-length': '123456',
    etag: '"9b2cf535f27731c974343645a3985328"',
    'last-modified': 'Wed, 21 Oct 2015 07:28:00 GMT',
    'content-type': 'video/quicktime',
    'x-amz-checksum-crc32c': Buffer.from([0xe3, 0x06, 0x92, 0x83]).toString('base64'),
    'x-amz-checksum-type': 'FULL_OBJECT',
  };

  it('reads size, validators and the full-object CRC32C from a signed HEAD with checksum mode', async () => {
    const { client, sent } = scriptedClient(() => ({ statusCode: 200, headers: objectHeaders }));
    const info = await probeS3Object(client, location, credentials);
    expect(info).toEqual({
      fetchUrl: 'https://my-media.s3.eu-west-1.amazonaws.com/masters/ep%201.mov',
      addresses: ['52.95.1.1'],
      totalBytes: 123456,
      etag: '"9b2cf535f27731c974343645a3985328"',
      lastModified: 'Wed, 21 Oct 2015 07:28:00 GMT',
      contentType: 'video/quicktime',
      crc32c: 0xe3069283,
    });
    expect(sent).toHaveLength(1);
    expect(sent[0]?.method).toBe('HEAD');
    expect(sent[0]?.headers['x-amz-checksum-mode']).toBe('ENABLED');
    expect(sent[0]?.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/s3\/aws4_request, SignedHeaders=host;x-amz-checksum-mode;x-amz-content-sha256;x-amz-date, /,
    );
  });

  it('ignores a COMPOSITE checksum', async () => {
    const { client } = scriptedClient(() => ({
      statusCode: 200,
      headers: { ...objectHeaders, 'x-amz-checksum-type': 'COMPOSITE' },
    }));
    expect((await probeS3Object(client, location, credentials)).crc32c).toBeNull();
  });

  it('refuses an object over 500 GB, naming objectKey', async () => {
    const { client } = scriptedClient(() => ({
      statusCode: 200,
      headers: { ...objectHeaders, 'content-length': '500000000001' },
    }));
    const error = await probeS3Object(client, location, credentials).catch((caught: unknown) => caught);
    expect(error).toMatchObject({
      code: 'VALIDATION_ERROR',
      message: 'the object is 500000000001 bytes; at most 500000000000 bytes (500 GB) can be imported',
      validationErrors: [
        {
          field: 'objectKey',
          value: 'masters/ep 1.mov',
          message: 'the object is larger than 500 GB (500000000001 bytes)',
        },
      ],
    });
  });

  it('accepts an object of exactly 500 GB', async () => {
    const { client } = scriptedClient(() => ({
      statusCode: 200,
      headers: { ...objectHeaders, 'content-length': '500000000000' },
    }));
    expect((await probeS3Object(client, location, credentials)).totalBytes).toBe(500_000_000_000);
  });

  it('refuses an empty object with NO_CONTENT', async () => {
    const { client } = scriptedClient(() => ({
      statusCode: 200,
      headers: { ...objectHeaders, 'content-length': '0' },
    }));
    await expect(probeS3Object(client, location, credentials)).rejects.toMatchObject({ code: 'NO_CONTENT' });
  });

  it.each([
    ['NoSuchKey', 404, 'RESOURCE_NOT_FOUND'],
    ['NoSuchBucket', 404, 'RESOURCE_NOT_FOUND'],
    ['SignatureDoesNotMatch', 403, 'INVALID_CREDENTIALS'],
    ['InvalidAccessKeyId', 403, 'INVALID_CREDENTIALS'],
    ['AccessDenied', 403, 'ACCESS_DENIED'],
  ])('asks a signed one-byte GET why a HEAD failed: %s', async (code, status, errorCode) => {
    const { client, sent } = scriptedClient((request) =>
      request.method === 'HEAD' ? { statusCode: status } : { statusCode: status, body: xmlError(code) },
    );
    const error = await probeS3Object(client, location, credentials).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: errorCode, details: { status, s3ErrorCode: code } });
    expect(JSON.stringify(error)).not.toContain(credentials.secretAccessKey);
    expect((error as Error).message).not.toContain(credentials.secretAccessKey);
    expect(sent.map((request) => [request.method, request.headers.range ?? null])).toEqual([
      ['HEAD', null],
      ['GET', 'bytes=0-0'],
    ]);
    expect(sent[1]?.headers.authorization).toContain(
      'SignedHeaders=accept-encoding;host;range;x-amz-content-sha256;x-amz-date,',
    );
  });
});
