/**
 * Quality assessment: measures a handful of frames spread over the whole video with ffmpeg filters
 * and reduces them to the contract's metrics (scoring rules in src/domain/quality-scoring.ts).
 *
 * How it works, in one ffmpeg run: the file is opened once per sample instant with input seeking
 * (`-noaccurate_seek`, so each sample starts at the keyframe at or before its instant and costs only
 * the few frames decoded, whatever the GOP length: a 60 s 1080p file takes about a second and a half);
 * three consecutive frames of each sample are concatenated, scaled so the shorter side is 540 px and
 * converted to 8-bit 4:2:0, which makes every measure independent of resolution and bit depth. Then
 * blockdetect (compression), blurdetect (details), a 3x3 median (removegrain mode 4, luma only) compared
 * with psnr (noise: the mean squared residual) and signalstats (colors: SATAVG) add their values to
 * each frame's metadata, which `metadata=mode=print:file=-` writes to stdout (stderr is only kept as a
 * tail, so it cannot carry results).
 */
import { scoreQuality, type FrameMeasures, type QualityAssessment } from '../domain/quality-scoring.js';
import { spreadInstantsMs } from '../domain/still-instants.js';
import type { MediaTools } from './ffmpeg-tools.js';
import {
  chooseDeinterlaceFilter,
  finiteTag,
  formatSeconds,
  parseMetadataPrint,
  requireFilters,
} from './filter-graph.js';
import { inputArgs, type MediaInput } from './media-input.js';
import type { ProcessRunner, RunOptions } from './process-runner.js';

export interface QualityInput {
  /** The stored video. */
  input: MediaInput;
  durationMs: number;
  /** Coded frame size (before any display rotation; the analysis does not rotate). */
  width: number;
  height: number;
  /** Bits per sample of the source; deeper sources are reduced to 8 bits without dithering. */
  bitDepth: number;
  /** Deinterlace the samples first (bwdif), so combing is not measured as noise and blocking. */
  deinterlace?: boolean;
}

export const QUALITY_SAMPLE_COUNT = 8;
export const QUALITY_FRAMES_PER_SAMPLE = 3;
export const QUALITY_ANALYSIS_SHORT_SIDE = 540;
/** Filters the graph needs beyond ffmpeg's built-in plumbing. */
export const qualityFilters = [
  'trim',
  'setpts',
  'concat',
  'scale',
  'format',
  'blockdetect',
  'blurdetect',
  'split',
  'removegrain',
  'psnr',
  'signalstats',
  'metadata',
] as const;

/** The analysis frame size: shorter side 540 px, aspect kept, both sides even (4:2:0 needs it). */
export function qualityAnalysisSize(
  width: number,
  height: number,
  shortSide: number = QUALITY_ANALYSIS_SHORT_SIDE,
): { width: number; height: number } {
  const even = (value: number): number => Math.max(2, 2 * Math.round(value / 2));
  if (!(width > 0 && height > 0)) return { width: even((shortSide * 16) / 9), height: shortSide };
  return width >= height
    ? { width: even((width * shortSide) / height), height: shortSide }
    : { width: shortSide, height: even((height * shortSide) / width) };
}

export interface QualityArgsOptions {
  input: MediaInput;
  instantsMs: readonly number[];
  framesPerSample: number;
  analysisWidth: number;
  analysisHeight: number;
  bitDepth: number;
  /** A deinterlacing filter applied to each sample on its own (so no field mixes two samples), or null. */
  deinterlaceFilter: string | null;
}

export function buildQualityArgs(options: QualityArgsOptions): string[] {
  const inputs = options.instantsMs.flatMap((ms) =>
    inputArgs(options.input, ['-noaccurate_seek', '-ss', formatSeconds(ms), '-noautorotate']),
  );
  const deinterlace = options.deinterlaceFilter === null ? '' : `${options.deinterlaceFilter},`;
  const trims = options.instantsMs.map(
    (_, index) =>
      `[${index}:v:0]trim=end_frame=${options.framesPerSample},${deinterlace}setpts=PTS-STARTPTS[s${index}]`,
  );
  const joined = options.instantsMs.map((_, index) => `[s${index}]`).join('');
  // Reducing 10-bit to 8-bit with dithering would add noise that the noise metric then measures.
  const dither = options.bitDepth > 8 ? ':sws_dither=none' : '';
  const graph = [
    ...trims,
    `${joined}concat=n=${options.instantsMs.length}:v=1:a=0,scale=${options.analysisWidth}:${options.analysisHeight}:flags=bicubic${dither},format=yuv420p,` +
      'blockdetect,blurdetect,split[frame][copy]',
    '[copy]removegrain=m0=4:m1=0:m2=0[median]',
    // The median copy goes first so its (identical) chroma and the measures above flow on; psnr
    // only adds lavfi.psnr.* and the result is the same either way round.
    '[median][frame]psnr,signalstats,metadata=mode=print:file=-[out]',
  ].join(';');
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

export function parseQualityFrames(stdout: string): FrameMeasures[] {
  return parseMetadataPrint(stdout).map(({ tags }) => ({
    noiseMse: finiteTag(tags, 'lavfi.psnr.mse.y'),
    blurWidth: finiteTag(tags, 'lavfi.blur'),
    saturation: finiteTag(tags, 'lavfi.signalstats.SATAVG'),
    blockiness: finiteTag(tags, 'lavfi.block'),
  }));
}

export async function assessQuality(
  runner: ProcessRunner,
  tools: Pick<MediaTools, 'ffmpegPath' | 'filters'>,
  source: QualityInput,
  options: Pick<RunOptions, 'signal' | 'timeoutMs' | 'resources'> = {},
): Promise<QualityAssessment> {
  requireFilters(tools, qualityFilters, 'the quality assessment');
  const deinterlaceFilter = source.deinterlace === true ? chooseDeinterlaceFilter(tools) : null;
  const instantsMs = spreadInstantsMs(source.durationMs, QUALITY_SAMPLE_COUNT);
  const size = qualityAnalysisSize(source.width, source.height);
  const args = buildQualityArgs({
    input: source.input,
    instantsMs: instantsMs.length === 0 ? [0] : instantsMs,
    framesPerSample: QUALITY_FRAMES_PER_SAMPLE,
    analysisWidth: size.width,
    analysisHeight: size.height,
    bitDepth: source.bitDepth,
    deinterlaceFilter,
  });
  const { stdout } = await runner.run(tools.ffmpegPath, args, { ...options, maxStdoutBytes: 8 * 1024 * 1024 });
  const frames = parseQualityFrames(stdout);
  if (frames.length === 0)
    throw new Error(
      'the quality assessment decoded no video frames: the file has no decodable picture at the sampled positions',
    );
  return scoreQuality(frames);
}
