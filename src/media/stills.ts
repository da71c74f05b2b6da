/**
 * Stills: thumbnails, lossless full frames and a poster, taken at evenly spaced instants.
 *
 * How it works: one analysis run opens the file once per instant (accurate input seeking), measures
 * the luma of every frame in a short window after each instant on a 160 px copy, tags each frame with
 * its instant and prints the tags to stdout. A pure rule (src/domain/still-instants.ts) picks, per
 * window, the first frame that is neither black nor mid-fade, and the most varied of the picks for
 * the poster. Then one run per instant seeks the same way, which yields the same decoded frames, so
 * `trim=start_frame=k` lands on exactly the analysed frame, and writes that frame's thumbnail and
 * full frame (and the poster) together. Sizes are read from the written image headers.
 *
 * Images are display-oriented (ffmpeg applies the rotation) with square pixels: a source whose
 * sample aspect ratio is not 1 is resampled horizontally to its display width, which is the only
 * case where the PNG full frame is not a lossless copy of the decoded picture (besides the YUV to RGB
 * conversion that every PNG needs). Interlaced sources are deinterlaced (bwdif, else yadif) first.
 */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  choosePosterIndex,
  defaultStillThresholds,
  pickStillFrame,
  planStillInstants,
  stillWindowMs,
  type StillFrameStats,
} from '../domain/still-instants.js';
import type { MediaTools } from './ffmpeg-tools.js';
import { inputArgs, type MediaInput } from './media-input.js';
import type { ProcessRunner, RunOptions } from './process-runner.js';
import {
  chooseDeinterlaceFilter,
  finiteTag,
  formatSeconds,
  parseMetadataPrint,
  requireFilters,
} from './filter-graph.js';

export type ThumbnailFormat = 'jpeg' | 'webp';

export interface Still {
  /** Position of the frame in the video, milliseconds. */
  timestampMs: number;
  path: string;
  width: number;
  height: number;
  bytes: number;
}

export interface StillsInput {
  input: MediaInput;
  /** Existing or new folder the images are written to, as thumbnail-01.jpg, full-frame-01.png, poster.jpg. */
  outputDir: string;
  durationMs: number;
  count: number;
  /** True when the pictures are interlaced (declared or found by scan-type analysis). */
  deinterlace: boolean;
  thumbnailFormat: ThumbnailFormat;
}

export const THUMBNAIL_WIDTH = 320;
export const POSTER_MAX_WIDTH = 1280;
const ANALYSIS_WIDTH = 160;

export function buildStillAnalysisArgs(input: MediaInput, instantsMs: readonly number[], windowMs: number): string[] {
  const inputs = instantsMs.flatMap((ms) => inputArgs(input, ['-ss', formatSeconds(ms), '-noautorotate']));
  const chains = instantsMs.map(
    (_, index) =>
      `[${index}:v:0]trim=duration=${formatSeconds(windowMs)},setpts=PTS-STARTPTS,scale=w=${ANALYSIS_WIDTH}:h=-2,format=yuv420p,` +
      `signalstats,entropy,metadata=mode=add:key=reelin.still:value=${index}[s${index}]`,
  );
  const joined = instantsMs.map((_, index) => `[s${index}]`).join('');
  const graph = [...chains, `${joined}concat=n=${instantsMs.length}:v=1:a=0,metadata=mode=print:file=-[out]`].join(';');
  return [
    '-hide_banner',
    '-nostdin',
    '-loglevel',
    'error',
    ...inputs,
    '-filter_complex',
    graph,
    '-map',
    '[out]',
    '-f',
    'null',
    '-',
  ];
}

/** Groups printed frames by their instant tag; offsets are relative to each window's first frame. */
export function parseStillAnalysis(stdout: string, instantCount: number): StillFrameStats[][] {
  const windows: StillFrameStats[][] = Array.from({ length: instantCount }, () => []);
  const firstPts: (number | null)[] = Array.from({ length: instantCount }, () => null);
  for (const { ptsTime, tags } of parseMetadataPrint(stdout)) {
    const index = finiteTag(tags, 'reelin.still');
    const yAvg = finiteTag(tags, 'lavfi.signalstats.YAVG');
    const yLow = finiteTag(tags, 'lavfi.signalstats.YLOW');
    const yHigh = finiteTag(tags, 'lavfi.signalstats.YHIGH');
    const window = index === null ? undefined : windows[index];
    if (index === null || window === undefined || yAvg === null || yLow === null || yHigh === null) continue;
    const first = firstPts[index] ?? ptsTime ?? 0;
    firstPts[index] = first;
    const offsetMs = ptsTime === null ? 0 : Math.max(0, Math.round((ptsTime - first) * 1000));
    window.push({ offsetMs, yAvg, yLow, yHigh, entropy: finiteTag(tags, 'lavfi.entropy.entropy.normal.Y') });
  }
  return windows;
}

export interface StillOutputs {
  thumbnailPath: string;
  fullFramePath: string;
  posterPath?: string;
}

export function buildStillExtractArgs(options: {
  input: MediaInput;
  instantMs: number;
  frameIndex: number;
  deinterlaceFilter: string | null;
  thumbnailFormat: ThumbnailFormat;
  outputs: StillOutputs;
}): string[] {
  const { outputs } = options;
  const deinterlace = options.deinterlaceFilter === null ? '' : `${options.deinterlaceFilter},`;
  const labels = outputs.posterPath === undefined ? '[t][f]' : '[t][f][p]';
  const imageFormat = options.thumbnailFormat === 'jpeg' ? 'yuvj420p' : 'yuv420p';
  const graph = [
    `[0:v:0]${deinterlace}trim=start_frame=${options.frameIndex}:end_frame=${options.frameIndex + 1},split=${labels.length / 3}${labels}`,
    // Heights follow the display aspect ratio (dar includes the sample aspect ratio), kept even.
    `[t]scale=w=${THUMBNAIL_WIDTH}:h=2*trunc(ow/dar/2):flags=lanczos,setsar=1,format=${imageFormat}[thumb]`,
    '[f]scale=w=round(iw*sar):h=ih:flags=lanczos+accurate_rnd+full_chroma_int,setsar=1[full]',
    ...(outputs.posterPath === undefined
      ? []
      : [
          `[p]scale=w=2*trunc(min(${POSTER_MAX_WIDTH}\\,iw*sar)/2):h=2*trunc(ow/dar/2):flags=lanczos,setsar=1,format=${imageFormat}[poster]`,
        ]),
  ].join(';');
  const encoder =
    options.thumbnailFormat === 'jpeg' ? ['-c:v', 'mjpeg', '-q:v', '4'] : ['-c:v', 'libwebp', '-quality', '80'];
  const image = (label: string, codec: string[], file: string): string[] => [
    '-map',
    label,
    '-frames:v',
    '1',
    ...codec,
    '-f',
    'image2',
    '-update',
    '1',
    file,
  ];
  return [
    '-hide_banner',
    '-nostdin',
    '-loglevel',
    'error',
    '-y',
    ...inputArgs(options.input, ['-ss', formatSeconds(options.instantMs)]),
    '-filter_complex',
    graph,
    ...image('[thumb]', encoder, outputs.thumbnailPath),
    ...image('[full]', ['-c:v', 'png'], outputs.fullFramePath),
    ...(outputs.posterPath === undefined ? [] : image('[poster]', encoder, outputs.posterPath)),
  ];
}

/** Width and height from a PNG, JPEG or WebP header, or null when the bytes are none of these. */
export function readImageSize(bytes: Uint8Array): { width: number; height: number } | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ascii = (offset: number, length: number): string =>
    String.fromCharCode(...bytes.subarray(offset, offset + length));
  if (bytes.length >= 24 && bytes[0] === 0x89 && ascii(1, 3) === 'PNG' && ascii(12, 4) === 'IHDR') {
    return { width: view.getUint32(16), height: view.getUint32(20) };
  }
  if (bytes.length >= 30 && ascii(0, 4) === 'RIFF' && ascii(8, 4) === 'WEBP') {
    const chunk = ascii(12, 4);
    if (chunk === 'VP8 ')
      return { width: view.getUint16(26, true) & 0x3fff, height: view.getUint16(28, true) & 0x3fff };
    if (chunk === 'VP8L') {
      const bits = view.getUint32(21, true);
      return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
    }
    if (chunk === 'VP8X') {
      const read24 = (offset: number): number =>
        (bytes[offset] ?? 0) | ((bytes[offset + 1] ?? 0) << 8) | ((bytes[offset + 2] ?? 0) << 16);
      return { width: read24(24) + 1, height: read24(27) + 1 };
    }
    return null;
  }
  if (bytes.length >= 4 && bytes[0] === 0xff && bytes[1] === 0xd8) {
    let offset = 2;
    while (offset + 9 <= bytes.length && bytes[offset] === 0xff) {
      const marker = bytes[offset + 1] ?? 0;
      // Start-of-frame markers C0..CF, except DHT (C4), JPG (C8) and DAC (CC), carry the size.
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        return { width: view.getUint16(offset + 7), height: view.getUint16(offset + 5) };
      }
      offset += 2 + view.getUint16(offset + 2);
    }
  }
  return null;
}

async function describeImage(file: string, timestampMs: number): Promise<Still> {
  const bytes = await readFile(file);
  const size = readImageSize(bytes);
  if (size === null)
    throw new Error(`ffmpeg wrote ${path.basename(file)}, but it is not a readable PNG, JPEG or WebP image`);
  return { timestampMs, path: file, width: size.width, height: size.height, bytes: bytes.length };
}

/** One chosen frame: which instant, which frame of its window, and its luma statistics. */
export interface StillPick {
  number: number;
  instantMs: number;
  frameIndex: number;
  frame: StillFrameStats;
}

/** Pure: the chosen frame of each window; a window without frames (a seek past the end) yields none. */
export function pickStills(
  windows: readonly (readonly StillFrameStats[])[],
  instantsMs: readonly number[],
): StillPick[] {
  return windows.flatMap((window, index) => {
    const frameIndex = pickStillFrame(window, defaultStillThresholds);
    const frame = window[frameIndex];
    const instantMs = instantsMs[index];
    return frame === undefined || instantMs === undefined ? [] : [{ number: index + 1, instantMs, frameIndex, frame }];
  });
}

function checkStillTools(tools: Pick<MediaTools, 'filters' | 'encoders'>, thumbnailFormat: ThumbnailFormat): void {
  requireFilters(
    tools,
    ['trim', 'setpts', 'concat', 'scale', 'format', 'signalstats', 'entropy', 'metadata', 'split', 'setsar'],
    'stills',
  );
  for (const needed of [thumbnailFormat === 'jpeg' ? 'mjpeg' : 'libwebp', 'png']) {
    if (!tools.encoders.has(needed))
      throw new Error(
        `stills need the ffmpeg encoder ${needed}, which this ffmpeg lacks: install an ffmpeg build that has it`,
      );
  }
}

export async function extractStills(
  runner: ProcessRunner,
  tools: Pick<MediaTools, 'ffmpegPath' | 'filters' | 'encoders'>,
  source: StillsInput,
  options: {
    signal?: AbortSignal;
    analysis?: Pick<RunOptions, 'timeoutMs' | 'resources'>;
    still?: Pick<RunOptions, 'timeoutMs' | 'resources'>;
  } = {},
): Promise<{ thumbnails: Still[]; fullFrames: Still[]; poster: Still }> {
  checkStillTools(tools, source.thumbnailFormat);
  const deinterlaceFilter = source.deinterlace ? chooseDeinterlaceFilter(tools) : null;
  const instantsMs = planStillInstants(source.durationMs, source.count);
  if (instantsMs.length === 0) throw new Error('no stills can be taken from a video without a positive duration');
  const windowMs = stillWindowMs(source.durationMs, source.count);
  const analysis = await runner.run(tools.ffmpegPath, buildStillAnalysisArgs(source.input, instantsMs, windowMs), {
    ...options.analysis,
    signal: options.signal,
    maxStdoutBytes: 32 * 1024 * 1024,
  });
  const picks = pickStills(parseStillAnalysis(analysis.stdout, instantsMs.length), instantsMs);
  if (picks.length === 0) throw new Error('no frame could be decoded at any still position');
  const posterPick = picks[choosePosterIndex(picks.map((pick) => pick.frame))];

  await mkdir(source.outputDir, { recursive: true });
  const extension = source.thumbnailFormat === 'jpeg' ? 'jpg' : 'webp';
  const result: { thumbnails: Still[]; fullFrames: Still[]; poster?: Still } = { thumbnails: [], fullFrames: [] };
  // One instant at a time: each run already uses every core for decoding and PNG encoding.
  for (const pick of picks) {
    const name = String(pick.number).padStart(2, '0');
    const outputs: StillOutputs = {
      thumbnailPath: path.join(source.outputDir, `thumbnail-${name}.${extension}`),
      fullFramePath: path.join(source.outputDir, `full-frame-${name}.png`),
      ...(pick === posterPick ? { posterPath: path.join(source.outputDir, `poster.${extension}`) } : {}),
    };
    const args = buildStillExtractArgs({
      input: source.input,
      instantMs: pick.instantMs,
      frameIndex: pick.frameIndex,
      deinterlaceFilter,
      thumbnailFormat: source.thumbnailFormat,
      outputs,
    });
    await runner.run(tools.ffmpegPath, args, { ...options.still, signal: options.signal });
    const timestampMs = pick.instantMs + pick.frame.offsetMs;
    result.thumbnails.push(await describeImage(outputs.thumbnailPath, timestampMs));
    result.fullFrames.push(await describeImage(outputs.fullFramePath, timestampMs));
    if (outputs.posterPath !== undefined) result.poster = await describeImage(outputs.posterPath, timestampMs);
  }
  if (result.poster === undefined) throw new Error('the poster was not written');
  return { thumbnails: result.thumbnails, fullFrames: result.fullFrames, poster: result.poster };
}
