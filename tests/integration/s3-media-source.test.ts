/**
 * ffprobe and ffmpeg read a source straight from S3 through the store's pre-signed URL: the
 * metadata probe of an MP4 whose index (moov) sits at the end must seek there with a range request,
 * and a cut from the middle must seek again.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoverMediaTools, type MediaTools } from '../../src/media/ffmpeg-tools.js';
import { probeVideoMetadata } from '../../src/media/ffprobe.js';
import { inputArgs, mediaInputOf, probedInput } from '../../src/media/media-input.js';
import { NotAVideoError } from '../../src/media/metadata.js';
import { ChildProcessRunner } from '../../src/media/process-runner.js';
import { videoSourceKey } from '../../src/storage/blob-keys.js';
import { createS3Store, type S3StoreHandle } from '../../src/storage/s3-client.js';
import { mediaFixture } from '../support/media-fixtures.js';
import { startS3TestServer, type S3TestServer } from '../support/s3-server.js';
import { createReadStream } from 'node:fs';

describe('media sources on S3', () => {
  const runner = new ChildProcessRunner();
  let tools: MediaTools;
  let server: S3TestServer;
  let handle: S3StoreHandle;
  let workDir: string;

  beforeAll(async () => {
    tools = await discoverMediaTools({
      pathEnv: process.env.PATH ?? '',
      runner,
      ffmpegPath: process.env.REELIN_FFMPEG_PATH,
      ffprobePath: process.env.REELIN_FFPROBE_PATH,
    });
    server = await startS3TestServer();
    await server.createBucket('media');
    handle = createS3Store(
      {
        bucket: 'media',
        region: server.region,
        endpoint: server.endpoint,
        forcePathStyle: true,
        keyPrefix: '',
        maxSockets: 8,
      },
      { connectTimeoutMs: 5_000, idleTimeoutMs: 30_000, credentials: server.credentials },
    );
    workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-s3-media-'));
  });

  afterAll(async () => {
    handle?.destroy();
    await server?.close();
    await fs.rm(workDir, { recursive: true, force: true });
  });

  async function stored(fixture: Parameters<typeof mediaFixture>[0]): Promise<{ url: string; sizeBytes: number }> {
    const key = videoSourceKey(randomUUID(), randomUUID());
    const { sizeBytes } = await handle.store.put(key, createReadStream(await mediaFixture(fixture)));
    return { url: await handle.store.mediaSource(key, 3600), sizeBytes };
  }

  it('probes an MP4 with its index at the end through the pre-signed URL, reaching the index with a further ranged request', async () => {
    const { url, sizeBytes } = await stored('progressive');
    const getsBefore = server.requestCounts().GetObject ?? 0;
    const probed = await probeVideoMetadata(runner, tools, mediaInputOf(url));
    expect(probed.metadata).toMatchObject({
      frameWidth: 640,
      frameHeight: 360,
      durationInMillis: 12_000,
      totalFrames: 300,
      size: sizeBytes,
      containerName: 'MP4',
    });
    expect(probed.metadata.scanning.metadata).toBe('PROGRESSIVE');
    expect(probed.hasAudio).toBe(true);
    // The moov at the end is reached by a second, ranged request.
    expect((server.requestCounts().GetObject ?? 0) - getsBefore).toBeGreaterThanOrEqual(2);
    expect(sizeBytes).toBeGreaterThan(100_000);
  });

  it('cuts two seconds from the middle with ffmpeg seeking in the pre-signed URL, with only http and tcp allowed', async () => {
    const { url } = await stored('progressive');
    const input = probedInput(url, { demuxer: 'mov,mp4,m4a,3gp,3g2,mj2' });
    expect(input.protocols).toEqual(['http', 'tcp']);
    const output = path.join(workDir, 'cut.mp4');
    await runner.run(
      tools.ffmpegPath,
      [
        '-hide_banner',
        '-nostdin',
        '-loglevel',
        'error',
        '-y',
        ...inputArgs(input, ['-ss', '6']),
        '-t',
        '2',
        '-c',
        'copy',
        output,
      ],
      {},
    );
    const probed = await probeVideoMetadata(runner, tools, mediaInputOf(output));
    expect(probed.metadata.durationInMillis).toBeGreaterThanOrEqual(1_900);
    expect(probed.metadata.durationInMillis).toBeLessThanOrEqual(2_600);
  });

  it('reports a stored file that is not a video as NotAVideoError', async () => {
    const { url } = await stored('not-video');
    await expect(probeVideoMetadata(runner, tools, mediaInputOf(url))).rejects.toBeInstanceOf(NotAVideoError);
  });
});
