/**
 * Quality assessment, scan-type analysis and stills against real ffmpeg and the named fixtures.
 * Derived videos (blurred, noisier, black lead-in) are made here from the progressive fixture.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QualityAssessment, QualityMetricName } from '../../src/domain/quality-scoring.js';
import { discoverMediaTools, type MediaTools } from '../../src/media/ffmpeg-tools.js';
import { probedInput } from '../../src/media/media-input.js';
import { ChildProcessRunner } from '../../src/media/process-runner.js';
import { assessQuality } from '../../src/media/quality.js';
import { analyzeScanType } from '../../src/media/scan-type.js';
import { extractStills, type Still } from '../../src/media/stills.js';
import { mediaFixture, type MediaFixtureName } from '../support/media-fixtures.js';

const runner = new ChildProcessRunner();
let tools: MediaTools;
let workDir: string;
let progressive: string;

async function ffmpeg(args: string[]): Promise<string> {
  const { stdout } = await runner.run(tools.ffmpegPath, [
    '-hide_banner',
    '-nostdin',
    '-loglevel',
    'error',
    '-y',
    ...args,
  ]);
  return stdout;
}

/** Re-encodes the progressive fixture through `filter` (video only). */
async function derive(name: string, filter: string): Promise<string> {
  const output = path.join(workDir, `${name}.mp4`);
  await ffmpeg([
    '-i',
    progressive,
    '-vf',
    filter,
    '-an',
    '-c:v',
    'libx264',
    '-preset',
    'superfast',
    '-crf',
    '18',
    '-pix_fmt',
    'yuv420p',
    output,
  ]);
  return output;
}

async function probeImage(file: string): Promise<{ codec: string; width: number; height: number }> {
  const { stdout } = await runner.run(tools.ffprobePath, [
    '-v',
    'error',
    '-show_entries',
    'stream=codec_name,width,height',
    '-of',
    'json',
    file,
  ]);
  const stream = (JSON.parse(stdout) as { streams: { codec_name: string; width: number; height: number }[] })
    .streams[0];
  if (stream === undefined) throw new Error(`${file} has no image stream`);
  return { codec: stream.codec_name, width: stream.width, height: stream.height };
}

async function averageLuma(file: string): Promise<number> {
  const stdout = await ffmpeg([
    '-i',
    file,
    '-vf',
    'format=yuv420p,signalstats,metadata=mode=print:key=lavfi.signalstats.YAVG:file=-',
    '-f',
    'null',
    '-',
  ]);
  return Number(/lavfi\.signalstats\.YAVG=([\d.]+)/.exec(stdout)?.[1]);
}

/** An MP4 as every run after the probe opens it: the QuickTime demuxer forced, both whitelists. */
const mp4 = (file: string) => probedInput(file, { demuxer: 'mov,mp4,m4a,3gp,3g2,mj2' });

const metricOf = (assessment: QualityAssessment, name: QualityMetricName) => {
  const metric = assessment.metrics.find((m) => m.name === name);
  if (metric === undefined) throw new Error(`no ${name} metric in ${JSON.stringify(assessment)}`);
  return metric;
};

beforeAll(async () => {
  tools = await discoverMediaTools({
    pathEnv: process.env.PATH ?? '',
    runner,
    ffmpegPath: process.env.REELIN_FFMPEG_PATH,
    ffprobePath: process.env.REELIN_FFPROBE_PATH,
  });
  workDir = await mkdtemp(path.join(os.tmpdir(), 'reelin-media-analysis-'));
  progressive = await mediaFixture('progressive');
}, 120_000);

afterAll(async () => {
  if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
});

describe('assessQuality', () => {
  it('scores a blurred copy lower on details and a noisier copy lower on noise, by a wide margin', async () => {
    const [blurred, noisy] = await Promise.all([
      derive('blurred', 'gblur=sigma=3'),
      derive('noisy', 'noise=alls=25:allf=t'),
    ]);
    const source = { durationMs: 12_000, width: 640, height: 360, bitDepth: 8 };
    const original = await assessQuality(runner, tools, { input: mp4(progressive), ...source });
    const blur = await assessQuality(runner, tools, { input: mp4(blurred), ...source });
    const noise = await assessQuality(runner, tools, { input: mp4(noisy), ...source });
    console.log(JSON.stringify({ original, blur, noise }));

    for (const assessment of [original, blur, noise]) {
      expect(assessment.metrics.map((m) => m.name)).toEqual(['noise', 'details', 'colors', 'compression']);
      for (const metric of assessment.metrics) {
        expect(metric.subjectiveScore).toBeGreaterThanOrEqual(0);
        expect(metric.subjectiveScore).toBeLessThanOrEqual(5);
        expect(['untenable', 'poor', 'fair', 'good', 'excellent']).toContain(metric.subjectiveLabel);
      }
    }
    // details: edge width in pixels, so a blurrier picture has a larger sample mean and a lower score.
    expect(metricOf(blur, 'details').sampleMean).toBeGreaterThan(1.5 * metricOf(original, 'details').sampleMean);
    expect(metricOf(blur, 'details').subjectiveScore).toBeLessThanOrEqual(
      metricOf(original, 'details').subjectiveScore - 1.5,
    );
    // noise: RMS residual, so a noisier picture has a larger sample mean and a lower (less clean) score.
    expect(metricOf(noise, 'noise').sampleMean).toBeGreaterThan(3 * metricOf(original, 'noise').sampleMean);
    expect(metricOf(noise, 'noise').subjectiveScore).toBeLessThanOrEqual(
      metricOf(original, 'noise').subjectiveScore - 1.5,
    );
    expect(blur.overallSubjectiveScore).toBeLessThan(original.overallSubjectiveScore);
    expect(noise.overallSubjectiveScore).toBeLessThan(original.overallSubjectiveScore);
  });

  it('does not count the combing of an interlaced source as noise when asked to deinterlace', async () => {
    const input = await mediaFixture('interlaced-tff');
    const source = { input: mp4(input), durationMs: 6_000, width: 720, height: 576, bitDepth: 8 };
    const combed = await assessQuality(runner, tools, source);
    const deinterlaced = await assessQuality(runner, tools, { ...source, deinterlace: true });
    // Measured: about 5.8 combed, 3.0 deinterlaced (bwdif leaves some residue on testsrc2's fine lines).
    expect(metricOf(deinterlaced, 'noise').sampleMean).toBeLessThan(0.7 * metricOf(combed, 'noise').sampleMean);
  });
});

describe('analyzeScanType', () => {
  it.each<[MediaFixtureName, string, number]>([
    ['progressive', 'PROGRESSIVE', 12_000],
    ['interlaced-tff', 'INTERLACED_TOP_FIRST', 6_000],
    ['interlaced-bff', 'INTERLACED_BOTTOM_FIRST', 6_000],
    ['interlaced-tff-unflagged', 'INTERLACED_TOP_FIRST', 6_000],
    ['interlaced-bff-unflagged', 'INTERLACED_BOTTOM_FIRST', 6_000],
  ])('finds %s to be %s from its pictures', async (name, expected, durationMs) => {
    const result = await analyzeScanType(runner, tools, { input: mp4(await mediaFixture(name)), durationMs });
    expect(result.scanType).toBe(expected);
    const { tff, bff, progressive: progressiveFrames, undetermined } = result.counts;
    expect(tff + bff + progressiveFrames + undetermined).toBeGreaterThanOrEqual(100);
  });

  it('samples segments spread over a long video', async () => {
    // 30 s is past the whole-video limit, so six keyframe-seeked segments of at most 100 frames are read.
    const long = path.join(workDir, 'long-interlaced.mp4');
    const input = await mediaFixture('interlaced-bff-unflagged');
    await ffmpeg(['-stream_loop', '4', '-i', input, '-an', '-c', 'copy', long]);
    const result = await analyzeScanType(runner, tools, { input: mp4(long), durationMs: 30_000 });
    expect(result.scanType).toBe('INTERLACED_BOTTOM_FIRST');
    const total = result.counts.tff + result.counts.bff + result.counts.progressive + result.counts.undetermined;
    expect(total).toBeGreaterThan(300);
    expect(total).toBeLessThanOrEqual(600);
  });
});

describe('extractStills', () => {
  async function expectImages(stills: readonly Still[], codec: string, width: number, height: number): Promise<void> {
    for (const still of stills) {
      expect(still.bytes).toBeGreaterThan(0);
      expect([still.width, still.height]).toEqual([width, height]);
      expect(await probeImage(still.path)).toEqual({ codec, width, height });
    }
  }

  it('takes no thumbnail from a black lead-in or its fade, and writes valid images of the right sizes', async () => {
    // 2 s of black, then a 1 s fade-in, then the 12 s progressive fixture: 14 s in all.
    const input = await derive('lead-in', 'tpad=start_duration=2:color=black,fade=t=in:st=2:d=1');
    const outputDir = path.join(workDir, 'stills-lead-in');
    const result = await extractStills(runner, tools, {
      input: mp4(input),
      outputDir,
      durationMs: 14_000,
      count: 4,
      deinterlace: false,
      thumbnailFormat: 'jpeg',
    });
    console.log(JSON.stringify(result.thumbnails.map((still) => still.timestampMs)));

    expect(result.thumbnails).toHaveLength(4);
    expect(result.fullFrames.map((still) => still.timestampMs)).toEqual(
      result.thumbnails.map((still) => still.timestampMs),
    );
    // The first instant (1.75 s) is in the black; the still must come after the fade has nearly ended.
    expect(result.thumbnails[0]?.timestampMs).toBeGreaterThanOrEqual(2_500);
    expect(result.thumbnails[0]?.timestampMs).toBeLessThan(3_750);
    expect(result.thumbnails.slice(1).map((still) => still.timestampMs)).toEqual([5_250, 8_750, 12_250]);
    for (const still of result.thumbnails) expect(await averageLuma(still.path)).toBeGreaterThan(60);
    await expectImages(result.thumbnails, 'mjpeg', 320, 180);
    await expectImages(result.fullFrames, 'png', 640, 360);
    await expectImages([result.poster], 'mjpeg', 640, 360);
    expect(result.thumbnails.map((still) => still.timestampMs)).toContain(result.poster.timestampMs);
    expect(path.dirname(result.poster.path)).toBe(outputDir);
  });

  it('deinterlaces and corrects the sample aspect ratio of an interlaced PAL source, in WebP', async () => {
    const input = await mediaFixture('interlaced-tff');
    const outputDir = path.join(workDir, 'stills-pal');
    const result = await extractStills(runner, tools, {
      input: mp4(input),
      outputDir,
      durationMs: 6_000,
      count: 2,
      deinterlace: true,
      thumbnailFormat: 'webp',
    });
    expect(result.thumbnails.map((still) => still.timestampMs)).toEqual([1_500, 4_500]);
    // 720x576 with SAR 16:15 is shown 768x576 (4:3).
    await expectImages(result.thumbnails, 'webp', 320, 240);
    await expectImages(result.fullFrames, 'png', 768, 576);
    await expectImages([result.poster], 'webp', 768, 576);
  });

  it('follows the display rotation of a phone video', async () => {
    const input = await mediaFixture('rotated');
    const result = await extractStills(runner, tools, {
      input: mp4(input),
      outputDir: path.join(workDir, 'stills-rotated'),
      durationMs: 4_000,
      count: 1,
      deinterlace: false,
      thumbnailFormat: 'jpeg',
    });
    await expectImages(result.thumbnails, 'mjpeg', 320, 568);
    await expectImages(result.fullFrames, 'png', 360, 640);
  });
});
