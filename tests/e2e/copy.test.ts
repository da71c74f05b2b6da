import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { crc32c } from '@node-rs/crc32';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listEventsOfVideo } from '../../src/db/queries/events.queries.js';
import { startE2eFixture, type E2eFixture } from '../support/e2e-fixture.js';
import { backends } from '../support/test-database.js';
import { until } from '../support/wait.js';

const PART_SIZE = 64 * 1024;

describe.each(backends)('copying a file from an HTTPS URL (%s)', (backend) => {
  let fx: E2eFixture;
  const file = randomBytes(3 * 1024 * 1024 + 17);

  beforeAll(async () => {
    fx = await startE2eFixture(backend);
    fx.origin.setFile('/masters/clip%20one.mov', { body: file });
  });
  afterAll(async () => {
    await fx?.close();
  });

  it('copies every byte with at most maxConcurrentConnections connections, then serves them back', async () => {
    // Slow enough that every part takes long compared with scheduling, even on a loaded machine.
    fx.origin.setBehaviour('/masters/clip%20one.mov', { throttleBytesPerSecondPerConnection: 1_000_000 });
    fx.origin.resetStats();
    const created = await fx.service.api(
      'POST',
      `/api/v1/videos/in/https?maxConcurrentConnections=3&crc32c=${crc32c(file)}`,
      {
        body: { name: 'Clip one', url: fx.url('/masters/clip%20one.mov') },
      },
    );
    expect(created.status).toBe(201);
    const videoId = created.body.videoId as string;
    expect(created.headers.location).toBe(`/api/v1/videos/${videoId}`);
    expect(created.body.upload.file).toEqual({
      name: 'clip one.mov',
      size: file.length,
      type: 'video/quicktime',
      containerName: 'QuickTime',
      lastModified: '2025-01-06T12:00:00.000Z',
    });
    expect(['INITIAL', 'IN_PROGRESS']).toContain(created.body.upload.uploadState.uploadStatus);

    const done = await fx.service.waitForUpload(videoId, ['DONE', 'FAILED']);
    expect(done.upload.uploadState).toMatchObject({ uploadStatus: 'DONE', progressPercentage: 100 });
    expect(done.upload.uploadState.error).toBeUndefined();
    // The copy's live figures (extension): a finished copy is whole, with no speed and nothing left.
    expect(done.upload.uploadState).toMatchObject({
      bytesCopied: file.length,
      totalBytes: file.length,
      bytesPerSecond: null,
      etaSeconds: 0,
    });

    const [probe, ...parts] = fx.origin.stats.requests;
    expect(probe?.range).toBe('bytes=0-0');
    expect(parts).toHaveLength(Math.ceil(file.length / PART_SIZE));
    const ranges = parts
      .map((part) => part.range)
      .sort((a, b) => Number(/=(\d+)/.exec(a ?? '')?.[1]) - Number(/=(\d+)/.exec(b ?? '')?.[1]));
    expect(ranges).toEqual(
      Array.from(
        { length: parts.length },
        (_, index) => `bytes=${index * PART_SIZE}-${Math.min(file.length, (index + 1) * PART_SIZE) - 1}`,
      ),
    );
    for (const part of parts) {
      expect(part.ifRange).toBe('"v1"');
      expect(part.acceptEncoding).toBe('identity');
      expect(part.status).toBe(206);
    }
    expect(fx.origin.stats.maxConcurrentRequests).toBe(3);
    expect(fx.origin.stats.maxConcurrentConnections).toBeLessThanOrEqual(3);

    const events = await listEventsOfVideo(fx.service.app.connection.db, videoId);
    expect(
      events.map((event) => event.type).filter((type) => type.startsWith('video_in.') || type === 'video.deleted'),
    ).toEqual(['video_in.started', 'video_in.done']);

    const link = await fx.service.api('POST', `/api/v1/videos/${videoId}/out/https?durationMinutes=5`, {
      headers: { 'content-type': 'application/json', 'content-length': '0' },
    });
    expect(link.status).toBe(200);
    expect(link.body).toMatchObject({
      videoId,
      fileSize: file.length,
      mimeType: 'video/quicktime',
      fileExtension: 'mov',
      suggestedFileName: 'clip one.mov',
      crc32cChecksum: crc32c(file),
    });
    expect(Date.parse(link.body.expiresAt) - Date.now()).toBeGreaterThan(4 * 60_000);

    const whole = await request(`${fx.service.url}${link.body.presignedUrl}`);
    expect(whole.statusCode).toBe(200);
    expect(whole.headers['accept-ranges']).toBe('bytes');
    expect(whole.headers['x-checksum-crc32c']).toBe(String(crc32c(file)));
    expect(Buffer.from(await whole.body.arrayBuffer()).equals(file)).toBe(true);

    const ranged = await request(`${fx.service.url}${link.body.presignedUrl}`, {
      headers: { range: 'bytes=1000-1999' },
    });
    expect(ranged.statusCode).toBe(206);
    expect(ranged.headers['content-range']).toBe(`bytes 1000-1999/${file.length}`);
    expect(Buffer.from(await ranged.body.arrayBuffer()).equals(file.subarray(1000, 2000))).toBe(true);

    const tail = await request(`${fx.service.url}${link.body.presignedUrl}`, { headers: { range: 'bytes=-5' } });
    expect(tail.statusCode).toBe(206);
    expect(Buffer.from(await tail.body.arrayBuffer()).equals(file.subarray(file.length - 5))).toBe(true);

    const beyond = await request(`${fx.service.url}${link.body.presignedUrl}`, {
      headers: { range: `bytes=${file.length}-` },
    });
    expect(beyond.statusCode).toBe(416);
    expect(beyond.headers['content-range']).toBe(`bytes */${file.length}`);
    await beyond.body.dump();

    const head = await request(`${fx.service.url}${link.body.presignedUrl}`, { method: 'HEAD' });
    expect(head.statusCode).toBe(200);
    expect(head.headers['content-length']).toBe(String(file.length));
    await head.body.dump();

    const tampered = await request(
      `${fx.service.url}${link.body.presignedUrl.replace(/signature=[^&]+/, 'signature=AAAA')}`,
    );
    expect(tampered.statusCode).toBe(403);
    expect(((await tampered.body.json()) as { errorCode: string }).errorCode).toBe('ACCESS_DENIED');
  });

  it('shows, renames, lists and deletes the video with its stored file', async () => {
    const created = await fx.service.api('POST', '/api/v1/videos/in/https', {
      body: { name: 'To delete', description: 'temp', url: fx.url('/masters/clip%20one.mov'), fileName: 'renamed.mp4' },
    });
    expect(created.status).toBe(201);
    const videoId = created.body.videoId as string;
    await fx.service.waitForUpload(videoId, 'DONE');

    const shown = await fx.service.api('GET', `/api/v1/videos/${videoId}`);
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({
      id: videoId,
      name: 'To delete',
      description: 'temp',
      masterVideo: null,
      clipId: null,
      processing: null,
    });
    // Ingestion of these random bytes starts (and fails) on its own; the copy's flags are the subject here.
    expect(shown.body.flags).toMatchObject({
      isMaster: true,
      isProcessing: false,
      isProcessed: false,
      isClip: false,
      isSample: false,
    });
    expect(shown.body.upload.file.name).toBe('renamed.mp4');

    const patched = await fx.service.api('PATCH', `/api/v1/videos/${videoId}`, { body: { name: 'Renamed' } });
    expect(patched.status).toBe(200);
    expect(patched.body.name).toBe('Renamed');
    expect(patched.body.description).toBe('temp');

    const listed = await fx.service.api('GET', '/api/v1/videos?pageSize=1&sortDirection=DESC');
    expect(listed.status).toBe(200);
    expect(listed.body).toMatchObject({ pageNumber: 0, pageSize: 1, numberOfElements: 1 });
    expect(listed.body.items[0].id).toBe(videoId);

    const derived = await fx.service.api('GET', `/api/v1/videos/${videoId}/derived`);
    expect(derived.body).toMatchObject({ totalElements: 0, items: [] });

    const stored = path.join(fx.service.dataDir, 'storage', 'teams', shown.body.teamId, 'videos', videoId, 'source');
    expect((await fs.stat(stored)).size).toBe(file.length);

    const conflict = await fx.service.api('DELETE', `/api/v1/videos/${videoId}`, {
      body: ['00000000-0000-4000-8000-000000000000'],
    });
    expect(conflict.status).toBe(409);
    expect(conflict.body.errorCode).toBe('CONFLICTING_DERIVED_VIDEO_IDS');

    const deleted = await fx.service.api('DELETE', `/api/v1/videos/${videoId}`, {
      headers: { 'content-type': 'application/json' },
    });
    expect(deleted.status, deleted.text).toBe(200);
    expect(deleted.body).toEqual([videoId]);
    await expect(fs.stat(stored)).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await fx.service.api('GET', `/api/v1/videos/${videoId}`)).status).toBe(404);
    const events = await listEventsOfVideo(fx.service.app.connection.db, videoId);
    expect(
      events.map((event) => event.type).filter((type) => type.startsWith('video_in.') || type === 'video.deleted'),
    ).toEqual(['video_in.started', 'video_in.done', 'video.deleted']);
  });

  it('reports progress from the bytes copied while the copy runs', async () => {
    const slow = randomBytes(2 * 1024 * 1024);
    fx.origin.setFile('/slow.mp4', { body: slow });
    fx.origin.setBehaviour('/slow.mp4', { throttleBytesPerSecondPerConnection: 400_000 });
    const created = await fx.service.api('POST', '/api/v1/videos/in/https?maxConcurrentConnections=2', {
      body: { name: 'Slow', url: fx.url('/slow.mp4') },
    });
    const videoId = created.body.videoId as string;
    const seen = new Set<number>();
    const running: {
      bytesCopied: number;
      totalBytes: number;
      bytesPerSecond: number | null;
      etaSeconds: number | null;
    }[] = [];
    // Sampled every 200 ms while the copy runs.
    await until(
      `import ${videoId} to be DONE`,
      async () => {
        const state = (await fx.service.api('GET', `/api/v1/videos/${videoId}/in/status`)).body.upload.uploadState;
        seen.add(state.progressPercentage);
        if (state.uploadStatus === 'IN_PROGRESS') running.push(state);
        return state.uploadStatus;
      },
      (uploadStatus) => uploadStatus === 'DONE',
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    const inBetween = [...seen].filter((value) => value > 0 && value < 100);
    expect(inBetween.length).toBeGreaterThanOrEqual(3);
    expect(seen.has(100)).toBe(true);
    // While it runs: the file's size, the bytes so far, a measured speed within what two throttled
    // connections can move (with room for a burst), and the time left at that speed.
    const measured = running.filter((state) => state.bytesPerSecond !== null && state.bytesPerSecond > 0);
    expect(measured.length).toBeGreaterThanOrEqual(2);
    for (const state of running) {
      expect(state.totalBytes).toBe(slow.length);
      expect(state.bytesCopied).toBeLessThanOrEqual(slow.length);
    }
    for (const state of measured) {
      const rate = state.bytesPerSecond ?? 0;
      expect(rate).toBeLessThanOrEqual(2 * 2 * 400_000);
      expect(state.etaSeconds).toBe(Math.ceil((slow.length - state.bytesCopied) / rate));
    }
  });
});
