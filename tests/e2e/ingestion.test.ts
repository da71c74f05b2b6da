import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listEventsOfVideo } from '../../src/db/queries/events.queries.js';
import { ChildProcessRunner } from '../../src/media/process-runner.js';
import { startE2eFixture, type E2eFixture } from '../support/e2e-fixture.js';
import { mediaFixture, type MediaFixtureName } from '../support/media-fixtures.js';
import { backends } from '../support/test-database.js';
import { until } from '../support/wait.js';

const runner = new ChildProcessRunner();

async function ffprobeStreams(file: string): Promise<any> {
  const { stdout } = await runner.run('ffprobe', ['-v', 'error', '-show_streams', '-show_format', '-of', 'json', file]);
  return JSON.parse(stdout);
}

const ingestionEnded = (video: any) => ['DONE', 'FAILED'].includes(video.ingestion.ingestionState.ingestionStatus);

describe('ingestion with an ffmpeg that lacks a filter', () => {
  let fx: E2eFixture;
  let toolsDir: string;

  beforeAll(async () => {
    // The real ffmpeg, but its filter list without blurdetect: the quality assessment cannot be made.
    toolsDir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-masked-ffmpeg-'));
    const { stdout } = await runner.run('sh', ['-c', 'command -v ffmpeg']);
    const wrapper = path.join(toolsDir, 'ffmpeg');
    await fs.writeFile(
      wrapper,
      [
        '#!/bin/sh',
        `if [ "$1" = "-hide_banner" ] && [ "$2" = "-filters" ] && [ "$#" -eq 2 ]; then "${stdout.trim()}" "$@" | grep -v " blurdetect "; exit 0; fi`,
        `exec "${stdout.trim()}" "$@"`,
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    fx = await startE2eFixture('pglite', { REELIN_FFMPEG_PATH: wrapper });
  });
  afterAll(async () => {
    await fx?.close();
    await fs.rm(toolsDir, { recursive: true, force: true });
  });

  it('makes everything else, says the quality assessment is unavailable and why, and fakes nothing', async () => {
    const team = (await fx.service.api('GET', '/api/v1/account')).body.defaultTeam;
    await fx.service.api('PATCH', `/api/v1/teams/${team.id}`, { body: { freeClipEnabled: false } });
    const body = await fs.readFile(await mediaFixture('short-4s'));
    fx.origin.setFile('/media/short.mp4', { body });
    const created = await fx.service.api('POST', '/api/v1/videos/in/https?fullIngestion=true', {
      body: { name: 'Masked', url: fx.url('/media/short.mp4') },
    });
    expect(created.status, created.text).toBe(201);
    const video = await fx.service.waitForVideo(created.body.videoId, ingestionEnded, 90_000);
    const state = video.ingestion.ingestionState;
    expect(state).toMatchObject({
      ingestionStatus: 'DONE',
      videoMetadataAvailable: true,
      thumbnailsAvailable: true,
      fullFramesAvailable: true,
      webVideoAvailable: true,
    });
    expect(state.unavailableFeatures).toEqual([
      { feature: 'qualityAssessment', reason: expect.stringContaining('blurdetect') },
    ]);
    expect(video.ingestion.qualityAssessment).toBeNull();
    expect(video.ingestion.metadata.scanning.heuristics).toBe('PROGRESSIVE');
  }, 120_000);

  it("opens an artifact only through its own link: not another artifact's, nor the video's, nor the reverse", async () => {
    const body = await fs.readFile(await mediaFixture('short-4s'));
    fx.origin.setFile('/media/links.mp4', { body });
    const created = await fx.service.api('POST', '/api/v1/videos/in/https?fullIngestion=true', {
      body: { name: 'Links', url: fx.url('/media/links.mp4') },
    });
    expect(created.status, created.text).toBe(201);
    const videoId = created.body.videoId as string;
    const video = await fx.service.waitForVideo(videoId, ingestionEnded, 90_000);
    expect(video.ingestion.ingestionState.ingestionStatus).toBe('DONE');
    const thumbnails = await fx.service.api('GET', `/api/v1/videos/${videoId}/thumbnails?durationMinutes=5`);
    const [thumbnail, poster] = ['THUMBNAIL', 'POSTER'].map(
      (kind) => new URL(thumbnails.body.items.find((item: any) => item.kind === kind).presignedUrl, fx.service.url),
    ) as [URL, URL];
    const videoLink = new URL(
      (await fx.service.api('POST', `/api/v1/videos/${videoId}/out/https`)).body.presignedUrl,
      fx.service.url,
    );
    const [, thumbnailId, thumbnailName] =
      new RegExp(`^/api/downloads/${videoId}/artifacts/([0-9a-f-]{36})/([^/]+)$`).exec(thumbnail.pathname) ?? [];
    const posterId = /\/artifacts\/([0-9a-f-]{36})\//.exec(poster.pathname)?.[1];
    const videoName = videoLink.pathname.split('/').at(-1);
    expect([thumbnailId, posterId, videoName].every((part) => part !== undefined && part !== '')).toBe(true);
    expect(posterId).not.toBe(thumbnailId);

    const get = async (pathname: string, search: string) => {
      const response = await request(new URL(`${pathname}${search}`, fx.service.url));
      return { status: response.statusCode, body: Buffer.from(await response.body.arrayBuffer()) };
    };
    const refusal = (renewWith: string) => ({
      status: 403,
      body: expect.objectContaining({
        errorCode: 'ACCESS_DENIED',
        message: `the download link is not valid: request a new one with ${renewWith}`,
      }),
    });
    const asJson = async (answer: Promise<{ status: number; body: Buffer }>) => {
      const { status, body } = await answer;
      return { status, body: JSON.parse(body.toString('utf8')) as unknown };
    };
    const artifactRenewal = "the video's thumbnails, full-frames or web-video endpoint";
    const videoRenewal = 'POST /api/v1/videos/{videoId}/out/https';

    // Each link opens what it was signed for.
    expect((await get(thumbnail.pathname, thumbnail.search)).status).toBe(200);
    expect((await get(videoLink.pathname, videoLink.search)).body.equals(body)).toBe(true);
    // The thumbnail's signature on the poster's artifact id (its name kept), and the reverse.
    expect(
      await asJson(get(`/api/downloads/${videoId}/artifacts/${posterId}/${thumbnailName}`, thumbnail.search)),
    ).toEqual(refusal(artifactRenewal));
    expect(
      await asJson(get(`/api/downloads/${videoId}/artifacts/${thumbnailId}/${thumbnailName}`, poster.search)),
    ).toEqual(refusal(artifactRenewal));
    // The thumbnail's signature on the video's own path, under the thumbnail's or the video's name.
    expect(await asJson(get(`/api/downloads/${videoId}/${thumbnailName}`, thumbnail.search))).toEqual(
      refusal(videoRenewal),
    );
    expect(await asJson(get(videoLink.pathname, thumbnail.search))).toEqual(refusal(videoRenewal));
    // The video's signature on the thumbnail's path, under the thumbnail's or the video's name.
    expect(
      await asJson(get(`/api/downloads/${videoId}/artifacts/${thumbnailId}/${thumbnailName}`, videoLink.search)),
    ).toEqual(refusal(artifactRenewal));
    expect(
      await asJson(get(`/api/downloads/${videoId}/artifacts/${thumbnailId}/${videoName}`, videoLink.search)),
    ).toEqual(refusal(artifactRenewal));
  }, 120_000);
});

describe.each(backends)('ingestion and the free clip (%s)', (backend) => {
  let fx: E2eFixture;
  let scratch: string;

  beforeAll(async () => {
    fx = await startE2eFixture(backend, {}, { webhookReceiver: true });
    scratch = await fs.mkdtemp(path.join(fx.service.dataDir, 'scratch-'));
  });
  afterAll(async () => {
    await fx?.close();
  });

  async function serveFixture(name: MediaFixtureName): Promise<{ urlPath: string; body: Buffer }> {
    const body = await fs.readFile(await mediaFixture(name));
    const urlPath = `/media/${name}${path.extname(await mediaFixture(name))}`;
    fx.origin.setFile(urlPath, { body });
    return { urlPath, body };
  }

  async function importFixture(name: MediaFixtureName, fullIngestion: boolean): Promise<string> {
    const { urlPath } = await serveFixture(name);
    const created = await fx.service.api('POST', `/api/v1/videos/in/https?fullIngestion=${fullIngestion}`, {
      body: { name: `Fixture ${name}`, url: fx.url(urlPath) },
    });
    expect(created.status, created.text).toBe(201);
    return created.body.videoId as string;
  }

  async function download(
    url: string,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
    const response = await request(new URL(url, fx.service.url), { headers });
    return {
      status: response.statusCode,
      headers: response.headers,
      body: Buffer.from(await response.body.arrayBuffer()),
    };
  }

  async function eventTypes(videoId: string): Promise<string[]> {
    return (await listEventsOfVideo(fx.service.app.connection.db, videoId)).map((event) => event.type);
  }

  it('ingests a master fully, makes its artifacts and a 10-second clip, and deletes them all with it', async () => {
    const stageEvents = ['video_in_ingestion', 'clip_processing', 'clip_ingestion'].flatMap((stage) =>
      ['started', 'done', 'failed'].map((outcome) => `${stage}.${outcome}`),
    );
    const hook = await fx.service.api('POST', '/api/v1/webhooks', {
      body: {
        name: 'stages',
        description: 'ingestion and clip stages',
        url: fx.hookUrl('/stages'),
        eventTypes: [...stageEvents, 'video.deleted'],
      },
    });
    expect(hook.status, hook.text).toBe(201);
    const masterId = await importFixture('progressive', true);
    const seen: { status: string; progress: number; eta: number | null }[] = [];
    const master = await fx.service.waitForVideo(
      masterId,
      (video) => {
        const state = video.ingestion.ingestionState;
        seen.push({ status: state.ingestionStatus, progress: state.progressPercentage, eta: state.etaSeconds });
        return ingestionEnded(video);
      },
      120_000,
    );
    // Progress moves while it runs, never backwards, and an ETA is given on the way.
    const running = seen.filter((state) => state.status === 'IN_PROGRESS');
    expect(new Set(running.map((state) => state.progress)).size).toBeGreaterThanOrEqual(3);
    expect(
      running.some((state) => state.progress > 0 && state.progress < 100 && state.eta !== null && state.eta > 0),
    ).toBe(true);
    const progresses = seen.map((state) => state.progress);
    expect(progresses).toEqual([...progresses].sort((a, b) => a - b));
    expect(master.ingestion.ingestionState).toMatchObject({
      ingestionStatus: 'DONE',
      progressPercentage: 100,
      etaSeconds: 0,
      webVideoAvailable: true,
      thumbnailsAvailable: true,
      fullFramesAvailable: true,
      videoMetadataAvailable: true,
    });
    expect(master.flags).toMatchObject({ isMaster: true, isIngested: true, isIngesting: false, isClip: false });
    expect(master.ingestion.metadata).toMatchObject({
      codecName: 'h264',
      frameWidth: 640,
      frameHeight: 360,
      pixelFormatName: 'yuv420p',
      primaryBitDepth: 8,
      displayAspectRatio: { ratio: 1.78, tag: '16:9' },
      scanning: { metadata: 'PROGRESSIVE', heuristics: 'PROGRESSIVE' },
      averageFrameRate: { frameRate: 25, rational: '25:1' },
      totalFrames: 300,
      hdrStandardName: null,
    });
    expect(master.ingestion.metadata.durationInMillis).toBeGreaterThanOrEqual(11_900);
    expect(master.ingestion.metadata.durationInMillis).toBeLessThanOrEqual(12_100);
    const metricNames = master.ingestion.qualityAssessment.metrics.map((metric: any) => metric.name);
    expect(metricNames).toEqual(expect.arrayContaining(['noise', 'details', 'colors']));
    expect(metricNames.length).toBeGreaterThanOrEqual(4);
    for (const metric of master.ingestion.qualityAssessment.metrics) {
      expect(metric.subjectiveScore).toBeGreaterThanOrEqual(0);
      expect(metric.subjectiveScore).toBeLessThanOrEqual(5);
      expect(['untenable', 'poor', 'fair', 'good', 'excellent']).toContain(metric.subjectiveLabel);
    }

    // Thumbnails and the poster: images of the declared size, with the declared bytes.
    const thumbnails = await fx.service.api('GET', `/api/v1/videos/${masterId}/thumbnails?durationMinutes=5`);
    expect(thumbnails.status, thumbnails.text).toBe(200);
    const items = thumbnails.body.items as any[];
    expect(items.filter((item) => item.kind === 'THUMBNAIL')).toHaveLength(10);
    expect(items.filter((item) => item.kind === 'POSTER')).toHaveLength(1);
    const timestamps = items.filter((item) => item.kind === 'THUMBNAIL').map((item) => item.timestampMillis);
    expect([...timestamps].sort((a, b) => a - b)).toEqual(timestamps);
    const first = items.find((item) => item.kind === 'THUMBNAIL');
    const image = await download(first.presignedUrl);
    expect(image.status).toBe(200);
    expect(image.body.length).toBe(first.sizeBytes);
    expect(image.headers['content-type']).toBe(first.mimeType);
    const imagePath = path.join(scratch, `thumbnail${first.mimeType === 'image/webp' ? '.webp' : '.jpg'}`);
    await fs.writeFile(imagePath, image.body);
    const [imageStream] = (await ffprobeStreams(imagePath)).streams;
    expect([imageStream.width, imageStream.height]).toEqual([first.width, first.height]);
    expect(first.width).toBe(320);

    const frames = await fx.service.api('GET', `/api/v1/videos/${masterId}/full-frames`);
    expect(frames.status).toBe(200);
    expect(frames.body.items).toHaveLength(10);
    const frame = await download(frames.body.items[3].presignedUrl);
    expect(frame.body.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
    expect(frames.body.items[3]).toMatchObject({ width: 640, height: 360, mimeType: 'image/png' });

    // The web video: seekable through range requests, H.264 yuv420p with its index first.
    const web = await fx.service.api('POST', `/api/v1/videos/${masterId}/web-video/out/https`, {
      headers: { 'content-type': 'application/json', 'content-length': '0' },
    });
    expect(web.status, web.text).toBe(200);
    const partial = await download(web.body.presignedUrl, { range: 'bytes=0-99' });
    expect(partial.status).toBe(206);
    expect(partial.headers['content-range']).toBe(`bytes 0-99/${web.body.sizeBytes}`);
    const whole = await download(web.body.presignedUrl);
    const webPath = path.join(scratch, 'web.mp4');
    await fs.writeFile(webPath, whole.body);
    const webInfo = await ffprobeStreams(webPath);
    const webVideo = webInfo.streams.find((stream: any) => stream.codec_type === 'video');
    expect(webVideo).toMatchObject({ codec_name: 'h264', pix_fmt: 'yuv420p', width: 640, height: 360 });
    expect(webInfo.streams.some((stream: any) => stream.codec_type === 'audio' && stream.codec_name === 'aac')).toBe(
      true,
    );
    expect(whole.body.indexOf('moov')).toBeLessThan(whole.body.indexOf('mdat'));

    // The free clip: a derived video, cut and then fully ingested.
    const clipId = (await fx.service.waitForVideo(masterId, (video) => video.clipId !== null)).clipId as string;
    const clip = await fx.service.waitForVideo(clipId, ingestionEnded, 120_000);
    expect(clip.flags).toMatchObject({
      isMaster: false,
      isClip: true,
      isProcessed: true,
      isProcessing: false,
      isIngested: true,
    });
    expect(clip.masterVideo).toMatchObject({ id: masterId });
    expect(clip.processing.processingState).toMatchObject({ processingStatus: 'DONE', progressPercentage: 100 });
    // 40% of 12 s is 4.8 s; the 10 s window is kept inside 5%..95% of the video, so it starts at 0.6 s (frame 15).
    expect(clip.processing.sourceVideo).toEqual({
      videoId: masterId,
      startPositionMilliseconds: 600,
      endPositionMilliseconds: 10_600,
    });
    expect(clip.ingestion.metadata).toMatchObject({ totalFrames: 250, frameWidth: 640, frameHeight: 360 });
    expect(Math.abs(clip.ingestion.metadata.durationInMillis - 10_000)).toBeLessThanOrEqual(40);
    const derived = await fx.service.api('GET', `/api/v1/videos/${masterId}/derived`);
    expect(derived.body.items.map((item: any) => item.id)).toEqual([clipId]);
    const masterOfClip = await fx.service.api('GET', `/api/v1/videos?clipId=${clipId}`);
    expect(masterOfClip.body.items.map((item: any) => item.id)).toEqual([masterId]);

    expect(await eventTypes(masterId)).toEqual([
      'video_in.started',
      'video_in.done',
      'video_in_ingestion.started',
      'video_in_ingestion.done',
    ]);
    expect(await eventTypes(clipId)).toEqual([
      'clip_processing.started',
      'clip_processing.done',
      'clip_ingestion.started',
      'clip_ingestion.done',
    ]);

    const deleted = await fx.service.api('DELETE', `/api/v1/videos/${masterId}`, { body: [clipId] });
    expect(deleted.status, deleted.text).toBe(200);
    expect([...deleted.body].sort()).toEqual([clipId, masterId].sort());
    const teamFolder = path.join(fx.service.dataDir, 'storage', 'teams', master.teamId, 'videos');
    const left = await fs.readdir(teamFolder).catch(() => []);
    expect(left).not.toContain(masterId);
    expect(left).not.toContain(clipId);
    expect((await download(first.presignedUrl)).status).toBe(404);
    expect((await eventTypes(clipId)).at(-1)).toBe('video.deleted');
    expect((await eventTypes(masterId)).at(-1)).toBe('video.deleted');

    // Every stage reached the user's webhook, each once, with the video it is about.
    const expected = [
      'master video_in_ingestion.started',
      'master video_in_ingestion.done',
      'master video.deleted',
      'clip clip_processing.started',
      'clip clip_processing.done',
      'clip clip_ingestion.started',
      'clip clip_ingestion.done',
      'clip video.deleted',
    ];
    await fx.receiver!.waitFor(expected.length, (request) => request.path === '/stages');
    // A delivery recorded successful is never sent again, so once all are, the receiver's count is final.
    await until(
      'every delivery of the stages to be recorded successful',
      async () => (await fx.service.api('GET', `/api/v1/webhooks/events?webhookId=${hook.body.id}&pageSize=100`)).body,
      (log) => log.totalElements >= expected.length && log.items.every((event: any) => event.successful),
    );
    const whose = (videoId: string) => (videoId === masterId ? 'master' : videoId === clipId ? 'clip' : videoId);
    const deliveredStages = fx
      .receiver!.requests.filter((request) => request.path === '/stages')
      .map((request) => `${whose(request.body.data.videoId)} ${request.body.eventType}`);
    expect([...deliveredStages].sort()).toEqual([...expected].sort());
    await fx.service.api('DELETE', `/api/v1/webhooks/${hook.body.id}`);
  }, 240_000);

  it('ingests metadata only without fullIngestion, and makes no clip when the team turned clips off', async () => {
    const team = (await fx.service.api('GET', '/api/v1/account')).body.defaultTeam;
    const off = await fx.service.api('PATCH', `/api/v1/teams/${team.id}`, { body: { freeClipEnabled: false } });
    expect(off.status, off.text).toBe(200);
    expect(off.body.freeClipEnabled).toBe(false);
    try {
      const videoId = await importFixture('hdr10', false);
      const video = await fx.service.waitForVideo(videoId, ingestionEnded);
      expect(video.ingestion.ingestionState).toMatchObject({
        ingestionStatus: 'DONE',
        videoMetadataAvailable: true,
        webVideoAvailable: false,
        thumbnailsAvailable: false,
        fullFramesAvailable: false,
      });
      expect(video.ingestion.metadata).toMatchObject({
        primaryBitDepth: 10,
        colorPrimariesName: 'bt2020',
        colorTransferName: 'smpte2084',
        colorSpaceName: 'bt2020nc',
        hdrStandardName: 'HDR10',
        scanning: { metadata: 'PROGRESSIVE', heuristics: null },
      });
      expect(video.ingestion.qualityAssessment).toBeNull();
      const thumbnails = await fx.service.api('GET', `/api/v1/videos/${videoId}/thumbnails`);
      expect(thumbnails.status).toBe(409);
      expect(thumbnails.body).toMatchObject({ errorCode: 'VIDEO_NOT_FULLY_INGESTED' });
      expect(thumbnails.body.message).toContain('without fullIngestion');
      // A clip is made in the transaction that marks the ingestion DONE, so a wrong one shows already.
      expect((await fx.service.api('GET', `/api/v1/videos/${videoId}/derived`)).body.totalElements).toBe(0);
      expect((await fx.service.api('GET', `/api/v1/videos/${videoId}`)).body.clipId).toBeNull();
    } finally {
      expect(
        (await fx.service.api('PATCH', `/api/v1/teams/${team.id}`, { body: { freeClipEnabled: true } })).body
          .freeClipEnabled,
      ).toBe(true);
    }
  }, 60_000);

  it('finds interlaced pictures in a file that declares progressive, and deinterlaces its web video', async () => {
    const team = (await fx.service.api('GET', '/api/v1/account')).body.defaultTeam;
    await fx.service.api('PATCH', `/api/v1/teams/${team.id}`, { body: { freeClipEnabled: false } });
    try {
      const videoId = await importFixture('interlaced-bff-unflagged', true);
      const video = await fx.service.waitForVideo(videoId, ingestionEnded, 120_000);
      expect(video.ingestion.ingestionState.ingestionStatus).toBe('DONE');
      expect(video.ingestion.metadata.scanning).toEqual({
        metadata: 'PROGRESSIVE',
        heuristics: 'INTERLACED_BOTTOM_FIRST',
      });
      const web = await fx.service.api('POST', `/api/v1/videos/${videoId}/web-video/out/https`, {
        headers: { 'content-type': 'application/json', 'content-length': '0' },
      });
      // 720x576 with 16:15 pixels is 768x576 in square pixels.
      expect(web.body).toMatchObject({ width: 768, height: 576, mimeType: 'video/mp4' });
      const webPath = path.join(scratch, 'interlaced-web.mp4');
      await fs.writeFile(webPath, (await download(web.body.presignedUrl)).body);
      const stream = (await ffprobeStreams(webPath)).streams.find((item: any) => item.codec_type === 'video');
      expect(stream).toMatchObject({ width: 768, height: 576, sample_aspect_ratio: '1:1' });
      expect(['progressive', undefined]).toContain(stream.field_order);
    } finally {
      await fx.service.api('PATCH', `/api/v1/teams/${team.id}`, { body: { freeClipEnabled: true } });
    }
  }, 150_000);

  it.each([
    ['audio-only', 'NOT_A_VIDEO', 'the file has no video stream with pictures: it holds audio (aac)'],
    [
      'truncated',
      'MEDIA_UNREADABLE',
      'the file could not be read as a video: its MP4/MOV index (moov atom) is missing, so it is truncated or not a video',
    ],
    [
      'not-video',
      'MEDIA_UNREADABLE',
      'the file could not be read as a video: it is not in a media format ffprobe recognises (corrupted, truncated or not a video)',
    ],
  ] as const)(
    'ends the ingestion of %s FAILED with %s and keeps the copied file',
    async (name, code, message) => {
      const videoId = await importFixture(name, true);
      const video = await fx.service.waitForVideo(videoId, ingestionEnded);
      expect(video.ingestion.ingestionState).toMatchObject({
        ingestionStatus: 'FAILED',
        videoMetadataAvailable: false,
        error: { code },
      });
      expect(video.ingestion.ingestionState.error.message).toBe(message);
      expect(video.upload.uploadState.uploadStatus).toBe('DONE');
      const link = await fx.service.api('POST', `/api/v1/videos/${videoId}/out/https`, {
        headers: { 'content-type': 'application/json', 'content-length': '0' },
      });
      expect(link.status).toBe(200);
      const copied = await download(link.body.presignedUrl);
      expect(copied.body.equals(await fs.readFile(await mediaFixture(name)))).toBe(true);
      expect(await eventTypes(videoId)).toEqual([
        'video_in.started',
        'video_in.done',
        'video_in_ingestion.started',
        'video_in_ingestion.failed',
      ]);
      expect((await fx.service.api('GET', `/api/v1/videos/${videoId}/derived`)).body.totalElements).toBe(0);
    },
    60_000,
  );

  it('clips a video of 10 seconds or less whole', async () => {
    const masterId = await importFixture('short-4s', false);
    const clipId = (await fx.service.waitForVideo(masterId, (video) => video.clipId !== null)).clipId as string;
    const clip = await fx.service.waitForVideo(clipId, ingestionEnded, 90_000);
    const master = (await fx.service.api('GET', `/api/v1/videos/${masterId}`)).body;
    expect(clip.processing.sourceVideo).toEqual({
      videoId: masterId,
      startPositionMilliseconds: 0,
      endPositionMilliseconds: master.ingestion.metadata.durationInMillis,
    });
    expect(clip.ingestion.metadata.totalFrames).toBe(master.ingestion.metadata.totalFrames);
    expect(clip.ingestion.ingestionState.ingestionStatus).toBe('DONE');
  }, 120_000);
});
