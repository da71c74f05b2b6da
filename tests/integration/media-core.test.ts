/**
 * The media core against the real ffmpeg/ffprobe: the runner (progress, abort, failures), tool
 * discovery, metadata of every named fixture, the web video and the frame-exact clip.
 */
import { randomUUID } from 'node:crypto';
import { open, readdir, readFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooseClipWindow } from '../../src/domain/clip-window.js';
import { clipCutArgs } from '../../src/media/clip-cut.js';
import { discoverMediaTools, type MediaTools } from '../../src/media/ffmpeg-tools.js';
import { probeVideoMetadata } from '../../src/media/ffprobe.js';
import { mediaInputOf, probedInput } from '../../src/media/media-input.js';
import { NotAVideoError, type VideoMetadata } from '../../src/media/metadata.js';
import { ChildProcessRunner, MediaProcessError, type FfmpegProgress } from '../../src/media/process-runner.js';
import { webVideoArgs } from '../../src/media/web-video.js';
import { mediaFixture, type MediaFixtureName } from '../support/media-fixtures.js';
import { until } from '../support/wait.js';

const runner = new ChildProcessRunner();
let tools: MediaTools;
let workDir: string;

beforeAll(async () => {
  tools = await discoverMediaTools({
    pathEnv: process.env.PATH ?? '',
    runner,
    ffmpegPath: process.env.REELIN_FFMPEG_PATH,
    ffprobePath: process.env.REELIN_FFPROBE_PATH,
  });
  workDir = await mkdtemp(path.join(os.tmpdir(), 'reelin-media-core-'));
});

afterAll(async () => {
  runner.killAll();
  await rm(workDir, { recursive: true, force: true });
});

/** An MP4 as every run after the probe opens it: the QuickTime demuxer forced, both whitelists. */
const mp4 = (file: string) => probedInput(file, { demuxer: 'mov,mp4,m4a,3gp,3g2,mj2' });

/** Pids of live (non-zombie) processes whose command line contains `marker`. */
async function processesWith(marker: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(marker)) found.push(Number(entry));
  }
  return found;
}

/** Waits (2 s at most) until no process with `marker` is left; the timeout names the pids still there. */
async function waitUntilGone(marker: string): Promise<number[]> {
  return until(
    `processes with ${marker} to end`,
    () => processesWith(marker),
    (left) => left.length === 0,
    {
      timeoutMs: 2_000,
      intervalMs: 50,
    },
  );
}

describe('ChildProcessRunner', () => {
  it('reports ffmpeg progress blocks ending with a done block', async () => {
    const events: FfmpegProgress[] = [];
    const result = await runner.run(
      tools.ffmpegPath,
      [
        '-hide_banner',
        '-nostdin',
        '-re',
        '-f',
        'lavfi',
        '-i',
        'testsrc2=size=160x90:rate=25:duration=1.2',
        '-progress',
        'pipe:1',
        '-nostats',
        '-f',
        'null',
        '-',
      ],
      { onProgress: (progress) => events.push(progress) },
    );
    expect(result.stdout).toBe('');
    expect(events.length).toBeGreaterThanOrEqual(2);
    expect(events.at(-1)).toMatchObject({ done: true, frame: 30 });
    expect(events.at(-1)?.outTimeMs).toBeGreaterThanOrEqual(1100);
    expect(events.slice(0, -1).every((event) => !event.done)).toBe(true);
  });

  it('kills the whole process group on abort and rejects with the reason', async () => {
    const marker = `97.${Math.floor(Math.random() * 1e6)}`;
    const controller = new AbortController();
    const run = runner.run('/bin/sh', ['-c', `sleep ${marker}1 & sleep ${marker}2 & wait`], {
      signal: controller.signal,
    });
    await expect.poll(() => processesWith(marker), { timeout: 5_000 }).toHaveLength(3);
    const reason = new Error('shutting down');
    controller.abort(reason);
    await expect(run).rejects.toBe(reason);
    expect(await waitUntilGone(marker)).toEqual([]);
  });

  it('stops a running ffmpeg on abort', async () => {
    const marker = `duration=3333.${Math.floor(Math.random() * 1e6)}`;
    const controller = new AbortController();
    const run = runner.run(
      tools.ffmpegPath,
      [
        '-hide_banner',
        '-nostdin',
        '-re',
        '-f',
        'lavfi',
        '-i',
        `testsrc2=size=160x90:rate=25:${marker}`,
        '-progress',
        'pipe:1',
        '-nostats',
        '-f',
        'null',
        '-',
      ],
      {
        signal: controller.signal,
        onProgress: () => controller.abort(),
      },
    );
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(await waitUntilGone(marker)).toEqual([]);
  });

  it('fails the run, and stops ffmpeg, when a progress listener throws', async () => {
    const marker = `duration=3334.${Math.floor(Math.random() * 1e6)}`;
    const run = runner.run(
      tools.ffmpegPath,
      [
        '-hide_banner',
        '-nostdin',
        '-re',
        '-f',
        'lavfi',
        '-i',
        `testsrc2=size=160x90:rate=25:${marker}`,
        '-progress',
        'pipe:1',
        '-nostats',
        '-f',
        'null',
        '-',
      ],
      {
        onProgress: () => {
          throw new Error('listener broke');
        },
      },
    );
    await expect(run).rejects.toThrow('listener broke');
    expect(await waitUntilGone(marker)).toEqual([]);
  });

  it('rejects with a MediaLimitError of kind time when the time limit passes', async () => {
    await expect(runner.run('/bin/sleep', ['30'], { timeoutMs: 200 })).rejects.toMatchObject({
      name: 'MediaLimitError',
      kind: 'time',
      message: 'sleep did not finish within its time limit of 0.2 s, so it was stopped',
    });
  });

  it('turns a non-zero exit into a MediaProcessError with the tail of stderr', async () => {
    const error: unknown = await runner
      .run(tools.ffmpegPath, ['-hide_banner', '-nostdin', '-i', path.join(workDir, 'missing.mp4')])
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MediaProcessError);
    expect(error).toMatchObject({ exitCode: 1, signal: null, binary: tools.ffmpegPath });
    expect((error as MediaProcessError).message).toMatch(
      /^ffmpeg exited with code 1: .*missing\.mp4: No such file or directory$/,
    );
    expect((error as MediaProcessError).stderrTail).toContain('No such file or directory');
  });

  it('reports a binary that cannot start', async () => {
    await expect(runner.run(path.join(workDir, 'no-such-binary'), [])).rejects.toMatchObject({
      name: 'MediaProcessError',
      exitCode: null,
      message: expect.stringContaining('could not be started'),
    });
  });

  it('stops a process that writes more than maxStdoutBytes', async () => {
    await expect(runner.run('/bin/sh', ['-c', 'yes reelin'], { maxStdoutBytes: 10_000 })).rejects.toThrow(
      'sh wrote more than 10000 bytes to stdout, so it was stopped',
    );
  });
});

/** Whether the optional npm packages with bundled binaries are installed (they are optional dependencies). */
async function isInstalled(packageName: string): Promise<boolean> {
  return import(packageName).then(
    () => true,
    () => false,
  );
}
const bundledInstalled =
  (await isInstalled('@ffmpeg-installer/ffmpeg')) && (await isInstalled('@ffprobe-installer/ffprobe'));

describe('discoverMediaTools', () => {
  it('finds ffmpeg 5 or newer with every feature available', () => {
    expect(tools.ffmpegVersion).toMatch(/^(n?[5-9]|N-|\d{2})/);
    expect(tools.filters.has('idet')).toBe(true);
    expect(tools.encoders.has('libx264')).toBe(true);
    expect([...tools.unavailable]).toEqual([]);
  });

  it.runIf(bundledInstalled)(
    'falls back to the bundled binaries when PATH has none, and says what their build lacks',
    async () => {
      const bundled = await discoverMediaTools({ pathEnv: '', runner });
      expect(bundled).toMatchObject({ source: 'bundled', ffprobeSource: 'bundled' });
      expect(bundled.ffmpegPath).toContain('@ffmpeg-installer');
      expect(bundled.encoders.has('libx264')).toBe(true);
      for (const [feature, reason] of bundled.unavailable) {
        expect(reason, feature).toMatch(
          /needs the .* (filter|encoder).*, which ffmpeg .* lacks; install an ffmpeg build that has (it|them)$/,
        );
      }
      // The bundled build predates blurdetect (ffmpeg 5.1), so the quality assessment is reported, not faked.
      expect(bundled.unavailable.has('qualityAssessment')).toBe(!bundled.filters.has('blurdetect'));
    },
  );

  it.runIf(!bundledInstalled)(
    'fails with one clear sentence when neither PATH nor the optional packages have ffmpeg',
    async () => {
      await expect(discoverMediaTools({ pathEnv: '', runner })).rejects.toThrow(
        /^no usable ffmpeg was found: install ffmpeg 5 or newer/,
      );
    },
  );
});

type Expected = Partial<Omit<VideoMetadata, 'durationInMillis'>> & { durationInMillis: number };

const expectations: Record<
  Exclude<MediaFixtureName, 'audio-only' | 'truncated' | 'not-video'>,
  { metadata: Expected; rotationDegrees?: number; hasAudio: boolean }
> = {
  progressive: {
    hasAudio: true,
    metadata: {
      containerName: 'MP4',
      codecName: 'h264',
      pixelFormatName: 'yuv420p',
      primaryBitDepth: 8,
      frameWidth: 640,
      frameHeight: 360,
      displayAspectRatio: { ratio: 1.78, tag: '16:9' },
      scanning: { metadata: 'PROGRESSIVE', heuristics: null },
      averageFrameRate: { frameRate: 25, rational: '25:1' },
      durationInMillis: 12_000,
      totalFrames: 300,
      hdrStandardName: null,
    },
  },
  'interlaced-tff': {
    hasAudio: true,
    metadata: {
      frameWidth: 720,
      frameHeight: 576,
      displayAspectRatio: { ratio: 1.33, tag: '4:3' },
      scanning: { metadata: 'INTERLACED_TOP_FIRST', heuristics: null },
      averageFrameRate: { frameRate: 25, rational: '25:1' },
      durationInMillis: 6000,
      totalFrames: 150,
    },
  },
  'interlaced-bff': {
    hasAudio: true,
    metadata: {
      frameWidth: 720,
      frameHeight: 576,
      scanning: { metadata: 'INTERLACED_BOTTOM_FIRST', heuristics: null },
      durationInMillis: 6000,
      totalFrames: 150,
    },
  },
  'interlaced-tff-unflagged': {
    hasAudio: true,
    metadata: {
      frameWidth: 720,
      frameHeight: 576,
      displayAspectRatio: { ratio: 1.33, tag: '4:3' },
      scanning: { metadata: 'PROGRESSIVE', heuristics: null },
      durationInMillis: 6000,
    },
  },
  'interlaced-bff-unflagged': {
    hasAudio: true,
    metadata: {
      frameWidth: 720,
      frameHeight: 576,
      scanning: { metadata: 'PROGRESSIVE', heuristics: null },
      durationInMillis: 6000,
    },
  },
  hdr10: {
    hasAudio: false,
    metadata: {
      pixelFormatName: 'yuv420p10le',
      primaryBitDepth: 10,
      frameWidth: 640,
      frameHeight: 360,
      colorRangeName: 'tv',
      colorSpaceName: 'bt2020nc',
      colorTransferName: 'smpte2084',
      colorPrimariesName: 'bt2020',
      hdrStandardName: 'HDR10',
      durationInMillis: 4000,
      totalFrames: 100,
    },
  },
  'short-4s': {
    hasAudio: true,
    metadata: {
      frameWidth: 640,
      frameHeight: 360,
      durationInMillis: 4000,
      totalFrames: 100,
      averageFrameRate: { frameRate: 25, rational: '25:1' },
    },
  },
  vfr: {
    hasAudio: false,
    metadata: { averageFrameRate: { frameRate: 17.241, rational: '500:29' }, totalFrames: 100, durationInMillis: 5800 },
  },
  rotated: {
    hasAudio: true,
    rotationDegrees: 270,
    metadata: {
      frameWidth: 360,
      frameHeight: 640,
      displayAspectRatio: { ratio: 0.56, tag: '9:16' },
      averageFrameRate: { frameRate: 30, rational: '30:1' },
      durationInMillis: 4000,
      totalFrames: 120,
    },
  },
};

describe('probeVideoMetadata', () => {
  it.each(Object.entries(expectations))('reads %s', async (name, expected) => {
    const file = await mediaFixture(name as MediaFixtureName);
    const probed = await probeVideoMetadata(runner, tools, mediaInputOf(file));
    const { durationInMillis, ...exact } = expected.metadata;
    expect(probed.metadata).toMatchObject(exact);
    expect(Math.abs((probed.metadata.durationInMillis ?? 0) - durationInMillis)).toBeLessThanOrEqual(50);
    expect(probed.metadata.size).toBeGreaterThan(1000);
    expect(probed.hasAudio).toBe(expected.hasAudio);
    // ffmpeg 5 writes `rotate=90` as a matrix ffprobe reads as 270° clockwise, ffmpeg 6+ as 90°: both stand the picture up.
    if (expected.rotationDegrees !== undefined) expect([90, 270]).toContain(probed.rotationDegrees);
  });

  it.each([
    {
      name: 'audio-only' as const,
      kind: 'NO_VIDEO_STREAM',
      message: 'the file has no video stream with pictures: it holds audio (aac)',
    },
    {
      name: 'truncated' as const,
      kind: 'UNREADABLE',
      message:
        'the file could not be read as a video: its MP4/MOV index (moov atom) is missing, so it is truncated or not a video',
    },
    {
      name: 'not-video' as const,
      kind: 'UNREADABLE',
      message: expect.stringMatching(/^the file could not be read as a video: /),
    },
  ])('rejects $name as not a video', async ({ name, kind, message }) => {
    const error: unknown = await probeVideoMetadata(runner, tools, mediaInputOf(await mediaFixture(name))).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(NotAVideoError);
    expect(error).toMatchObject({ kind, message });
  });
});

/** Top-level MP4 box types in file order. */
async function topLevelBoxes(file: string): Promise<string[]> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const boxes: string[] = [];
    const header = Buffer.alloc(16);
    for (let offset = 0; offset < size;) {
      await handle.read(header, 0, 16, offset);
      const small = header.readUInt32BE(0);
      const boxSize = small === 1 ? Number(header.readBigUInt64BE(8)) : small === 0 ? size - offset : small;
      boxes.push(header.toString('latin1', 4, 8));
      if (boxSize < 8) break;
      offset += boxSize;
    }
    return boxes;
  } finally {
    await handle.close();
  }
}

async function probeStreams(file: string, entries: string): Promise<Record<string, string>[]> {
  const { stdout } = await runner.run(tools.ffprobePath, [
    '-v',
    'error',
    '-of',
    'json',
    '-show_entries',
    entries,
    file,
  ]);
  return (JSON.parse(stdout) as { streams: Record<string, string>[] }).streams;
}

/** One frame as 64x36 grey bytes: enough to tell neighbouring frames of testsrc2 apart. */
async function greyFrame(file: string, index: number): Promise<Buffer> {
  const output = path.join(workDir, `frame-${randomUUID()}.gray`);
  await runner.run(tools.ffmpegPath, [
    '-hide_banner',
    '-nostdin',
    '-v',
    'error',
    '-i',
    file,
    '-vf',
    `select=eq(n\\,${index}),scale=64:36,format=gray`,
    '-frames:v',
    '1',
    '-f',
    'rawvideo',
    output,
  ]);
  return readFile(output);
}

function meanDifference(a: Buffer, b: Buffer): number {
  expect(a.length).toBe(64 * 36);
  expect(b.length).toBe(64 * 36);
  let sum = 0;
  for (let i = 0; i < a.length; i += 1) sum += Math.abs((a[i] ?? 0) - (b[i] ?? 0));
  return sum / a.length;
}

describe('web video', () => {
  it('turns the interlaced PAL fixture into progressive square-pixel yuv420p H.264 with faststart', async () => {
    const output = path.join(workDir, `web-${randomUUID()}.mp4`);
    const events: FfmpegProgress[] = [];
    await runner.run(
      tools.ffmpegPath,
      webVideoArgs({
        input: mp4(await mediaFixture('interlaced-tff')),
        output,
        source: { width: 720, height: 576, sampleAspect: [16, 15], deinterlace: true, hasAudio: true },
      }),
      { onProgress: (progress) => events.push(progress) },
    );
    expect(events.at(-1)?.done).toBe(true);
    const [video, audio] = await probeStreams(
      output,
      'stream=codec_name,width,height,sample_aspect_ratio,pix_fmt,field_order',
    );
    expect(video).toEqual({
      codec_name: 'h264',
      width: 768,
      height: 576,
      sample_aspect_ratio: '1:1',
      pix_fmt: 'yuv420p',
      field_order: 'progressive',
    });
    expect(audio).toMatchObject({ codec_name: 'aac' });
    const boxes = await topLevelBoxes(output);
    expect(boxes.indexOf('moov')).toBeGreaterThanOrEqual(0);
    expect(boxes.indexOf('moov')).toBeLessThan(boxes.indexOf('mdat'));
  });
});

describe('web video of HDR', () => {
  it('tone-maps the HDR10 fixture to SDR BT.709, brighter than a plain 8-bit conversion', async () => {
    const input = mp4(await mediaFixture('hdr10'));
    const source = { width: 640, height: 360, deinterlace: false, hasAudio: false };
    const mapped = path.join(workDir, `web-hdr-${randomUUID()}.mp4`);
    const flat = path.join(workDir, `web-flat-${randomUUID()}.mp4`);
    await runner.run(tools.ffmpegPath, webVideoArgs({ input, output: mapped, source: { ...source, toneMap: true } }), {
      onProgress: () => undefined,
    });
    await runner.run(tools.ffmpegPath, webVideoArgs({ input, output: flat, source }), { onProgress: () => undefined });
    const [video] = await probeStreams(mapped, 'stream=codec_name,pix_fmt,color_transfer,color_primaries,color_space');
    expect(video).toEqual({
      codec_name: 'h264',
      pix_fmt: 'yuv420p',
      color_transfer: 'bt709',
      color_primaries: 'bt709',
      color_space: 'bt709',
    });
    // PQ code values shown as if they were SDR look dim: mid-grey code is about 100 nits, which
    // tone mapping shows near SDR white.
    const mean = async (file: string): Promise<number> => {
      const grey = await greyFrame(file, 50);
      return grey.reduce((sum, value) => sum + value, 0) / grey.length;
    };
    const [mappedMean, flatMean] = [await mean(mapped), await mean(flat)];
    console.log(`HDR10 web video mean luma: tone-mapped ${mappedMean.toFixed(1)}, plain ${flatMean.toFixed(1)}`);
    expect(mappedMean).toBeGreaterThan(flatMean * 1.1);
  });
});

describe('clip', () => {
  it('cuts exactly the chosen 250 frames of the progressive fixture, starting on the right frame', async () => {
    const source = await mediaFixture('progressive');
    const window = chooseClipWindow(12_000, 25);
    expect(window).toMatchObject({ startMs: 600, startFrame: 15, frameCount: 250 });
    const output = path.join(workDir, `clip-${randomUUID()}.mov`);
    await runner.run(
      tools.ffmpegPath,
      clipCutArgs({
        input: mp4(source),
        output,
        startMs: window.startMs,
        durationMs: window.endMs - window.startMs,
        frameCount: window.frameCount ?? undefined,
        hasAudio: true,
      }),
      { onProgress: () => undefined },
    );

    const [video, audio] = await probeStreams(output, 'stream=codec_name,profile,pix_fmt,nb_frames,duration');
    expect(video).toEqual({
      codec_name: 'prores',
      profile: 'HQ',
      pix_fmt: 'yuv422p10le',
      nb_frames: '250',
      duration: '10.000000',
    });
    expect(audio).toMatchObject({ codec_name: 'pcm_s24le', duration: '10.000000' });

    const [first, last] = await Promise.all([greyFrame(output, 0), greyFrame(output, 249)]);
    const distances = await Promise.all(
      [14, 15, 16].map(async (index) => meanDifference(first, await greyFrame(source, index))),
    );
    expect(distances[1]).toBeLessThan(1);
    expect(distances[1]).toBeLessThan(Math.min(distances[0] ?? 0, distances[2] ?? 0) / 3);
    expect(meanDifference(last, await greyFrame(source, 264))).toBeLessThan(1);
  });

  it('clips a 4 s video whole', async () => {
    const window = chooseClipWindow(4000, 25);
    expect(window).toEqual({ startMs: 0, endMs: 4000, frameCount: null, startFrame: null, isWholeVideo: true });
    const output = path.join(workDir, `clip-${randomUUID()}.mov`);
    await runner.run(
      tools.ffmpegPath,
      clipCutArgs({ input: mp4(await mediaFixture('short-4s')), output, startMs: 0, durationMs: 4000, hasAudio: true }),
    );
    const [video] = await probeStreams(output, 'stream=codec_name,nb_frames,duration');
    expect(video).toEqual({ codec_name: 'prores', nb_frames: '100', duration: '4.000000' });
  });
});
