import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createS3RequestSigner, EMPTY_BODY_SHA256 } from '../../src/copy/s3-signer.js';
import { encodeObjectKey } from '../../src/domain/s3-object.js';

// The example key pair of AWS's documentation ("Signature calculations for the Authorization header").
const credentials = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
};
const signingDate = new Date('2013-05-24T00:00:00Z');

/** SigV4 written out from the specification, to check the signer on inputs AWS's example does not cover. */
function referenceSignature(input: {
  method: string;
  path: string;
  headers: Record<string, string>;
  region: string;
  date: string;
}): string {
  const names = Object.keys(input.headers)
    .map((name) => name.toLowerCase())
    .sort();
  const lower = Object.fromEntries(
    Object.entries(input.headers).map(([name, value]) => [name.toLowerCase(), value.trim()]),
  );
  const canonical = [
    input.method,
    input.path,
    '',
    ...names.map((name) => `${name}:${lower[name]}`),
    '',
    names.join(';'),
    EMPTY_BODY_SHA256,
  ].join('\n');
  const day = input.date.slice(0, 8);
  const scope = `${day}/${input.region}/s3/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', input.date, scope, createHash('sha256').update(canonical).digest('hex')].join(
    '\n',
  );
  let key: Buffer = createHmac('sha256', `AWS4${credentials.secretAccessKey}`).update(day).digest();
  for (const part of [input.region, 's3', 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
  return createHmac('sha256', key).update(toSign).digest('hex');
}

describe('S3 request signing', () => {
  it("computes the signature of AWS's documented GET Object example", async () => {
    const sign = createS3RequestSigner({ credentials, region: 'us-east-1', now: () => signingDate });
    const headers = await sign({
      method: 'GET',
      url: new URL('https://examplebucket.s3.amazonaws.com/test.txt'),
      headers: { range: 'bytes=0-9' },
    });
    expect(headers.authorization).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
    );
    expect(headers['x-amz-date']).toBe('20130524T000000Z');
    expect(headers['x-amz-content-sha256']).toBe(EMPTY_BODY_SHA256);
    expect(headers.host).toBe('examplebucket.s3.amazonaws.com');
    expect(headers.range).toBe('bytes=0-9');
  });

  it('signs Range, If-Match and Host with a port, and leaves User-Agent unsigned', async () => {
    const sign = createS3RequestSigner({ credentials, region: 'eu-west-1', now: () => signingDate });
    const url = new URL('https://minio.example.net:9443/media/masters/a.mov');
    const headers = await sign({
      method: 'GET',
      url,
      headers: {
        range: 'bytes=8-15',
        'if-match': '"abc"',
        'user-agent': 'reelin-video-intake',
        'accept-encoding': 'identity',
      },
    });
    expect(headers.host).toBe('minio.example.net:9443');
    expect(headers.authorization).toContain(
      'SignedHeaders=accept-encoding;host;if-match;range;x-amz-content-sha256;x-amz-date,',
    );
    const expected = referenceSignature({
      method: 'GET',
      path: '/media/masters/a.mov',
      headers: {
        'accept-encoding': 'identity',
        host: 'minio.example.net:9443',
        'if-match': '"abc"',
        range: 'bytes=8-15',
        'x-amz-content-sha256': EMPTY_BODY_SHA256,
        'x-amz-date': '20130524T000000Z',
      },
      region: 'eu-west-1',
      date: '20130524T000000Z',
    });
    expect(headers.authorization).toBe(
      `AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/eu-west-1/s3/aws4_request, SignedHeaders=accept-encoding;host;if-match;range;x-amz-content-sha256;x-amz-date, Signature=${expected}`,
    );
  });

  it('signs a key with spaces, plus signs and non-ASCII characters as it is sent: encoded once', async () => {
    const key = 'Season 1/ep+01 (final) é.mov';
    const path = `/bucket/${encodeObjectKey(key)}`;
    expect(path).toBe('/bucket/Season%201/ep%2B01%20%28final%29%20%C3%A9.mov');
    const sign = createS3RequestSigner({ credentials, region: 'us-east-1', now: () => signingDate });
    const headers = await sign({
      method: 'HEAD',
      url: new URL(`https://s3.example.org${path}`),
      headers: { 'x-amz-checksum-mode': 'ENABLED' },
    });
    const expected = referenceSignature({
      method: 'HEAD',
      path,
      headers: {
        host: 's3.example.org',
        'x-amz-checksum-mode': 'ENABLED',
        'x-amz-content-sha256': EMPTY_BODY_SHA256,
        'x-amz-date': '20130524T000000Z',
      },
      region: 'us-east-1',
      date: '20130524T000000Z',
    });
    expect(headers.authorization?.endsWith(`Signature=${expected}`)).toBe(true);
  });

  it('signs every call at the time of the call', async () => {
    let now = signingDate;
    const sign = createS3RequestSigner({ credentials, region: 'us-east-1', now: () => now });
    const url = new URL('https://examplebucket.s3.amazonaws.com/test.txt');
    const first = await sign({ method: 'GET', url, headers: { range: 'bytes=0-9' } });
    now = new Date('2013-05-24T00:20:00Z');
    const second = await sign({ method: 'GET', url, headers: { range: 'bytes=0-9' } });
    expect(second['x-amz-date']).toBe('20130524T002000Z');
    expect(second.authorization).not.toBe(first.authorization);
  });

  it('never puts the secret in the headers it returns', async () => {
    const sign = createS3RequestSigner({ credentials, region: 'us-east-1', now: () => signingDate });
    const headers = await sign({
      method: 'GET',
      url: new URL('https://examplebucket.s3.amazonaws.com/test.txt'),
      headers: {},
    });
    expect(JSON.stringify(headers)).not.toContain(credentials.secretAccessKey);
  });
});
