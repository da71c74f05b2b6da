/**
 * The media work ingestion and clip jobs ask for, as one port: the jobs decide what to make and
 * record it; this says how ffmpeg makes it. `FfmpegIngestionMedia` (media-toolkit.ts) is the one
 * implementation; tests of the jobs use it too, with the real ffmpeg.
 */
import type { ProbedVideo, ScanType } from './metadata.js';

export type { QualityAssessment } from '../domain/quality-scoring.js';
import type { QualityAssessment } from '../domain/quality-scoring.js';

/** One image file made by ingestion, in a local working folder until it is stored. */
export interface StillImage {
  path: string;
  timestampMillis: number;
  width: number;
  height: number;
  sizeBytes: number;
  mimeType: string;
}

export interface Stills {
  thumbnails: StillImage[];
  fullFrames: StillImage[];
  poster: StillImage;
}

/** Reports progress of one step as a fraction 0..1. */
export type FractionListener = (fraction: number) => void;

export interface IngestionMedia {
  /** Features the installed ffmpeg cannot provide, each with a sentence saying why. */
  readonly unavailable: ReadonlyMap<string, string>;
  /** The clip's container: its file extension and MIME type. */
  readonly clipFormat: { extension: string; mimeType: string; containerName: string } | null;
  probe(input: string, fileSizeBytes: number, signal: AbortSignal): Promise<ProbedVideo>;
  analyzeScanType(input: string, video: ProbedVideo, signal: AbortSignal): Promise<ScanType>;
  /** `deinterlace`: the pictures are interlaced, so combing is not measured as noise or blocking. */
  assessQuality(
    input: string,
    video: ProbedVideo,
    options: { deinterlace: boolean },
    signal: AbortSignal,
  ): Promise<QualityAssessment>;
  extractStills(
    input: string,
    video: ProbedVideo,
    options: { outputDir: string; deinterlace: boolean; onProgress: FractionListener },
    signal: AbortSignal,
  ): Promise<Stills>;
  encodeWebVideo(
    input: string,
    video: ProbedVideo,
    options: { output: string; deinterlace: boolean; onProgress: FractionListener },
    signal: AbortSignal,
  ): Promise<{ width: number; height: number }>;
  cutClip(
    input: string,
    video: ProbedVideo,
    options: { output: string; startMs: number; endMs: number; onProgress: FractionListener },
    signal: AbortSignal,
  ): Promise<void>;
}
