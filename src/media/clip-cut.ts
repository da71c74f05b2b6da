/**
 * Cuts the clip into a high-quality intermediate: ProRes 422 HQ in 10 bits with PCM audio in a .mov,
 * or, when this ffmpeg lacks prores_ks, lossless FFV1 in a .mkv.
 *
 * Frame accuracy: `-ss` before `-i` seeks to the keyframe before the start and then, because the video
 * is transcoded, decodes and drops every frame before the start (ffmpeg's accurate seek). Times are
 * passed in microseconds, the unit ffmpeg compares them in, so a start on a frame boundary (see
 * domain/clip-window.ts) keeps that frame. With a known frame count, `-frames:v` ends the clip on
 * exactly that many frames; `-t` bounds the audio to the same length.
 */
import { fileArgument } from './ffmpeg-tools.js';
import { formatSeconds } from './filter-graph.js';
import { inputArgs, type MediaInput } from './media-input.js';

export type ClipCodec = 'prores' | 'ffv1';

export interface ClipCutArgsOptions {
  input: MediaInput;
  output: string;
  startMs: number;
  durationMs: number;
  /** Exact number of video frames to write (constant frame rate sources). */
  frameCount?: number;
  hasAudio: boolean;
  /** Default 'prores'; see `chooseClipCodec`. */
  codec?: ClipCodec;
  /** Keeps interlaced pictures coded as fields in the declared order. */
  fieldOrder?: 'tt' | 'bb';
}

/** prores_ks when present, else ffv1; null when neither (the clip feature is then unavailable). */
export function chooseClipCodec(encoders: ReadonlySet<string>): ClipCodec | null {
  if (encoders.has('prores_ks')) return 'prores';
  return encoders.has('ffv1') ? 'ffv1' : null;
}

/** The file extension (container) that goes with a clip codec. */
export function clipFileExtension(codec: ClipCodec): 'mov' | 'mkv' {
  return codec === 'prores' ? 'mov' : 'mkv';
}

export function clipCutArgs(options: ClipCutArgsOptions): string[] {
  const codec = options.codec ?? 'prores';
  const video =
    codec === 'prores'
      ? // Profile 3 is 422 HQ; yuv422p10le keeps 10-bit sources 10-bit (8-bit ones gain headroom, no loss).
        ['-c:v', 'prores_ks', '-profile:v', '3', '-vendor', 'apl0', '-pix_fmt', 'yuv422p10le']
      : // Intra-only, sliced and checksummed FFV1 version 3, in the source's pixel format (lossless).
        ['-c:v', 'ffv1', '-level', '3', '-g', '1', '-slices', '16', '-slicecrc', '1'];
  const interlaced =
    options.fieldOrder === undefined ? [] : ['-flags', '+ildct+ilme', '-field_order', options.fieldOrder];
  const audio = options.hasAudio ? ['-map', '0:a:0?', '-c:a', 'pcm_s24le'] : ['-an'];
  return [
    '-hide_banner',
    '-nostdin',
    '-y',
    ...inputArgs(options.input, ['-ss', formatSeconds(options.startMs)]),
    '-map',
    '0:v:0',
    ...audio,
    '-sn',
    '-dn',
    '-t',
    formatSeconds(options.durationMs),
    ...(options.frameCount === undefined ? [] : ['-frames:v', String(options.frameCount)]),
    ...video,
    ...interlaced,
    '-progress',
    'pipe:1',
    '-nostats',
    '-f',
    codec === 'prores' ? 'mov' : 'matroska',
    fileArgument(options.output),
  ];
}
