/**
 * The BlobStore contract against the S3 store, on the in-process S3 test server (tests/support/
 * s3-server.ts), plus what only S3 has: upload ids that a resume must continue, the full-object
 * CRC32C the server verifies at completion, aborts visible in the server's upload list, and
 * faults. What this does not check (the server's own list is in its header): virtual-hosted-style
 * addressing, real AWS's eventual listing of uploads, credentials from the default provider chain
 * (tests pass them explicitly), presigned URLs signed with temporary credentials, and the
 * behaviour of particular S3-compatible products (MinIO, R2, B2, Ceph).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { crc32c } from '@node-rs/crc32';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/domain/errors.js';
import { videoArtifactKey, videoSourceKey, type BlobKey } from '../../src/storage/blob-keys.js';
import {
  RetryablePartStoreError,
  UploadLostError,
  writePartFrom,
  type BlobUpload,
  type CompletedPart,
  type UploadPart,
} from '../../src/storage/blob-store.js';
import { S3_MIN_PART_SIZE_BYTES, type S3BlobStore } from '../../src/storage/s3-blob-store.js';
import { createS3Store, type S3StoreHandle } from '../../src/storage/s3-client.js';
import { startS3TestServer, type S3TestServer } from '../support/s3-server.js';
import { until } from '../support/wait.js';
import { describeBlobStoreContract } from './blob-store.contract.js';

async function openStore(server: S3TestServer, bucket: string, keyPrefix = ''): Promise<S3StoreHandle> {
  await server.createBucket(bucket);
  return createS3Store(
    { bucket, region: server.region, endpoint: server.endpoint, forcePathStyle: true, keyPrefix, maxSockets: 40 },
    { connectTimeoutMs: 5_000, idleTimeoutMs: 30_000, credentials: server.credentials },
  );
}

describeBlobStoreContract('S3BlobStore', async () => {
  const server = await startS3TestServer();
  const handle = await openStore(server, 'contract', 'reelin/');
  return {
    store: handle.store,
    cleanup: async () => {
      handle.destroy();
      await server.close();
    },
  };
});

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('S3BlobStore on S3', () => {
  const bucket = 'only-s3';
  const keyPrefix = 'env/test/';
  let server: S3TestServer;
  let handle: S3StoreHandle;
  let store: S3BlobStore;

  beforeAll(async () => {
    server = await startS3TestServer();
    handle = await openStore(server, bucket, keyPrefix);
    store = handle.store;
  });

  afterAll(async () => {
    handle?.destroy();
    await server?.close();
  });

  /** Two full 5 MiB parts and a last one of 1,001 bytes. */
  function newFile(): { key: BlobKey; content: Buffer; parts: UploadPart[]; crc32c: number } {
    const content = randomBytes(2 * S3_MIN_PART_SIZE_BYTES + 1_001);
    const parts = [0, 1, 2].map((index) => ({
      index,
      offsetBytes: index * S3_MIN_PART_SIZE_BYTES,
      lengthBytes: Math.min(S3_MIN_PART_SIZE_BYTES, content.length - index * S3_MIN_PART_SIZE_BYTES),
    }));
    return { key: videoSourceKey(randomUUID(), randomUUID()), content, parts, crc32c: crc32c(content) >>> 0 };
  }

  async function write(upload: BlobUpload, content: Buffer, part: UploadPart): Promise<CompletedPart> {
    const bytes = content.subarray(part.offsetBytes, part.offsetBytes + part.lengthBytes);
    const receipt = await writePartFrom(
      upload,
      part,
      Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]),
      new AbortController().signal,
    );
    return { ...part, crc32c: crc32c(bytes) >>> 0, receipt };
  }

  function count(operation: string): number {
    return server.requestCounts()[operation] ?? 0;
  }

  it("creates the upload with a full-object CRC32C and answers each part with S3's ETag and CRC32C", async () => {
    const file = newFile();
    const upload = await store.openUpload(file.key, file.content.length, null);
    expect(upload.state).toEqual({ store: 's3', uploadId: expect.any(String) });
    expect(server.listUploads(bucket).map((item) => [item.key, item.uploadId])).toContainEqual([
      `${keyPrefix}${file.key}`,
      upload.state.uploadId,
    ]);
    const completed = await write(upload, file.content, file.parts[2] as UploadPart);
    const expectedCrc = Buffer.alloc(4);
    expectedCrc.writeUInt32BE(completed.crc32c);
    expect(completed.receipt).toEqual({
      etag: expect.stringMatching(/^"[0-9a-f]{32}"$/),
      crc32c: expectedCrc.toString('base64'),
    });
    await store.abortUpload(file.key, upload.state);
  });

  it('resumes the same upload id and uploads only the missing parts', async () => {
    const file = newFile();
    const first = await store.openUpload(file.key, file.content.length, null);
    const early = [
      await write(first, file.content, file.parts[0] as UploadPart),
      await write(first, file.content, file.parts[2] as UploadPart),
    ];
    const state = JSON.parse(JSON.stringify(first.state)) as typeof first.state;
    await first.close();

    const partsBefore = count('UploadPart');
    const resumed = await store.openUpload(file.key, file.content.length, state);
    expect(resumed.state).toEqual(first.state);
    const late = await write(resumed, file.content, file.parts[1] as UploadPart);
    await resumed.complete(
      [...early, late].sort((a, b) => a.index - b.index),
      file.crc32c,
    );

    expect(count('UploadPart') - partsBefore).toBe(1);
    expect(server.listUploads(bucket).some((item) => item.uploadId === state.uploadId)).toBe(false);
    const stored = await server.objectBytes(bucket, `${keyPrefix}${file.key}`);
    expect(stored?.equals(file.content)).toBe(true);
  });

  it('fails completion with CHECKSUM_MISMATCH when the whole-file CRC32C is wrong, publishing nothing', async () => {
    const file = newFile();
    const upload = await store.openUpload(file.key, file.content.length, null);
    const parts = [];
    for (const part of file.parts) parts.push(await write(upload, file.content, part));
    const wrong = (file.crc32c ^ 1) >>> 0;
    const completing = upload.complete(parts, wrong);
    await expect(completing).rejects.toBeInstanceOf(AppError);
    await expect(completing).rejects.toMatchObject({ code: 'CHECKSUM_MISMATCH' });
    expect(await store.stat(file.key)).toBeNull();
    await store.abortUpload(file.key, upload.state);
  });

  it('aborts an upload so the server no longer lists it, and resuming it then throws UploadLostError', async () => {
    const file = newFile();
    const upload = await store.openUpload(file.key, file.content.length, null);
    await write(upload, file.content, file.parts[0] as UploadPart);
    const uploadId = upload.state.uploadId;
    expect(server.listUploads(bucket).filter((item) => item.uploadId === uploadId)).toHaveLength(1);
    await store.abortUpload(file.key, upload.state);
    expect(server.listUploads(bucket).filter((item) => item.uploadId === uploadId)).toHaveLength(0);

    const resuming = store.openUpload(file.key, file.content.length, upload.state);
    await expect(resuming).rejects.toBeInstanceOf(UploadLostError);
    await expect(resuming).rejects.toThrow(`the multipart upload ${String(uploadId)} of ${file.key} no longer exists`);
  });

  it('aborts every upload of a key when no state was recorded (an upload created just before a crash)', async () => {
    const file = newFile();
    await store.openUpload(file.key, file.content.length, null);
    await store.openUpload(file.key, file.content.length, null);
    expect(server.listUploads(bucket).filter((item) => item.key === `${keyPrefix}${file.key}`)).toHaveLength(2);
    await store.abortUpload(file.key, null);
    expect(server.listUploads(bucket).filter((item) => item.key === `${keyPrefix}${file.key}`)).toHaveLength(0);
  });

  it('lists its pending uploads under its prefix, with their keys and ages', async () => {
    const file = newFile();
    const upload = await store.openUpload(file.key, file.content.length, null);
    const listed = [];
    for await (const item of store.listUploads()) listed.push(item);
    const mine = listed.find((item) => item.uploadId === upload.state.uploadId);
    expect(mine).toEqual({
      key: file.key,
      uploadId: upload.state.uploadId,
      state: upload.state,
      initiatedAt: expect.any(Date),
    });
    expect(Math.abs((mine?.initiatedAt.getTime() ?? 0) - Date.now())).toBeLessThan(60_000);
    await store.abortUpload(file.key, upload.state);
  });

  it('fails a part S3 refused (503 SlowDown) after reading some of it, as one the copy may write again; the file completes', async () => {
    // A refusal before any byte is read, which the writer answers by sending the part again itself,
    // is covered by tests/unit/s3-part-writer.test.ts: the SDK with the service's own agent does not
    // wait for 100 Continue, so against a server the body has always started to flow.
    const file = newFile();
    const upload = await store.openUpload(file.key, file.content.length, null);
    const before = count('UploadPart');
    server.injectFault('UploadPart', { status: 503, code: 'SlowDown', afterBodyStarts: true });
    const first = await write(upload, file.content, file.parts[0] as UploadPart).then(
      () => null,
      (error: unknown) => error,
    );
    // Marked as one the copy may write again (it fetches the part again from the source).
    expect(first).toBeInstanceOf(RetryablePartStoreError);
    expect((first as RetryablePartStoreError).cause).toMatchObject({
      name: 'SlowDown',
      $metadata: { httpStatusCode: 503 },
    });
    expect((first as Error).message).toBe('storing part 1 in S3 failed (SlowDown, HTTP 503): Injected fault: SlowDown');
    expect(count('UploadPart') - before).toBe(1);
    const parts = [];
    for (const part of file.parts) parts.push(await write(upload, file.content, part));
    await upload.complete(parts, file.crc32c);
    expect((await server.objectBytes(bucket, `${keyPrefix}${file.key}`))?.equals(file.content)).toBe(true);
  });

  it('retries a 503 SlowDown on requests without a streamed body (CompleteMultipartUpload, HeadObject) inside the SDK', async () => {
    const file = newFile();
    const upload = await store.openUpload(file.key, file.content.length, null);
    const parts = [];
    for (const part of file.parts) parts.push(await write(upload, file.content, part));
    const before = count('CompleteMultipartUpload');
    server.injectFault('CompleteMultipartUpload', { status: 503, code: 'SlowDown' });
    await upload.complete(parts, file.crc32c);
    expect(count('CompleteMultipartUpload') - before).toBe(2);
    const headsBefore = count('HeadObject');
    server.injectFault('HeadObject', { status: 503, code: 'SlowDown' });
    expect(await store.stat(file.key)).toEqual({ sizeBytes: file.content.length });
    expect(count('HeadObject') - headsBefore).toBe(2);
  });

  it('treats a second completion of a completed upload as done when the object is there whole', async () => {
    const file = newFile();
    const upload = await store.openUpload(file.key, file.content.length, null);
    const parts = [];
    for (const part of file.parts) parts.push(await write(upload, file.content, part));
    await upload.complete(parts, file.crc32c);
    await expect(upload.complete(parts, file.crc32c)).resolves.toBeUndefined();
  });

  it('names a pre-signed media source that serves the bytes and byte ranges without credentials', async () => {
    const key = videoArtifactKey(randomUUID(), randomUUID(), 'web.mp4');
    const content = randomBytes(70_000);
    await store.put(key, Readable.from([content]));
    const url = await store.mediaSource(key, 3600);
    expect(url.startsWith(`${server.endpoint}/${bucket}/${keyPrefix}${key}?`)).toBe(true);
    expect(new URL(url).searchParams.get('X-Amz-Expires')).toBe('3600');
    const whole = await fetch(url);
    expect(whole.status).toBe(200);
    expect(Buffer.from(await whole.arrayBuffer()).equals(content)).toBe(true);
    const ranged = await fetch(url, { headers: { range: 'bytes=100-199' } });
    expect(ranged.status).toBe(206);
    expect(Buffer.from(await ranged.arrayBuffer()).equals(content.subarray(100, 200))).toBe(true);
    // S3 signs for at most 7 days.
    expect(new URL(await store.mediaSource(key, 30 * 86_400)).searchParams.get('X-Amz-Expires')).toBe('604800');
  });

  it('signs a download URL that names the file and expires when asked', async () => {
    const key = videoArtifactKey(randomUUID(), randomUUID(), 'thumbnails/0001.jpg');
    const content = randomBytes(5_000);
    await store.put(key, Readable.from([content]));
    const signedAt = new Date();
    const url = await store.presignDownload(key, {
      fileName: 'holiday clip-thumbnail-01.jpg',
      contentType: 'image/jpeg',
      disposition: 'inline',
      signedAt,
      expiresAt: new Date(signedAt.getTime() + 15 * 60_000),
    });
    expect(new URL(url).searchParams.get('X-Amz-Expires')).toBe('900');
    const answer = await fetch(url);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-disposition')).toBe('inline; filename="holiday clip-thumbnail-01.jpg"');
    expect(answer.headers.get('content-type')).toBe('image/jpeg');
    expect(Buffer.from(await answer.arrayBuffer()).equals(content)).toBe(true);
  });

  it('puts an artifact larger than a 16 MiB part as a multipart upload, and leaves no upload behind when the body fails', async () => {
    const key = videoArtifactKey(randomUUID(), randomUUID(), 'web.mp4');
    const content = randomBytes(33 * 1024 * 1024 + 3);
    const [createsBefore, partsBefore] = [count('CreateMultipartUpload'), count('UploadPart')];
    expect(await store.put(key, Readable.from([content.subarray(0, 7), content.subarray(7)]))).toEqual({
      sizeBytes: content.length,
    });
    expect([count('CreateMultipartUpload') - createsBefore, count('UploadPart') - partsBefore]).toEqual([1, 3]);
    expect((await readAll(await store.read(key))).equals(content)).toBe(true);

    const failingKey = videoArtifactKey(randomUUID(), randomUUID(), 'web.mp4');
    const failingCreates = count('CreateMultipartUpload');
    async function* failing(): AsyncGenerator<Buffer> {
      yield randomBytes(20 * 1024 * 1024);
      // The body fails once there is a multipart upload to abort.
      await until('the multipart upload to be created', () => count('CreateMultipartUpload') > failingCreates);
      throw new Error('the encoder died');
    }
    await expect(store.put(failingKey, Readable.from(failing()))).rejects.toThrow('the encoder died');
    expect(count('CreateMultipartUpload') - failingCreates).toBe(1);
    expect(await store.stat(failingKey)).toBeNull();
    // The managed upload aborts its multipart upload as it gives up.
    await until(
      'the failed multipart upload to be aborted',
      () => server.listUploads(bucket).filter((item) => item.key === `${keyPrefix}${failingKey}`),
      (left) => left.length === 0,
      { timeoutMs: 5_000 },
    );
  });

  it('deletes more than 1,000 objects under a prefix in batches', async () => {
    const teamId = randomUUID();
    const videoId = randomUUID();
    const keys = Array.from({ length: 1_003 }, (_, index) =>
      videoArtifactKey(teamId, videoId, `frames/${String(index).padStart(4, '0')}.jpg`),
    );
    for (let offset = 0; offset < keys.length; offset += 50) {
      await Promise.all(
        keys.slice(offset, offset + 50).map((key) => store.put(key, Readable.from([Buffer.from(key)]))),
      );
    }
    const before = count('DeleteObjects');
    await store.deletePrefix(videoSourceKey(teamId, videoId).replace(/\/source$/, '') as BlobKey);
    expect(count('DeleteObjects') - before).toBe(2);
    expect(await store.stat(keys[0] as BlobKey)).toBeNull();
    expect(await store.stat(keys[1_002] as BlobKey)).toBeNull();
  });
});
