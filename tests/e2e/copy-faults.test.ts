import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { crc32c } from '@node-rs/crc32';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listEventsOfVideo } from '../../src/db/queries/events.queries.js';
import { listRecordedParts } from '../../src/db/queries/imports.queries.js';
import { startE2eFixture, type E2eFixture } from '../support/e2e-fixture.js';
import type { OriginBehaviour } from '../support/origin-server.js';
import { until } from '../support/wait.js';
import { backends } from '../support/test-database.js';

const PART_SIZE = 64 * 1024;
const PARTS = 24;

describe.each(backends)('a copy from a misbehaving origin (%s)', (backend) => {
  let fx: E2eFixture;
  let counter = 0;

  beforeAll(async () => {
    fx = await startE2eFixture(backend);
  });
  afterAll(async () => {
    await fx?.close();
  });

  /** A fresh file on the origin, `PARTS` parts long, with the given behaviour. */
  function serve(behaviour: OriginBehaviour = {}, size = PARTS * PART_SIZE - 123): { path: string; body: Buffer } {
    counter += 1;
    const filePath = `/fault-${counter}.mp4`;
    const body = randomBytes(size);
    fx.origin.setFile(filePath, { body });
    fx.origin.setBehaviour(filePath, behaviour);
    return { path: filePath, body };
  }

  async function startImport(filePath: string, query = ''): Promise<string> {
    const created = await fx.service.api('POST', `/api/v1/videos/in/https?maxConcurrentConnections=4${query}`, {
      body: { name: filePath, url: fx.url(filePath) },
    });
    expect(created.status, created.text).toBe(201);
    return created.body.videoId as string;
  }

  async function downloaded(videoId: string): Promise<Buffer> {
    const link = await fx.service.api('POST', `/api/v1/videos/${videoId}/out/https`);
    expect(link.status, link.text).toBe(200);
    const response = await request(new URL(link.body.presignedUrl, fx.service.url));
    return Buffer.from(await response.body.arrayBuffer());
  }

  function partRequests(filePath: string) {
    return fx.origin.stats.requests.filter((entry) => entry.path === filePath && entry.range !== 'bytes=0-0');
  }

  it('survives connections dropped in the middle of parts and stores identical bytes', async () => {
    const { path: filePath, body } = serve({ dropAfterBytes: { first: 4, afterBytes: 10_000 } });
    const videoId = await startImport(filePath, `&crc32c=${crc32c(body)}`);
    const done = await fx.service.waitForUpload(videoId, ['DONE', 'FAILED']);
    expect(done.upload.uploadState.uploadStatus).toBe('DONE');
    expect((await downloaded(videoId)).equals(body)).toBe(true);
    // The probe took one of the four drops; three parts were fetched twice.
    expect(partRequests(filePath)).toHaveLength(PARTS + 3);
  });

  it("waits as long as a 503 answer's Retry-After asks before retrying the part", async () => {
    const { path: filePath, body } = serve();
    const videoId = await startImport(filePath);
    // The probe has passed; now the next two part requests answer 503.
    fx.origin.setBehaviour(filePath, { failRequests: { first: 2, status: 503, retryAfter: '1' } });
    const done = await fx.service.waitForUpload(videoId, ['DONE', 'FAILED']);
    expect(done.upload.uploadState.uploadStatus).toBe('DONE');
    expect((await downloaded(videoId)).equals(body)).toBe(true);
    const requests = partRequests(filePath);
    const refused = requests.filter((entry) => entry.status === 503);
    expect(refused).toHaveLength(2);
    expect(new Set(refused.map((entry) => entry.range)).size).toBe(2);
    for (const first of refused) {
      const retry = requests.find(
        (entry) => entry.range === first.range && entry.status === 206 && entry.startedAt > first.startedAt,
      );
      expect(retry, `part ${first.range} was retried`).toBeDefined();
      expect((retry?.startedAt ?? 0) - first.startedAt).toBeGreaterThanOrEqual(990);
    }
  });

  it('retries parts that stall past the idle timeout', async () => {
    const { path: filePath, body } = serve({ stallAfterBytes: { first: 3, afterBytes: 1_000 } });
    const videoId = await startImport(filePath);
    const done = await fx.service.waitForUpload(videoId, ['DONE', 'FAILED']);
    expect(done.upload.uploadState.uploadStatus).toBe('DONE');
    expect((await downloaded(videoId)).equals(body)).toBe(true);
  });

  it('copies a slowly dripping source completely', async () => {
    const { path: filePath, body } = serve({ dripBytesPerSecond: 400_000 }, 4 * PART_SIZE + 5);
    const videoId = await startImport(filePath);
    const done = await fx.service.waitForUpload(videoId, ['DONE', 'FAILED']);
    expect(done.upload.uploadState.uploadStatus).toBe('DONE');
    expect((await downloaded(videoId)).equals(body)).toBe(true);
  });

  it('fails with SOURCE_CHANGED when the ETag changes mid-copy, and a restart copies the new file whole', async () => {
    const { path: filePath } = serve({
      changeEtagAfterRequests: { after: 6, etag: '"v2"' },
      throttleBytesPerSecondPerConnection: 2_000_000,
    });
    const videoId = await startImport(filePath);
    const failed = await fx.service.waitForUpload(videoId, ['DONE', 'FAILED']);
    expect(failed.upload.uploadState.uploadStatus).toBe('FAILED');
    expect(failed.upload.uploadState.error.code).toBe('SOURCE_CHANGED');
    expect(failed.upload.uploadState.error.message).toMatch(/changed while it was being copied/);

    const newBody = randomBytes(PARTS * PART_SIZE - 999);
    fx.origin.setFile(filePath, { body: newBody });
    fx.origin.setBehaviour(filePath, { etag: '"v2"' });
    const before = partRequests(filePath).length;
    const restarted = await fx.service.api('POST', `/api/v1/videos/${videoId}/in/restart`);
    expect(restarted.status, restarted.text).toBe(200);
    expect((await fx.service.waitForUpload(videoId, ['DONE', 'FAILED'])).upload.uploadState.uploadStatus).toBe('DONE');
    expect(partRequests(filePath).length - before).toBe(PARTS);
    expect((await downloaded(videoId)).equals(newBody)).toBe(true);
    const events = await listEventsOfVideo(fx.service.app.connection.db, videoId);
    expect(
      events.map((event) => event.type).filter((type) => type.startsWith('video_in.') || type === 'video.deleted'),
    ).toEqual(['video_in.started', 'video_in.failed', 'video_in.started', 'video_in.done']);
  });

  it('catches corrupted bytes of the right length with the given CRC32C, and accepts them only with skipChecksumValidation', async () => {
    const { path: filePath, body } = serve({ corruptByteAt: 5 * PART_SIZE + 7 });
    const corrupted = Buffer.from(body);
    corrupted[5 * PART_SIZE + 7] = (corrupted[5 * PART_SIZE + 7] ?? 0) ^ 0xff;
    const videoId = await startImport(filePath, `&crc32c=${crc32c(body)}`);
    const failed = await fx.service.waitForUpload(videoId, ['DONE', 'FAILED']);
    expect(failed.upload.uploadState.uploadStatus).toBe('FAILED');
    expect(failed.upload.uploadState.error).toMatchObject({
      code: 'CHECKSUM_MISMATCH',
      details: { expectedCrc32c: crc32c(body), actualCrc32c: crc32c(corrupted) },
    });

    const refused = await fx.service.api('POST', `/api/v1/videos/${videoId}/in/restart`);
    expect(refused.status).toBe(409);
    expect(refused.body.errorCode).toBe('VIDEO_IN_RESTART_CHECKSUM_MISMATCH');

    const requestsBefore = partRequests(filePath).length;
    const accepted = await fx.service.api('POST', `/api/v1/videos/${videoId}/in/restart?skipChecksumValidation=true`);
    expect(accepted.status, accepted.text).toBe(200);
    expect((await fx.service.waitForUpload(videoId, ['DONE', 'FAILED'])).upload.uploadState.uploadStatus).toBe('DONE');
    expect(partRequests(filePath).length).toBe(requestsBefore);
    expect((await downloaded(videoId)).equals(corrupted)).toBe(true);
    const link = await fx.service.api('POST', `/api/v1/videos/${videoId}/out/https`);
    expect(link.body.crc32cChecksum).toBe(crc32c(corrupted));
  });

  it('fails with SOURCE_HTTP_ERROR when parts are refused, then resumes only the missing parts on restart', async () => {
    const { path: filePath, body } = serve({ throttleBytesPerSecondPerConnection: 1_000_000 });
    const videoId = await startImport(filePath);
    await until(
      'a part to be recorded',
      () => listRecordedParts(fx.service.app.connection.db, videoId),
      (parts) => parts.length > 0,
    );
    fx.origin.setBehaviour(filePath, { status: 403 });
    const failed = await fx.service.waitForUpload(videoId, ['DONE', 'FAILED']);
    expect(failed.upload.uploadState.uploadStatus).toBe('FAILED');
    expect(failed.upload.uploadState.error.code).toBe('SOURCE_HTTP_ERROR');
    expect(failed.upload.uploadState.error.message).toMatch(/403 Forbidden/);

    const recorded = await listRecordedParts(fx.service.app.connection.db, videoId);
    expect(recorded.length).toBeGreaterThan(0);
    expect(recorded.length).toBeLessThan(PARTS);
    fx.origin.setBehaviour(filePath, {});
    fx.origin.resetStats();
    const restarted = await fx.service.api('POST', `/api/v1/videos/${videoId}/in/restart`, {
      headers: { 'content-type': 'application/json', 'content-length': '0' },
    });
    expect(restarted.status, restarted.text).toBe(200);
    expect((await fx.service.waitForUpload(videoId, ['DONE', 'FAILED'])).upload.uploadState.uploadStatus).toBe('DONE');
    const recordedIndexes = new Set(
      recorded.map((part) => `bytes=${part.offsetBytes}-${part.offsetBytes + part.lengthBytes - 1}`),
    );
    const copiedAgain = partRequests(filePath).map((entry) => entry.range);
    expect(copiedAgain).toHaveLength(PARTS - recorded.length);
    expect(copiedAgain.filter((range) => recordedIndexes.has(range ?? ''))).toEqual([]);
    expect((await downloaded(videoId)).equals(body)).toBe(true);
  });

  it('fails a copy whose server stops honouring ranges or starts compressing them', async () => {
    for (const [behaviour, code] of [
      [{ ignoreRange: true }, 'CONTENT_NOT_PARTIAL_ERROR'],
      [{ gzipRanges: true }, 'CONTENT_ENCODING_NOT_IDENTITY'],
    ] as const) {
      const { path: filePath } = serve({ throttleBytesPerSecondPerConnection: 1_000_000 });
      const videoId = await startImport(filePath);
      fx.origin.setBehaviour(filePath, behaviour);
      const failed = await fx.service.waitForUpload(videoId, ['DONE', 'FAILED']);
      expect(failed.upload.uploadState.uploadStatus).toBe('FAILED');
      expect(failed.upload.uploadState.error.code).toBe(code);
    }
  });

  it('abandons a failed import with its record and its data, and refuses to abandon others', async () => {
    const { path: filePath } = serve({ throttleBytesPerSecondPerConnection: 1_000_000 });
    const videoId = await startImport(filePath);
    await until(
      'a part to be recorded',
      () => listRecordedParts(fx.service.app.connection.db, videoId),
      (parts) => parts.length > 0,
    );
    fx.origin.setBehaviour(filePath, { status: 410 });
    const failed = await fx.service.waitForUpload(videoId, ['DONE', 'FAILED']);
    expect(failed.upload.uploadState.uploadStatus).toBe('FAILED');
    const teamId = (await fx.service.api('GET', `/api/v1/videos/${videoId}`)).body.teamId as string;
    const videoDir = path.join(fx.service.dataDir, 'storage', 'teams', teamId, 'videos', videoId);
    expect((await fs.readdir(videoDir)).length).toBeGreaterThan(0);

    const abandoned = await fx.service.api('DELETE', `/api/v1/videos/${videoId}/in/abandon`);
    expect(abandoned.status).toBe(204);
    expect((await fx.service.api('GET', `/api/v1/videos/${videoId}`)).status).toBe(404);
    await expect(fs.stat(videoDir)).rejects.toMatchObject({ code: 'ENOENT' });

    const done = await startImport(serve().path);
    await fx.service.waitForUpload(done, 'DONE');
    const refused = await fx.service.api('DELETE', `/api/v1/videos/${done}/in/abandon`);
    expect(refused.status).toBe(409);
    expect(refused.body.errorCode).toBe('VIDEO_IN_OPERATION_NOT_FAILED');
    const notFailed = await fx.service.api('POST', `/api/v1/videos/${done}/in/restart`);
    expect(notFailed.status).toBe(409);
    expect(notFailed.body.errorCode).toBe('VIDEO_IN_OPERATION_NOT_FAILED');
  });

  it('stops a running copy when its video is deleted and leaves no data behind', async () => {
    const { path: filePath } = serve({ throttleBytesPerSecondPerConnection: 300_000 });
    const videoId = await startImport(filePath);
    await fx.service.waitForUpload(videoId, 'IN_PROGRESS');
    const teamId = (await fx.service.api('GET', `/api/v1/videos/${videoId}`)).body.teamId as string;
    const videoDir = path.join(fx.service.dataDir, 'storage', 'teams', teamId, 'videos', videoId);
    await until(
      'a part to be recorded',
      () => listRecordedParts(fx.service.app.connection.db, videoId),
      (parts) => parts.length > 0,
    );
    const deleted = await fx.service.api('DELETE', `/api/v1/videos/${videoId}`);
    expect(deleted.status).toBe(200);
    expect(deleted.body).toEqual([videoId]);
    // The copy notices at its next checkpoint, stops its requests and removes what it wrote.
    await until(
      'the copy to stop its requests and remove its data',
      async () => ({
        unfinished: partRequests(filePath).filter((entry) => entry.endedAt === null).length,
        dataLeft: await fs.stat(videoDir).then(
          () => true,
          () => false,
        ),
      }),
      ({ unfinished, dataLeft }) => unfinished === 0 && !dataLeft,
    );
    const requestsAfterStop = partRequests(filePath).length;
    // A window to show an absence (no request after the stop): a slow machine can only make it miss
    // a late request, never fail a copy that stopped.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(partRequests(filePath).length).toBe(requestsAfterStop);
    expect(requestsAfterStop).toBeLessThan(PARTS);
    await expect(fs.stat(videoDir)).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await fx.service.api('GET', `/api/v1/videos/${videoId}/in/status`)).status).toBe(404);
  });

  describe('refuses sources the probe shows cannot be copied, creating nothing', () => {
    const cases: [string, OriginBehaviour, string, string, number?][] = [
      [
        'ignores Range (answers 200)',
        { ignoreRange: true },
        'CONTENT_NOT_PARTIAL_ERROR',
        'the server answered 200 to a range request: it does not support HTTP range requests, which this import requires',
      ],
      [
        'gzips the range',
        { gzipRanges: true },
        'CONTENT_ENCODING_NOT_IDENTITY',
        "the server sent the range with Content-Encoding gzip although identity was asked for: the file's bytes cannot be copied exactly",
      ],
      [
        'claims a size over 500 GB',
        { claimTotalSize: 600_000_000_000 },
        'VALIDATION_ERROR',
        'the file is 600000000000 bytes; at most 500000000000 bytes (500 GB) can be imported',
      ],
      [
        'does not know the total size',
        { contentRange: () => 'bytes 0-0/*' },
        'CONTENT_RANGE_HEADER_INVALID',
        "the server does not state the file's total size in Content-Range (it sent */*): the size must be known to copy the file in parts",
      ],
      [
        'sends no Content-Range',
        { contentRange: () => null },
        'CONTENT_RANGE_HEADER_INVALID',
        'the server answered 206 without a Content-Range header',
      ],
      [
        'sends a garbled Content-Range',
        { contentRange: () => 'bytes zero-one/ten' },
        'CONTENT_RANGE_HEADER_INVALID',
        'the server\'s Content-Range header "bytes zero-one/ten" is not a valid byte range',
      ],
      [
        'answers another range than asked',
        { contentRange: (_requested, size) => `bytes 1-1/${size}` },
        'UNEXPECTED_CONTENT_RANGE',
        'the server answered a request for bytes 0-0 with bytes 1-1',
      ],
      [
        'answers 404',
        { status: 404 },
        'RESOLVE_OBJECT_METADATA_ERROR',
        'the server answered 404 Not Found to a request for the first byte: check that the URL points to the file and is publicly readable',
      ],
      [
        'serves an empty file',
        {},
        'NO_CONTENT',
        'the file at the URL is empty (0 bytes): there is nothing to import',
        0,
      ],
    ];
    it.each(cases)('when the server %s', async (_label, behaviour, code, message, size) => {
      const before = (await fx.service.api('GET', '/api/v1/videos')).body.totalElements as number;
      const { path: filePath } = serve(behaviour, size);
      const refused = await fx.service.api('POST', '/api/v1/videos/in/https', {
        body: { name: 'refused', url: fx.url(filePath) },
      });
      expect(refused.status).toBe(400);
      expect(refused.body.errorCode).toBe(code);
      expect(refused.body.message).toBe(message);
      expect((await fx.service.api('GET', '/api/v1/videos')).body.totalElements).toBe(before);
    });
  });
});
