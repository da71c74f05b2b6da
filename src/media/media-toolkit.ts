/**
 * The ffmpeg implementation of the media port the jobs use: it binds the discovered tools and the
 * process runner to the pure argv builders and analyses of this folder, gives each run its limits
 * (domain/media-limits.ts), and turns ffmpeg's `-progress` reports into fractions of the step.
 * Every run opens the stored file through media-input.ts: the probe with the whitelists, every
 * later run with the probed demuxer forced as well.
 */
import { runLimits, type MediaLimitPolicy, type MediaWork, type RunLimits } from '../domain/media-limits.js';
import { chooseClipCodec, clipCutArgs, clipFileExtension, type ClipCodec } from './clip-cut.js';
import type { MediaTools } from './ffmpeg-tools.js';
import { probeVideoMetadata } from './ffprobe.js';
import type { FractionListener, IngestionMedia, QualityAssessment, Stills } from './ingestion-media.js';
import { mediaInputOf, probedInput } from './media-input.js';
import type { ProbedVideo, ScanType } from './metadata.js';
import type { FfmpegProgress, ProcessRunner } from './process-runner.js';
import { assessQuality } from './quality.js';
import { analyzeScanType, planScanSegments } from './scan-type.js';
import { extractStills, type Still } from './stills.js';
import { QUALITY_SAMPLE_COUNT } from './quality.js';
import { canToneMap, webVideoArgs, webVideoSize, type WebVideoSource } from './web-video.js';

const clipFormats: Record<ClipCodec, { mimeType: string; containerName: string }> = {
  prores: { mimeType: 'video/quicktime', containerName: 'QuickTime / MOV' },
  ffv1: { mimeType: 'video/x-matroska', containerName: 'Matroska' },
};

const stillMimeTypes: Record<string, string> = {
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.png': 'image/png',
};

export interface FfmpegIngestionMediaOptions {
  /** How many thumbnails (and full frames) a full ingestion makes. */
  thumbnailCount: number;
  /** The wall-clock, CPU and memory limits of each run. */
  limits: MediaLimitPolicy;
}

export class FfmpegIngestionMedia implements IngestionMedia {
  readonly unavailable: ReadonlyMap<string, string>;
  readonly clipFormat: IngestionMedia['clipFormat'];
  private readonly clipCodec: ClipCodec | null;

  constructor(
    private readonly runner: ProcessRunner,
    private readonly tools: MediaTools,
    private readonly options: FfmpegIngestionMediaOptions,
  ) {
    this.unavailable = tools.unavailable;
    this.clipCodec = tools.unavailable.has('clip') ? null : chooseClipCodec(tools.encoders);
    this.clipFormat =
      this.clipCodec === null ? null : { extension: clipFileExtension(this.clipCodec), ...clipFormats[this.clipCodec] };
  }

  private limitsOf(work: MediaWork, items = 0): RunLimits {
    return runLimits(work, items, this.options.limits);
  }

  async probe(input: string, fileSizeBytes: number, signal: AbortSignal): Promise<ProbedVideo> {
    const probed = await probeVideoMetadata(this.runner, this.tools, mediaInputOf(input), {
      signal,
      ...this.limitsOf('probe'),
    });
    return { ...probed, metadata: { ...probed.metadata, size: fileSizeBytes } };
  }

  async analyzeScanType(input: string, video: ProbedVideo, signal: AbortSignal): Promise<ScanType> {
    const durationMs = durationOf(video);
    const limits = this.limitsOf('scanType', planScanSegments(durationMs).length);
    const result = await analyzeScanType(
      this.runner,
      this.tools,
      { input: probedInput(input, video), durationMs },
      { signal, ...limits },
    );
    return result.scanType;
  }

  assessQuality(
    input: string,
    video: ProbedVideo,
    options: { deinterlace: boolean },
    signal: AbortSignal,
  ): Promise<QualityAssessment> {
    return assessQuality(
      this.runner,
      this.tools,
      {
        input: probedInput(input, video),
        durationMs: durationOf(video),
        width: video.storedWidth,
        height: video.storedHeight,
        bitDepth: video.metadata.primaryBitDepth ?? 8,
        deinterlace: options.deinterlace,
      },
      { signal, ...this.limitsOf('quality', QUALITY_SAMPLE_COUNT) },
    );
  }

  async extractStills(
    input: string,
    video: ProbedVideo,
    options: { outputDir: string; deinterlace: boolean; onProgress: FractionListener },
    signal: AbortSignal,
  ): Promise<Stills> {
    const stills = await extractStills(
      this.runner,
      this.tools,
      {
        input: probedInput(input, video),
        outputDir: options.outputDir,
        durationMs: durationOf(video),
        count: this.options.thumbnailCount,
        deinterlace: options.deinterlace,
        thumbnailFormat: this.tools.encoders.has('libwebp') ? 'webp' : 'jpeg',
      },
      { signal, analysis: this.limitsOf('stillAnalysis', this.options.thumbnailCount), still: this.limitsOf('still') },
    );
    options.onProgress(1);
    return {
      thumbnails: stills.thumbnails.map(toImage),
      fullFrames: stills.fullFrames.map(toImage),
      poster: toImage(stills.poster),
    };
  }

  async encodeWebVideo(
    input: string,
    video: ProbedVideo,
    options: { output: string; deinterlace: boolean; onProgress: FractionListener },
    signal: AbortSignal,
  ): Promise<{ width: number; height: number }> {
    const source: WebVideoSource = {
      width: video.storedWidth,
      height: video.storedHeight,
      sampleAspect: video.sampleAspectRatio,
      rotationDegrees: video.rotationDegrees,
      deinterlace: options.deinterlace,
      hasAudio: video.hasAudio,
      toneMap: isHdrTransfer(video.metadata.colorTransferName) && canToneMap(this.tools.filters),
    };
    const args = webVideoArgs({
      input: probedInput(input, video),
      output: options.output,
      source,
      deinterlacer: this.tools.filters.has('bwdif') ? 'bwdif' : 'yadif',
    });
    const limits = this.limitsOf('webVideo', durationOf(video) / 1000);
    await this.runner.run(this.tools.ffmpegPath, args, {
      signal,
      ...limits,
      onProgress: progressOf(durationOf(video), options.onProgress),
    });
    return webVideoSize(source);
  }

  async cutClip(
    input: string,
    video: ProbedVideo,
    options: { output: string; startMs: number; endMs: number; onProgress: FractionListener },
    signal: AbortSignal,
  ): Promise<void> {
    if (this.clipCodec === null)
      throw new Error(`clips cannot be made: ${this.unavailable.get('clip') ?? 'no intermediate encoder'}`);
    const durationMs = options.endMs - options.startMs;
    const frameRate = video.metadata.averageFrameRate?.frameRate ?? null;
    const scanning = video.metadata.scanning.heuristics ?? video.metadata.scanning.metadata;
    const args = clipCutArgs({
      input: probedInput(input, video),
      output: options.output,
      startMs: options.startMs,
      durationMs,
      // Whole frames of the window when the rate is constant: the cut then ends on a frame, not a
      // time. With a variable rate, frame numbers do not map to times, so the duration decides.
      ...(video.constantFrameRate && frameRate !== null && frameRate > 0
        ? { frameCount: Math.max(1, Math.round((durationMs * frameRate) / 1000)) }
        : {}),
      hasAudio: video.hasAudio,
      codec: this.clipCodec,
      ...(scanning === 'INTERLACED_TOP_FIRST'
        ? { fieldOrder: 'tt' as const }
        : scanning === 'INTERLACED_BOTTOM_FIRST'
          ? { fieldOrder: 'bb' as const }
          : {}),
    });
    await this.runner.run(this.tools.ffmpegPath, args, {
      signal,
      ...this.limitsOf('clip', durationMs / 1000),
      onProgress: progressOf(durationMs, options.onProgress),
    });
  }
}

/** PQ (HDR10, HDR10+, most Dolby Vision) or HLG. */
function isHdrTransfer(transfer: string | null): boolean {
  return transfer === 'smpte2084' || transfer === 'arib-std-b67';
}

function durationOf(video: ProbedVideo): number {
  return video.metadata.durationInMillis ?? 0;
}

function progressOf(durationMs: number, listener: FractionListener): (progress: FfmpegProgress) => void {
  return (progress) => listener(progress.done ? 1 : durationMs > 0 ? Math.min(1, progress.outTimeMs / durationMs) : 0);
}

function toImage(still: Still): Stills['poster'] {
  const extension = still.path.slice(still.path.lastIndexOf('.')).toLowerCase();
  return {
    path: still.path,
    timestampMillis: Math.round(still.timestampMs),
    width: still.width,
    height: still.height,
    sizeBytes: still.bytes,
    mimeType: stillMimeTypes[extension] ?? 'application/octet-stream',
  };
}
