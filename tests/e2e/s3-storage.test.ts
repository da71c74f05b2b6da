/**
 * The service with REELIN_STORAGE=s3 against the S3 test server over HTTPS (the tests' own CA):
 * credentials come through the AWS SDK's default provider chain (the AWS_* environment), copies
 * land as multipart uploads verified by their full-object CRC32C, downloads are S3 pre-signed URLs,
 * ingestion reads its source through a pre-signed URL and writes its artifacts to S3, and abandon
 * and delete leave nothing behind in the bucket.
 */
import { sql } from 'drizzle-orm';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateMultipartUploadCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { crc32c } from '@node-rs/crc32';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findVideoById } from '../../src/db/queries/videos.queries.js';
import { ChildProcessRunner } from '../../src/media/process-runner.js';
import { mediaFixture } from '../support/media-fixtures.js';
import { startOriginServer, type OriginServer } from '../support/origin-server.js';
import { startS3TestServer, type S3TestServer } from '../support/s3-server.js';
import { ScriptedResolver } from '../support/scripted-resolver.js';
import { backends } from '../support/test-database.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import { startTestService, type TestService } from '../support/test-service.js';
import { until } from '../support/wait.js';

const ORIGIN_HOST = 'origin.reelin.test';
const BUCKET = 'reelin-e2e';
const PREFIX = 'deploy/';
const MEBIBYTE = 1024 * 1024;
const ingestionEnded = (video: any) => ['DONE', 'FAILED'].includes(video.ingestion.ingestionState.ingestionStatus);

describe.each(backends)('the service on S3 storage (%s)', (backend) => {
  let pki: TestPki;
  let origin: OriginServer;
  let s3: S3TestServer;
  /** The store's address as users see it: the same server by its name instead of its IP address. */
  const publicEndpoint = () => s3.endpoint.replace('127.0.0.1', 'localhost');
  let service: TestService;
  let trusting: Agent;
  let inspector: S3Client;
  let scratch: string;
  const savedEnv = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
  /** Shifts the S3 server's clock, to make uploads that look days old. */
  let clockOffsetMs = 0;
  const orphanKey = `${PREFIX}teams/${randomUUID()}/videos/${randomUUID()}/source`;
  const foreignKey = `elsewhere/teams/${randomUUID()}/videos/${randomUUID()}/source`;

  beforeAll(async () => {
    pki = await createTestPki();
    origin = await startOriginServer({ pki });
    s3 = await startS3TestServer({
      tls: { key: pki.serverKeyPem, cert: pki.serverCertPem },
      now: () => Date.now() + clockOffsetMs,
    });
    await s3.createBucket(BUCKET);
    inspector = new S3Client({
      region: s3.region,
      endpoint: s3.endpoint,
      forcePathStyle: true,
      credentials: s3.credentials,
      requestHandler: { httpsAgent: { ca: pki.caCertPem } },
    });
    // Two uploads left behind two days ago: one under the service's prefix, one of someone else.
    clockOffsetMs = -2 * 86_400_000;
    for (const key of [orphanKey, foreignKey])
      await inspector.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }));
    clockOffsetMs = 0;
    // The default provider chain finds these, as it would on a server configured by environment.
    process.env.AWS_ACCESS_KEY_ID = s3.credentials.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = s3.credentials.secretAccessKey;
    service = await startTestService({
      backend,
      caCertificates: [pki.caCertPem],
      resolver: new ScriptedResolver().set(ORIGIN_HOST, ['127.0.0.1']),
      env: {
        REELIN_ALLOWED_PORTS: String(origin.port),
        REELIN_STORAGE: 's3',
        REELIN_S3_BUCKET: BUCKET,
        REELIN_S3_ENDPOINT: s3.endpoint,
        // Users reach the store by another name than the service does; links are signed for theirs.
        REELIN_S3_PUBLIC_ENDPOINT: publicEndpoint(),
        REELIN_S3_FORCE_PATH_STYLE: 'true',
        REELIN_S3_KEY_PREFIX: PREFIX,
        REELIN_IDLE_TIMEOUT_MS: '20000',
      },
    });
    trusting = new Agent({ connect: { ca: pki.caCertPem } });
    scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-s3-e2e-'));
  }, 60_000);

  afterAll(async () => {
    await service?.stop();
    inspector?.destroy();
    await trusting?.close();
    await s3?.close();
    await origin?.close();
    await pki?.cleanup();
    if (scratch) await fs.rm(scratch, { recursive: true, force: true });
    process.env.AWS_ACCESS_KEY_ID = savedEnv.id;
    process.env.AWS_SECRET_ACCESS_KEY = savedEnv.secret;
    if (savedEnv.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
    if (savedEnv.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
  });

  async function download(
    url: string,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
    const response = await request(url, { headers, dispatcher: trusting });
    return {
      status: response.statusCode,
      headers: response.headers,
      body: Buffer.from(await response.body.arrayBuffer()),
    };
  }

  async function objectKeyOf(videoId: string): Promise<string> {
    const video = await findVideoById(service.app.connection.db, videoId);
    if (video?.storageKey == null) throw new Error(`video ${videoId} has no stored file`);
    return `${PREFIX}${video.storageKey}`;
  }

  const uploadsUnder = (prefix: string) => s3.listUploads(BUCKET).filter((upload) => upload.key.startsWith(prefix));

  it('sweeps, when it starts, a day-old upload under its prefix that no import records, and nothing outside its prefix', async () => {
    await until(
      'the start-up sweep to abort the orphaned upload',
      () => s3.listUploads(BUCKET).some((upload) => upload.key === orphanKey),
      (left) => !left,
      { timeoutMs: 15_000, intervalMs: 100 },
    );
    expect(
      s3
        .listUploads(BUCKET)
        .map((upload) => upload.key)
        .filter((key) => key === orphanKey || key === foreignKey),
    ).toEqual([foreignKey]);
  }, 30_000);

  it('copies an HTTPS file into S3 with its full-object CRC32C and hands out pre-signed S3 links to it', async () => {
    const file = randomBytes(11 * MEBIBYTE + 17);
    origin.setFile('/masters/big%20one.mov', { body: file });
    const partsBefore = s3.requestCounts().UploadPart ?? 0;
    const created = await service.api(
      'POST',
      `/api/v1/videos/in/https?maxConcurrentConnections=3&crc32c=${crc32c(file)}`,
      { body: { name: 'Big one', url: origin.url('/masters/big%20one.mov', ORIGIN_HOST) } },
    );
    expect(created.status, created.text).toBe(201);
    const videoId = created.body.videoId as string;
    const done = await service.waitForUpload(videoId, ['DONE', 'FAILED'], 60_000);
    expect(done.upload.uploadState).toMatchObject({ uploadStatus: 'DONE', progressPercentage: 100 });

    // 5 MiB parts, the S3 minimum: 5 + 5 + 1 MiB and 17 bytes.
    expect((s3.requestCounts().UploadPart ?? 0) - partsBefore).toBe(3);
    const key = await objectKeyOf(videoId);
    expect(key).toMatch(new RegExp(`^${PREFIX}teams/[0-9a-f-]{36}/videos/${videoId}/source$`));
    expect((await s3.objectBytes(BUCKET, key))?.equals(file)).toBe(true);
    const head = await inspector.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key, ChecksumMode: 'ENABLED' }));
    const expectedCrc = Buffer.alloc(4);
    expectedCrc.writeUInt32BE(crc32c(file) >>> 0);
    expect(head.ChecksumCRC32C).toBe(expectedCrc.toString('base64'));
    expect(head.ChecksumType).toBe('FULL_OBJECT');
    expect(uploadsUnder(key)).toEqual([]);

    const link = await service.api('POST', `/api/v1/videos/${videoId}/out/https?durationMinutes=5`, {
      headers: { 'content-type': 'application/json', 'content-length': '0' },
    });
    expect(link.status, link.text).toBe(200);
    expect(link.body).toMatchObject({
      videoId,
      fileSize: file.length,
      suggestedFileName: 'big one.mov',
      crc32cChecksum: crc32c(file),
    });
    const url = new URL(link.body.presignedUrl);
    expect(`${url.origin}${url.pathname}`).toBe(`${publicEndpoint()}/${BUCKET}/${key}`);
    expect(url.searchParams.get('X-Amz-Expires')).toBe('300');
    // Signed at the moment the link's expiry is counted from: both end at the same second.
    const signedAt = Date.parse(
      (url.searchParams.get('X-Amz-Date') ?? '').replace(
        /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/,
        '$1-$2-$3T$4:$5:$6Z',
      ),
    );
    expect(signedAt + 300_000).toBe(Math.floor(Date.parse(link.body.expiresAt) / 1000) * 1000);
    const whole = await download(link.body.presignedUrl);
    expect(whole.status).toBe(200);
    expect(whole.headers['content-disposition']).toBe('attachment; filename="big one.mov"');
    expect(whole.body.equals(file)).toBe(true);
    const ranged = await download(link.body.presignedUrl, { range: 'bytes=5242870-5242889' });
    expect(ranged.status).toBe(206);
    expect(ranged.headers['content-range']).toBe(`bytes 5242870-5242889/${file.length}`);
    expect(ranged.body.equals(file.subarray(5_242_870, 5_242_890))).toBe(true);

    const deleted = await service.api('DELETE', `/api/v1/videos/${videoId}`);
    expect(deleted.status, deleted.text).toBeLessThan(300);
    expect(await s3.objectBytes(BUCKET, key)).toBeNull();
  }, 90_000);

  it('writes a part again when S3 answers 503 SlowDown or drops the connection, and the import still ends DONE with exact bytes', async () => {
    const file = randomBytes(16 * MEBIBYTE + 3);
    origin.setFile('/masters/busy.mov', { body: file });
    const partsBefore = s3.requestCounts().UploadPart ?? 0;
    s3.injectFault('UploadPart', { status: 503, code: 'SlowDown' }, 2);
    s3.injectFault('UploadPart', 'reset', 1);
    const created = await service.api(
      'POST',
      `/api/v1/videos/in/https?maxConcurrentConnections=2&crc32c=${crc32c(file)}`,
      { body: { name: 'Busy', url: origin.url('/masters/busy.mov', ORIGIN_HOST) } },
    );
    expect(created.status, created.text).toBe(201);
    const videoId = created.body.videoId as string;
    const done = await service.waitForUpload(videoId, ['DONE', 'FAILED'], 60_000);
    expect(done.upload.uploadState).toMatchObject({ uploadStatus: 'DONE', progressPercentage: 100 });
    // 4 parts (5 + 5 + 5 + 1 MiB and 3 bytes); each of the 3 refused or cut-off attempts is sent
    // again once by the copy, and a refusal before any byte was read also by the part writer itself.
    const sent = (s3.requestCounts().UploadPart ?? 0) - partsBefore;
    expect(sent).toBeGreaterThanOrEqual(4 + 3);
    expect(sent).toBeLessThanOrEqual(4 + 3 * 2);
    // The parts were written again inside the one run of the copy job: the job itself never failed.
    const jobs = (await service.app.connection.db.execute(
      sql`select state, retry_count from pgboss.job where name = 'copy-video' and data->>'videoId' = ${videoId}`,
    )) as unknown as { rows: { state: string; retry_count: number }[] };
    expect(jobs.rows).toEqual([{ state: 'completed', retry_count: 0 }]);
    const link = await service.api('POST', `/api/v1/videos/${videoId}/out/https`, {
      headers: { 'content-type': 'application/json', 'content-length': '0' },
    });
    expect((await download(link.body.presignedUrl)).body.equals(file)).toBe(true);
    await service.api('DELETE', `/api/v1/videos/${videoId}`);
  }, 60_000);

  it('ingests from S3 through a pre-signed source and serves thumbnails and the web video from S3, deleting them with the video', async () => {
    const team = (await service.api('GET', '/api/v1/account')).body.defaultTeam;
    await service.api('PATCH', `/api/v1/teams/${team.id}`, { body: { freeClipEnabled: false } });
    const body = await fs.readFile(await mediaFixture('short-4s'));
    origin.setFile('/media/short.mp4', { body });
    const created = await service.api('POST', '/api/v1/videos/in/https?fullIngestion=true', {
      body: { name: 'Short', url: origin.url('/media/short.mp4', ORIGIN_HOST) },
    });
    expect(created.status, created.text).toBe(201);
    const videoId = created.body.videoId as string;
    const video = await service.waitForVideo(videoId, ingestionEnded, 120_000);
    expect(video.ingestion.ingestionState).toMatchObject({
      ingestionStatus: 'DONE',
      thumbnailsAvailable: true,
      fullFramesAvailable: true,
      webVideoAvailable: true,
      videoMetadataAvailable: true,
    });
    expect(video.ingestion.metadata).toMatchObject({ frameWidth: 640, frameHeight: 360, durationInMillis: 4_000 });
    const sourceKey = await objectKeyOf(videoId);
    const videoPrefix = sourceKey.replace(/\/source$/, '');

    const thumbnails = await service.api('GET', `/api/v1/videos/${videoId}/thumbnails?durationMinutes=5`);
    expect(thumbnails.status, thumbnails.text).toBe(200);
    const first = (thumbnails.body.items as any[]).find((item) => item.kind === 'THUMBNAIL');
    expect(first.presignedUrl.startsWith(`${publicEndpoint()}/${BUCKET}/${videoPrefix}/artifacts/`)).toBe(true);
    const image = await download(first.presignedUrl);
    expect(image.status).toBe(200);
    expect(image.body.length).toBe(first.sizeBytes);
    expect(image.headers['content-type']).toBe(first.mimeType);
    expect(image.headers['content-disposition']).toMatch(/^inline; filename="short-thumbnail-01\.(jpg|webp)"$/);

    const web = await service.api('POST', `/api/v1/videos/${videoId}/web-video/out/https`, {
      headers: { 'content-type': 'application/json', 'content-length': '0' },
    });
    expect(web.status, web.text).toBe(200);
    expect(web.body.presignedUrl.startsWith(`${publicEndpoint()}/${BUCKET}/${videoPrefix}/artifacts/`)).toBe(true);
    const partial = await download(web.body.presignedUrl, { range: 'bytes=0-99' });
    expect(partial.status).toBe(206);
    expect(partial.headers['content-range']).toBe(`bytes 0-99/${web.body.sizeBytes}`);
    const whole = await download(web.body.presignedUrl);
    expect(whole.body.length).toBe(web.body.sizeBytes);
    const webPath = path.join(scratch, 'web.mp4');
    await fs.writeFile(webPath, whole.body);
    const { stdout } = await new ChildProcessRunner().run('ffprobe', [
      '-v',
      'error',
      '-show_streams',
      '-of',
      'json',
      webPath,
    ]);
    expect(JSON.parse(stdout).streams.find((stream: any) => stream.codec_type === 'video')).toMatchObject({
      codec_name: 'h264',
      width: 640,
      height: 360,
    });

    const deleted = await service.api('DELETE', `/api/v1/videos/${videoId}`);
    expect(deleted.status, deleted.text).toBeLessThan(300);
    expect(await s3.objectBytes(BUCKET, sourceKey)).toBeNull();
    expect(await download(first.presignedUrl).then((answer) => answer.status)).toBe(404);
    expect(await download(web.body.presignedUrl).then((answer) => answer.status)).toBe(404);
  }, 150_000);

  it('keeps the multipart upload of a FAILED import, and abandoning the import aborts it', async () => {
    const file = randomBytes(6 * MEBIBYTE);
    origin.setFile('/masters/wrong.mov', { body: file });
    const wrongCrc = (crc32c(file) ^ 0xff) >>> 0;
    const created = await service.api('POST', `/api/v1/videos/in/https?crc32c=${wrongCrc}`, {
      body: { name: 'Wrong', url: origin.url('/masters/wrong.mov', ORIGIN_HOST) },
    });
    expect(created.status, created.text).toBe(201);
    const videoId = created.body.videoId as string;
    const failed = await service.waitForUpload(videoId, ['DONE', 'FAILED'], 60_000);
    expect(failed.upload.uploadState).toMatchObject({ uploadStatus: 'FAILED', error: { code: 'CHECKSUM_MISMATCH' } });

    const pending = s3.listUploads(BUCKET).filter((upload) => upload.key.endsWith(`/videos/${videoId}/source`));
    expect(pending).toHaveLength(1);
    expect(pending[0]?.partNumbers).toEqual([1, 2]);

    const abandoned = await service.api('DELETE', `/api/v1/videos/${videoId}/in/abandon`);
    expect(abandoned.status, abandoned.text).toBeLessThan(300);
    expect(s3.listUploads(BUCKET).filter((upload) => upload.key.endsWith(`/videos/${videoId}/source`))).toEqual([]);
  }, 90_000);
});
