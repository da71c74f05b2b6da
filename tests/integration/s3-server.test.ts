import { Sha256 } from '@aws-crypto/sha256-js';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { crc32c } from '@node-rs/crc32';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { SignatureV4 } from '@smithy/signature-v4';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { Agent as HttpsAgent } from 'node:https';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startS3TestServer, type S3TestServer } from '../support/s3-server.js';
import { createTestPki } from '../support/test-pki.js';

const MiB = 1024 * 1024;
let server: S3TestServer;
let client: S3Client;
let bucketCounter = 0;

function clientFor(target: S3TestServer, overrides: Partial<S3ClientConfig> = {}): S3Client {
  return new S3Client({
    endpoint: target.endpoint,
    region: target.region,
    forcePathStyle: true,
    credentials: target.credentials,
    ...overrides,
  });
}

/** A fresh bucket per test, so tests never see each other's objects or uploads. */
async function freshBucket(): Promise<string> {
  bucketCounter += 1;
  const name = `bucket-${bucketCounter}`;
  await server.createBucket(name);
  return name;
}

/** The S3 error a promise rejects with: code, HTTP status, message. */
async function s3Failure(
  promise: Promise<unknown>,
): Promise<{ code: string; status: number | undefined; message: string }> {
  try {
    await promise;
  } catch (error) {
    const failure = error as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { code: failure.name, status: failure.$metadata?.httpStatusCode, message: failure.message };
  }
  throw new Error('expected the request to fail');
}

function crc32cBase64(data: Buffer): string {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(crc32c(data));
  return bytes.toString('base64');
}

/** Large buffers are compared by digest: vitest's deep equality walks them byte by byte, slowly. */
function md5Hex(data: Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

beforeAll(async () => {
  server = await startS3TestServer();
  client = clientFor(server);
});

afterAll(async () => {
  client?.destroy();
  await server?.close();
});

describe('objects', () => {
  it('stores, reads whole and by range, heads, lists and deletes an object', async () => {
    const bucket = await freshBucket();
    const content = randomBytes(100_000);
    const put = await client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'videos/a b+c.mp4',
        Body: content,
        ContentType: 'video/mp4',
        ChecksumAlgorithm: 'CRC32C',
      }),
    );
    expect(put.ETag).toBe(`"${md5Hex(content)}"`);
    expect(put.ChecksumCRC32C).toBe(crc32cBase64(content));

    const whole = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'videos/a b+c.mp4' }));
    expect(md5Hex(Buffer.from(await whole.Body!.transformToByteArray()))).toBe(md5Hex(content));
    expect(whole.ContentType).toBe('video/mp4');
    expect(whole.ContentLength).toBe(100_000);

    const range = await client.send(
      new GetObjectCommand({ Bucket: bucket, Key: 'videos/a b+c.mp4', Range: 'bytes=1000-1999' }),
    );
    expect(range.$metadata.httpStatusCode).toBe(206);
    expect(range.ContentRange).toBe('bytes 1000-1999/100000');
    expect(Buffer.from(await range.Body!.transformToByteArray())).toEqual(content.subarray(1000, 2000));

    const suffix = await client.send(
      new GetObjectCommand({ Bucket: bucket, Key: 'videos/a b+c.mp4', Range: 'bytes=-10' }),
    );
    expect(suffix.ContentRange).toBe('bytes 99990-99999/100000');

    expect(
      await s3Failure(
        client.send(new GetObjectCommand({ Bucket: bucket, Key: 'videos/a b+c.mp4', Range: 'bytes=100000-' })),
      ),
    ).toMatchObject({ code: 'InvalidRange', status: 416 });

    const head = await client.send(
      new HeadObjectCommand({ Bucket: bucket, Key: 'videos/a b+c.mp4', ChecksumMode: 'ENABLED' }),
    );
    expect(head).toMatchObject({
      ContentLength: 100_000,
      ETag: `"${md5Hex(content)}"`,
      ChecksumCRC32C: crc32cBase64(content),
      ChecksumType: 'FULL_OBJECT',
    });
    expect(head.LastModified).toBeInstanceOf(Date);
    const headWithoutMode = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'videos/a b+c.mp4' }));
    expect(headWithoutMode.ChecksumCRC32C).toBeUndefined();

    const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
    expect(listed.Contents?.map((object) => [object.Key, object.Size])).toEqual([['videos/a b+c.mp4', 100_000]]);

    const deleted = await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'videos/a b+c.mp4' }));
    expect(deleted.$metadata.httpStatusCode).toBe(204);
    expect(
      await s3Failure(client.send(new GetObjectCommand({ Bucket: bucket, Key: 'videos/a b+c.mp4' }))),
    ).toMatchObject({ code: 'NoSuchKey', status: 404 });
    expect(
      await s3Failure(client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'videos/a b+c.mp4' }))),
    ).toMatchObject({ code: 'NotFound', status: 404 });
    expect(
      (await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'never-there' }))).$metadata.httpStatusCode,
    ).toBe(204);
    expect(await server.objectBytes(bucket, 'videos/a b+c.mp4')).toBeNull();
  });

  it('accepts a stream body sent aws-chunked with a CRC32C trailer', async () => {
    const bucket = await freshBucket();
    const chunks = [randomBytes(70_000), randomBytes(1), randomBytes(200_000)];
    const content = Buffer.concat(chunks);
    const put = await client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'streamed',
        Body: Readable.from(chunks),
        ContentLength: content.length,
        ChecksumAlgorithm: 'CRC32C',
      }),
    );
    expect(put.ChecksumCRC32C).toBe(crc32cBase64(content));
    expect(md5Hex((await server.objectBytes(bucket, 'streamed'))!)).toBe(md5Hex(content));
  });

  it('pages ListObjectsV2 by prefix, max-keys and continuation token', async () => {
    const bucket = await freshBucket();
    for (const key of ['a/1', 'a/2', 'a/3', 'a/4', 'a/5', 'b/1'])
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
    const first = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'a/', MaxKeys: 2 }));
    expect(first).toMatchObject({ KeyCount: 2, IsTruncated: true, MaxKeys: 2 });
    expect(first.Contents?.map((object) => object.Key)).toEqual(['a/1', 'a/2']);
    const second = await client.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: 'a/',
        MaxKeys: 2,
        ContinuationToken: first.NextContinuationToken,
      }),
    );
    expect(second.Contents?.map((object) => object.Key)).toEqual(['a/3', 'a/4']);
    const third = await client.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: 'a/',
        MaxKeys: 2,
        ContinuationToken: second.NextContinuationToken,
      }),
    );
    expect(third).toMatchObject({ KeyCount: 1, IsTruncated: false });
    expect(third.Contents?.map((object) => object.Key)).toEqual(['a/5']);
    expect(third.NextContinuationToken).toBeUndefined();
    const grouped = await client.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: '/' }));
    expect(grouped.CommonPrefixes?.map((prefix) => prefix.Prefix)).toEqual(['a/', 'b/']);
    expect(grouped.KeyCount).toBe(2);
  });

  it('deletes several objects with DeleteObjects', async () => {
    const bucket = await freshBucket();
    for (const key of ['x', 'y', 'z']) await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
    const result = await client.send(
      new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: 'x' }, { Key: 'z' }, { Key: 'gone' }] } }),
    );
    expect(result.Deleted?.map((entry) => entry.Key)).toEqual(['x', 'z', 'gone']);
    const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
    expect(listed.Contents?.map((object) => object.Key)).toEqual(['y']);
  });

  it('answers NoSuchBucket for a missing bucket and 404 to HeadBucket', async () => {
    expect(
      await s3Failure(client.send(new PutObjectCommand({ Bucket: 'no-such-bucket', Key: 'k', Body: 'x' }))),
    ).toMatchObject({ code: 'NoSuchBucket', status: 404 });
    expect(await s3Failure(client.send(new ListObjectsV2Command({ Bucket: 'no-such-bucket' })))).toMatchObject({
      code: 'NoSuchBucket',
      status: 404,
    });
    expect(await s3Failure(client.send(new HeadBucketCommand({ Bucket: 'no-such-bucket' })))).toMatchObject({
      code: 'NotFound',
      status: 404,
    });
    const bucket = await freshBucket();
    expect((await client.send(new HeadBucketCommand({ Bucket: bucket }))).$metadata.httpStatusCode).toBe(200);
  });
});

/** A request signed like the SDK does, with a body we build by hand (to send what the SDK won't). */
async function sendSigned(method: string, path: string, headers: Record<string, string>, body: Buffer) {
  const url = new URL(server.endpoint);
  const signer = new SignatureV4({
    service: 's3',
    region: server.region,
    credentials: server.credentials,
    sha256: Sha256,
    uriEscapePath: false,
  });
  const signed = await signer.sign({
    method,
    protocol: url.protocol,
    hostname: url.hostname,
    port: Number(url.port),
    path,
    query: {},
    headers: { ...headers, host: url.host, 'content-length': String(body.length) },
  });
  const response = await request(`${server.endpoint}${path}`, {
    method: method as 'PUT',
    headers: signed.headers,
    body,
  });
  return { status: response.statusCode, body: await response.body.text() };
}

function awsChunked(data: Buffer, trailer: string): Buffer {
  return Buffer.concat([
    Buffer.from(`${data.length.toString(16)}\r\n`),
    data,
    Buffer.from(`\r\n0\r\n${trailer}\r\n\r\n`),
  ]);
}

describe('checksums of request bodies', () => {
  it('refuses an aws-chunked body whose CRC32C trailer is wrong with BadDigest and stores nothing', async () => {
    const bucket = await freshBucket();
    const data = randomBytes(5000);
    const headers = {
      'content-encoding': 'aws-chunked',
      'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
      'x-amz-decoded-content-length': String(data.length),
      'x-amz-trailer': 'x-amz-checksum-crc32c',
    };
    const wrong = await sendSigned(
      'PUT',
      `/${bucket}/bad`,
      headers,
      awsChunked(data, 'x-amz-checksum-crc32c:AAAAAA=='),
    );
    expect(wrong.status).toBe(400);
    expect(wrong.body).toContain('<Code>BadDigest</Code>');
    expect(await server.objectBytes(bucket, 'bad')).toBeNull();

    const right = await sendSigned(
      'PUT',
      `/${bucket}/good`,
      headers,
      awsChunked(data, `x-amz-checksum-crc32c:${crc32cBase64(data)}`),
    );
    expect(right.status).toBe(200);
    expect(await server.objectBytes(bucket, 'good')).toEqual(data);
  });

  it('refuses a plain body whose x-amz-checksum-crc32c header is wrong, and one whose sha256 is wrong', async () => {
    const bucket = await freshBucket();
    const data = Buffer.from('hello world');
    const wrongCrc = await sendSigned(
      'PUT',
      `/${bucket}/k`,
      { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'x-amz-checksum-crc32c': 'AAAAAA==' },
      data,
    );
    expect(wrongCrc.status).toBe(400);
    expect(wrongCrc.body).toContain('<Code>BadDigest</Code>');
    const wrongSha = await sendSigned(
      'PUT',
      `/${bucket}/k`,
      { 'x-amz-content-sha256': createHash('sha256').update('other').digest('hex') },
      data,
    );
    expect(wrongSha.status).toBe(400);
    expect(wrongSha.body).toContain('<Code>XAmzContentSHA256Mismatch</Code>');
    expect(await server.objectBytes(bucket, 'k')).toBeNull();
  });
});

describe('multipart uploads', () => {
  const partSizes = [5 * MiB, 5 * MiB, 1 * MiB + 7];

  async function uploadParts(
    bucket: string,
    key: string,
    content: Buffer,
    sizes: number[],
    checksumType: 'FULL_OBJECT' | 'COMPOSITE' = 'FULL_OBJECT',
  ) {
    const created = await client.send(
      new CreateMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        ChecksumAlgorithm: 'CRC32C',
        ChecksumType: checksumType,
      }),
    );
    expect(created).toMatchObject({ ChecksumAlgorithm: 'CRC32C', ChecksumType: checksumType });
    let offset = 0;
    const parts = await Promise.all(
      sizes.map((size, index) => {
        const body = content.subarray(offset, offset + size);
        offset += size;
        return client
          .send(
            new UploadPartCommand({
              Bucket: bucket,
              Key: key,
              UploadId: created.UploadId,
              PartNumber: index + 1,
              Body: body,
              ChecksumAlgorithm: 'CRC32C',
            }),
          )
          .then((result) => {
            expect(result.ETag).toBe(`"${md5Hex(body)}"`);
            expect(result.ChecksumCRC32C).toBe(crc32cBase64(body));
            return { PartNumber: index + 1, ETag: result.ETag!, ChecksumCRC32C: result.ChecksumCRC32C! };
          });
      }),
    );
    return { uploadId: created.UploadId!, parts };
  }

  it('completes a FULL_OBJECT CRC32C upload checked against the whole content, refusing a wrong CRC first', async () => {
    const bucket = await freshBucket();
    const content = randomBytes(partSizes.reduce((a, b) => a + b));
    const { uploadId, parts } = await uploadParts(bucket, 'movie.mov', content, partSizes);

    const listedParts = await client.send(
      new ListPartsCommand({ Bucket: bucket, Key: 'movie.mov', UploadId: uploadId }),
    );
    expect(listedParts.Parts?.map((part) => [part.PartNumber, part.Size])).toEqual([
      [1, 5 * MiB],
      [2, 5 * MiB],
      [3, MiB + 7],
    ]);

    const wrong = await s3Failure(
      client.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: 'movie.mov',
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
          ChecksumCRC32C: crc32cBase64(Buffer.from('other')),
          ChecksumType: 'FULL_OBJECT',
        }),
      ),
    );
    expect(wrong).toMatchObject({ code: 'BadDigest', status: 400 });
    expect(server.listUploads(bucket).map((upload) => upload.partNumbers)).toEqual([[1, 2, 3]]);

    const completed = await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: 'movie.mov',
        UploadId: uploadId,
        MultipartUpload: { Parts: parts },
        ChecksumCRC32C: crc32cBase64(content),
        ChecksumType: 'FULL_OBJECT',
      }),
    );
    const md5s = Buffer.concat(parts.map((part) => Buffer.from(part.ETag.slice(1, -1), 'hex')));
    expect(completed.ETag).toBe(`"${md5Hex(md5s)}-3"`);
    expect(completed).toMatchObject({ ChecksumCRC32C: crc32cBase64(content), ChecksumType: 'FULL_OBJECT' });
    expect(server.listUploads(bucket)).toEqual([]);

    const head = await client.send(
      new HeadObjectCommand({ Bucket: bucket, Key: 'movie.mov', ChecksumMode: 'ENABLED' }),
    );
    expect(head).toMatchObject({
      ContentLength: content.length,
      ChecksumCRC32C: crc32cBase64(content),
      ChecksumType: 'FULL_OBJECT',
      ETag: completed.ETag,
    });
    // The SDK checks the whole-object CRC32C of a full GET against the body itself.
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'movie.mov', ChecksumMode: 'ENABLED' }));
    expect(md5Hex(Buffer.from(await got.Body!.transformToByteArray()))).toBe(md5Hex(content));
    const acrossParts = await client.send(
      new GetObjectCommand({ Bucket: bucket, Key: 'movie.mov', Range: `bytes=${5 * MiB - 3}-${5 * MiB + 2}` }),
    );
    expect(Buffer.from(await acrossParts.Body!.transformToByteArray())).toEqual(
      content.subarray(5 * MiB - 3, 5 * MiB + 3),
    );

    expect(
      await s3Failure(
        client.send(
          new CompleteMultipartUploadCommand({
            Bucket: bucket,
            Key: 'movie.mov',
            UploadId: uploadId,
            MultipartUpload: { Parts: parts },
          }),
        ),
      ),
    ).toMatchObject({ code: 'NoSuchUpload', status: 404 });
  });

  it('gives a COMPOSITE upload the CRC32C of its part checksums with the part count', async () => {
    const bucket = await freshBucket();
    const content = randomBytes(5 * MiB + 10);
    const { uploadId, parts } = await uploadParts(bucket, 'composite', content, [5 * MiB, 10], 'COMPOSITE');
    const completed = await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: 'composite',
        UploadId: uploadId,
        MultipartUpload: { Parts: parts },
      }),
    );
    const expected = crc32cBase64(Buffer.concat(parts.map((part) => Buffer.from(part.ChecksumCRC32C, 'base64'))));
    expect(completed).toMatchObject({ ChecksumCRC32C: `${expected}-2`, ChecksumType: 'COMPOSITE' });
  });

  it('refuses a wrong ETag (InvalidPart), parts out of order (InvalidPartOrder) and a small middle part (EntityTooSmall)', async () => {
    const bucket = await freshBucket();
    const content = randomBytes(2 * MiB);
    const { uploadId, parts } = await uploadParts(bucket, 'small', content, [MiB, MiB]);
    const complete = (Parts: typeof parts) =>
      client.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: 'small',
          UploadId: uploadId,
          MultipartUpload: { Parts },
        }),
      );
    expect(
      await s3Failure(complete([parts[0]!, { ...parts[1]!, ETag: `"${md5Hex(Buffer.from('x'))}"` }])),
    ).toMatchObject({ code: 'InvalidPart', status: 400 });
    expect(await s3Failure(complete([parts[0]!, { ...parts[1]!, PartNumber: 3 }]))).toMatchObject({
      code: 'InvalidPart',
      status: 400,
    });
    expect(await s3Failure(complete([parts[1]!, parts[0]!]))).toMatchObject({ code: 'InvalidPartOrder', status: 400 });
    expect(await s3Failure(complete(parts))).toMatchObject({ code: 'EntityTooSmall', status: 400 });
    expect(server.listUploads(bucket)).toHaveLength(1);
  });

  it('refuses part numbers outside 1..10000 and parts of unknown uploads', async () => {
    const bucket = await freshBucket();
    const created = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'k' }));
    for (const PartNumber of [0, 10_001]) {
      expect(
        await s3Failure(
          client.send(
            new UploadPartCommand({ Bucket: bucket, Key: 'k', UploadId: created.UploadId, PartNumber, Body: 'x' }),
          ),
        ),
      ).toMatchObject({ code: 'InvalidArgument', status: 400 });
    }
    expect(
      await s3Failure(
        client.send(new UploadPartCommand({ Bucket: bucket, Key: 'k', UploadId: 'nope', PartNumber: 1, Body: 'x' })),
      ),
    ).toMatchObject({ code: 'NoSuchUpload', status: 404 });
  });

  it('computes the part CRC32C itself when the client sends no checksum', async () => {
    const bucket = await freshBucket();
    const bare = clientFor(server, { requestChecksumCalculation: 'WHEN_REQUIRED' });
    const created = await bare.send(
      new CreateMultipartUploadCommand({
        Bucket: bucket,
        Key: 'k',
        ChecksumAlgorithm: 'CRC32C',
        ChecksumType: 'FULL_OBJECT',
      }),
    );
    const body = randomBytes(1000);
    const part = await bare.send(
      new UploadPartCommand({ Bucket: bucket, Key: 'k', UploadId: created.UploadId, PartNumber: 1, Body: body }),
    );
    expect(part.ChecksumCRC32C).toBe(crc32cBase64(body));
    bare.destroy();
  });

  it('lists uploads in progress by prefix and aborts them', async () => {
    const bucket = await freshBucket();
    const first = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'in/one' }));
    const second = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'out/two' }));
    await client.send(
      new UploadPartCommand({
        Bucket: bucket,
        Key: 'in/one',
        UploadId: first.UploadId,
        PartNumber: 2,
        Body: 'part two',
      }),
    );
    const listed = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'in/' }));
    expect(listed.Uploads?.map((upload) => [upload.Key, upload.UploadId])).toEqual([['in/one', first.UploadId]]);
    expect(listed.Uploads?.[0]?.Initiated).toBeInstanceOf(Date);
    expect(server.listUploads(bucket).map((upload) => [upload.key, upload.partNumbers])).toEqual([
      ['in/one', [2]],
      ['out/two', []],
    ]);

    const aborted = await client.send(
      new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'in/one', UploadId: first.UploadId }),
    );
    expect(aborted.$metadata.httpStatusCode).toBe(204);
    expect(
      (await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads?.map(
        (upload) => upload.UploadId,
      ),
    ).toEqual([second.UploadId]);
    expect(
      await s3Failure(
        client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'in/one', UploadId: first.UploadId })),
      ),
    ).toMatchObject({ code: 'NoSuchUpload', status: 404 });
  });

  it('takes 20 parts of one upload in parallel', async () => {
    const small = await startS3TestServer({ minPartSizeBytes: 1 });
    const smallClient = clientFor(small);
    await small.createBucket('parallel');
    const content = randomBytes(20 * 300_000);
    const created = await smallClient.send(
      new CreateMultipartUploadCommand({
        Bucket: 'parallel',
        Key: 'k',
        ChecksumAlgorithm: 'CRC32C',
        ChecksumType: 'FULL_OBJECT',
      }),
    );
    const parts = await Promise.all(
      Array.from({ length: 20 }, async (_, index) => {
        const body = Readable.from([content.subarray(index * 300_000, (index + 1) * 300_000)]);
        const result = await smallClient.send(
          new UploadPartCommand({
            Bucket: 'parallel',
            Key: 'k',
            UploadId: created.UploadId,
            PartNumber: index + 1,
            Body: body,
            ContentLength: 300_000,
            ChecksumAlgorithm: 'CRC32C',
          }),
        );
        return { PartNumber: index + 1, ETag: result.ETag!, ChecksumCRC32C: result.ChecksumCRC32C! };
      }),
    );
    const completed = await smallClient.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'parallel',
        Key: 'k',
        UploadId: created.UploadId,
        MultipartUpload: { Parts: parts },
        ChecksumCRC32C: crc32cBase64(content),
        ChecksumType: 'FULL_OBJECT',
      }),
    );
    expect(completed.ETag).toMatch(/-20"$/);
    expect(md5Hex((await small.objectBytes('parallel', 'k'))!)).toBe(md5Hex(content));
    expect(small.requestCounts()).toEqual({ CreateMultipartUpload: 1, UploadPart: 20, CompleteMultipartUpload: 1 });
    smallClient.destroy();
    await small.close();
  });
});

describe('authentication', () => {
  it('serves a presigned GET with a Range, and refuses it once expired or tampered with', async () => {
    const bucket = await freshBucket();
    const content = randomBytes(10_000);
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'clip.mp4', Body: content }));
    const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: 'clip.mp4' }), {
      expiresIn: 60,
    });
    const ranged = await fetch(url, { headers: { range: 'bytes=10-19' } });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe('bytes 10-19/10000');
    expect(Buffer.from(await ranged.arrayBuffer())).toEqual(content.subarray(10, 20));

    const expiredUrl = await getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: 'clip.mp4' }), {
      expiresIn: 60,
      signingDate: new Date(Date.now() - 120_000),
    });
    const expired = await fetch(expiredUrl);
    expect(expired.status).toBe(403);
    const expiredBody = await expired.text();
    expect(expiredBody).toContain('<Code>AccessDenied</Code>');
    expect(expiredBody).toContain('<Message>Request has expired</Message>');

    const tampered = await fetch(url.replace('clip.mp4', 'clip.mp5'));
    expect(tampered.status).toBe(403);
    expect(await tampered.text()).toContain('<Code>SignatureDoesNotMatch</Code>');
  });

  it('refuses a wrong secret, an unknown key and a request without authentication', async () => {
    const bucket = await freshBucket();
    const wrongSecret = clientFor(server, {
      credentials: { accessKeyId: server.credentials.accessKeyId, secretAccessKey: 'not-the-secret' },
    });
    expect(
      await s3Failure(wrongSecret.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }))),
    ).toMatchObject({ code: 'SignatureDoesNotMatch', status: 403 });
    const unknownKey = clientFor(server, { credentials: { accessKeyId: 'nobody', secretAccessKey: 'x' } });
    expect(await s3Failure(unknownKey.send(new GetObjectCommand({ Bucket: bucket, Key: 'k' })))).toMatchObject({
      code: 'InvalidAccessKeyId',
      status: 403,
    });
    const anonymous = await fetch(`${server.endpoint}/${bucket}/k`);
    expect(anonymous.status).toBe(403);
    expect(await anonymous.text()).toContain('<Code>AccessDenied</Code>');
    expect(await server.objectBytes(bucket, 'k')).toBeNull();
    wrongSecret.destroy();
    unknownKey.destroy();
  });

  it('accepts every configured key pair', async () => {
    const second = { accessKeyId: 'second-key', secretAccessKey: 'second-secret' };
    const twoKeys = await startS3TestServer({ credentials: [server.credentials, second] });
    await twoKeys.createBucket('keys');
    const secondClient = clientFor(twoKeys, { credentials: second });
    await secondClient.send(new PutObjectCommand({ Bucket: 'keys', Key: 'k', Body: 'by the second key' }));
    expect((await twoKeys.objectBytes('keys', 'k'))?.toString()).toBe('by the second key');
    secondClient.destroy();
    await twoKeys.close();
  });
});

describe('HTTPS', () => {
  it('serves over TLS with a certificate from the test PKI', async () => {
    const pki = await createTestPki();
    const secure = await startS3TestServer({ tls: { key: pki.serverKeyPem, cert: pki.serverCertPem } });
    try {
      expect(secure.endpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      await secure.createBucket('secure');
      const agent = new HttpsAgent({ ca: pki.caCertPem });
      const secureClient = clientFor(secure, { requestHandler: new NodeHttpHandler({ httpsAgent: agent }) });
      const content = randomBytes(50_000);
      await secureClient.send(
        new PutObjectCommand({
          Bucket: 'secure',
          Key: 'k',
          Body: Readable.from([content]),
          ContentLength: content.length,
        }),
      );
      const got = await secureClient.send(new GetObjectCommand({ Bucket: 'secure', Key: 'k' }));
      expect(Buffer.from(await got.Body!.transformToByteArray())).toEqual(content);
      secureClient.destroy();
      agent.destroy();
    } finally {
      await secure.close();
      await pki.cleanup();
    }
  });
});

describe('fault injection', () => {
  it('fails the next requests of one operation with the injected error, then recovers', async () => {
    const bucket = await freshBucket();
    const before = server.requestCounts().PutObject ?? 0;
    server.injectFault('PutObject', { status: 503, code: 'SlowDown' }, 2);
    const once = clientFor(server, { maxAttempts: 1 });
    expect(await s3Failure(once.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' })))).toMatchObject({
      code: 'SlowDown',
      status: 503,
    });
    // The SDK retries the second SlowDown and its third attempt goes through.
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'after faults' }));
    expect((server.requestCounts().PutObject ?? 0) - before).toBe(3);
    expect((await server.objectBytes(bucket, 'k'))?.toString()).toBe('after faults');
    server.injectFault('HeadObject', { status: 500, code: 'InternalError' });
    expect(await s3Failure(once.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k' })))).toMatchObject({
      status: 500,
    });
    once.destroy();
  });

  it('cuts a GetObject halfway through its body, and an UploadPart while its body arrives', async () => {
    const bucket = await freshBucket();
    const content = randomBytes(1_000_000);
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: content }));
    server.injectFault('GetObject', 'reset');
    const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: 'k' }), { expiresIn: 60 });
    const response = await fetch(url);
    expect(response.status).toBe(200);
    await expect(response.arrayBuffer()).rejects.toThrow();
    const after = await fetch(url);
    expect(md5Hex(Buffer.from(await after.arrayBuffer()))).toBe(md5Hex(content));

    const created = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'm' }));
    server.injectFault('UploadPart', 'reset');
    const once = clientFor(server, { maxAttempts: 1 });
    await expect(
      once.send(
        new UploadPartCommand({
          Bucket: bucket,
          Key: 'm',
          UploadId: created.UploadId,
          PartNumber: 1,
          Body: randomBytes(MiB),
        }),
      ),
    ).rejects.toThrow();
    expect(server.listUploads(bucket).map((upload) => upload.partNumbers)).toEqual([[]]);
    once.destroy();
  });
});

describe('standalone process', () => {
  it('starts from the command line, creates its buckets, prints its endpoint and stops on SIGTERM', async () => {
    const pki = await createTestPki();
    const dataDir = join(pki.dir, 's3-data');
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(import.meta.dirname, '../support/s3-server.ts'),
        '--bucket',
        'one',
        '--bucket',
        'two',
        '--data-dir',
        dataDir,
      ],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let output = '';
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          if (output.includes('\n')) resolve(output.split('\n')[0]!);
        });
        child.once('exit', (code) => reject(new Error(`exited with ${code} before printing its endpoint`)));
      });
      const started = JSON.parse(line) as {
        endpoint: string;
        region: string;
        accessKeyId: string;
        secretAccessKey: string;
      };
      expect(started.region).toBe('us-east-1');
      const remote = new S3Client({
        endpoint: started.endpoint,
        region: started.region,
        forcePathStyle: true,
        credentials: started,
      });
      await remote.send(new PutObjectCommand({ Bucket: 'two', Key: 'k', Body: 'standalone' }));
      expect((await remote.send(new HeadBucketCommand({ Bucket: 'one' }))).$metadata.httpStatusCode).toBe(200);
      expect(await readdir(dataDir)).toHaveLength(1);
      remote.destroy();
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
      await pki.cleanup();
    }
  });
});
