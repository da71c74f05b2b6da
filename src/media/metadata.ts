/**
 * Maps validated ffprobe output to the contract's `VideoMetadata` (docs: ../shared/spec/API.md).
 *
 * Choices, so the numbers mean one thing everywhere:
 * - containerName is a short friendly name (`MP4`, `QuickTime`, `Matroska`, `MPEG-TS`, ...) chosen from
 *   ffprobe's demuxer name and, for the MP4 family, the major brand; unknown demuxers keep the first
 *   token of ffprobe's format_name. longContainerName is ffprobe's format_long_name.
 * - frameWidth/frameHeight are the stored picture size (not the codec's padded size), swapped when the
 *   display matrix turns the picture by 90° or 270°, so they describe the video as it is shown. The
 *   display aspect ratio includes the sample aspect ratio and the same rotation.
 * - scanning.metadata follows the declared field order; the field coded first decides (tt and tb are
 *   top first, bb and bt bottom first); files that declare nothing count as progressive, as players
 *   treat them. scanning.heuristics is null here: only picture analysis fills it.
 * - totalFrames is the container's frame count when it has one, else duration × average frame rate.
 * - videoStreamSize is Matroska's NUMBER_OF_BYTES statistic when present, else the stream's bit rate ×
 *   duration / 8; null when neither is known.
 * - colour names are ffprobe's (`tv`, `bt2020nc`, `smpte2084`, `bt2020`); `unknown` becomes null.
 */
import type { FfprobeOutput, FfprobeStream } from './ffprobe.js';

export type ScanType = 'PROGRESSIVE' | 'INTERLACED_TOP_FIRST' | 'INTERLACED_BOTTOM_FIRST';

export interface VideoMetadata {
  containerName: string;
  longContainerName: string | null;
  codecName: string;
  longCodecName: string | null;
  pixelFormatName: string | null;
  primaryBitDepth: number | null;
  frameWidth: number;
  frameHeight: number;
  displayAspectRatio: { ratio: number; tag: string };
  scanning: { metadata: ScanType; heuristics: ScanType | null };
  averageFrameRate: { frameRate: number; rational: string } | null;
  durationInMillis: number | null;
  totalFrames: number | null;
  size: number;
  videoStreamSize: number | null;
  colorRangeName: string | null;
  colorSpaceName: string | null;
  colorTransferName: string | null;
  colorPrimariesName: string | null;
  hdrStandardName: string | null;
}

/** The metadata plus the facts processing needs and the contract does not show. */
export interface ProbedVideo {
  metadata: VideoMetadata;
  hasAudio: boolean;
  /** Clockwise rotation the player applies: 0, 90, 180 or 270. */
  rotationDegrees: number;
  /** The stored picture size, before rotation. */
  storedWidth: number;
  storedHeight: number;
  /** Sample (pixel) aspect ratio as [num, den]; [1, 1] when unknown. */
  sampleAspectRatio: [number, number];
  /**
   * Whether frames come at one fixed rate (ffprobe's base rate equals the average rate); only then
   * do frame numbers map to times.
   */
  constantFrameRate: boolean;
  /** The demuxer that read the file (ffprobe's format_name): every later run forces it. */
  demuxer: string;
}

export type NotAVideoKind = 'NO_VIDEO_STREAM' | 'UNREADABLE';

/** The file is not a video we can work with; `message` says why in a sentence. */
export class NotAVideoError extends Error {
  override readonly name = 'NotAVideoError';
  constructor(
    readonly kind: NotAVideoKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  get reason(): string {
    return this.message;
  }
}

const aspectTags: readonly [string, number][] = [
  ['1:1', 1],
  ['5:4', 5 / 4],
  ['4:3', 4 / 3],
  ['3:2', 3 / 2],
  ['16:10', 16 / 10],
  ['5:3', 5 / 3],
  ['16:9', 16 / 9],
  ['1.85:1', 1.85],
  ['1.9:1', 256 / 135],
  ['2:1', 2],
  ['21:9', 64 / 27],
  ['2.35:1', 2.35],
  ['2.39:1', 2.39],
  ['9:16', 9 / 16],
  ['2:3', 2 / 3],
  ['3:4', 3 / 4],
  ['4:5', 4 / 5],
];

/** The conventional name of an aspect ratio (nearest within 1%), else `<ratio>:1`. */
export function aspectRatioTag(ratio: number): string {
  let best: [string, number] | undefined;
  for (const entry of aspectTags) {
    const error = Math.abs(entry[1] - ratio) / entry[1];
    if (error <= 0.01 && (best === undefined || error < best[1])) best = [entry[0], error];
  }
  return best?.[0] ?? `${ratio.toFixed(2)}:1`;
}

/** Parses `30000/1001` or `16:9`; null for `0/0`, `N/A` and the like. */
export function parseRational(text: string | undefined): [number, number] | null {
  const match = /^(\d+)[/:](\d+)$/.exec(text ?? '');
  if (match === null) return null;
  const num = Number(match[1]);
  const den = Number(match[2]);
  return num > 0 && den > 0 ? [num, den] : null;
}

export function scanTypeFromFieldOrder(fieldOrder: string | undefined): ScanType {
  if (fieldOrder === 'tt' || fieldOrder === 'tb') return 'INTERLACED_TOP_FIRST';
  if (fieldOrder === 'bb' || fieldOrder === 'bt') return 'INTERLACED_BOTTOM_FIRST';
  return 'PROGRESSIVE';
}

/** Bits per component, from the decoder's raw sample size or else the pixel format's name. */
export function bitDepth(bitsPerRawSample: number | undefined, pixelFormat: string | undefined): number | null {
  if (bitsPerRawSample !== undefined && bitsPerRawSample > 0) return bitsPerRawSample;
  if (pixelFormat === undefined || pixelFormat === 'unknown') return null;
  // Packed formats name the bits of a whole pixel (rgb48 is 3 x 16), the rest bits per component.
  if (/^(rgb|bgr)a?64|^(rgb|bgr)48/.test(pixelFormat)) return 16;
  if (pixelFormat === 'v210') return 10;
  const explicit = /[a-z](\d{1,2})(?:le|be)$/.exec(pixelFormat) ?? /^p0?(\d{2})/.exec(pixelFormat);
  return explicit?.[1] === undefined ? 8 : Number(explicit[1]);
}

/** ffprobe's display matrix rotation is counter-clockwise; players turn the picture the other way. */
export function rotationOf(stream: FfprobeStream): number {
  const fromMatrix = stream.side_data_list?.find((item) => item.rotation !== undefined)?.rotation;
  const clockwise = fromMatrix !== undefined ? -fromMatrix : Number(stream.tags?.rotate ?? 0);
  const quarterTurns = Math.round((Number.isFinite(clockwise) ? clockwise : 0) / 90);
  return (((quarterTurns % 4) + 4) % 4) * 90;
}

export function hdrStandard(stream: FfprobeStream, frameSideData: readonly string[]): string | null {
  const sideData = [...(stream.side_data_list ?? []).map((item) => item.side_data_type ?? ''), ...frameSideData];
  if (sideData.some((type) => /DOVI|Dolby Vision/i.test(type))) return 'Dolby Vision';
  if (stream.color_transfer === 'smpte2084')
    return sideData.some((type) => /HDR10\+|SMPTE2094-40/i.test(type)) ? 'HDR10+' : 'HDR10';
  if (stream.color_transfer === 'arib-std-b67') return 'HLG';
  return null;
}

export function friendlyContainerName(formatName: string, majorBrand: string | undefined): string {
  const first = formatName.split(',')[0] ?? formatName;
  if (first === 'mov') {
    const brand = (majorBrand ?? '').trim().toLowerCase();
    if (brand === 'qt') return 'QuickTime';
    if (brand.startsWith('3g')) return '3GP';
    if (brand === 'm4a') return 'M4A';
    return 'MP4';
  }
  const names: Record<string, string> = {
    matroska: 'Matroska',
    mpegts: 'MPEG-TS',
    mpeg: 'MPEG-PS',
    avi: 'AVI',
    mxf: 'MXF',
    flv: 'FLV',
    asf: 'ASF',
    ogg: 'Ogg',
    h264: 'H.264 elementary stream',
    hevc: 'HEVC elementary stream',
    gxf: 'GXF',
    mpegvideo: 'MPEG video elementary stream',
  };
  return names[first] ?? first;
}

const known = (value: string | undefined): string | null =>
  value === undefined || value === '' || value === 'unknown' ? null : value;
const round = (value: number, decimals: number): number => Number(value.toFixed(decimals));

/** Parses Matroska's `HH:MM:SS.nnnnnnnnn` duration tag into seconds. */
function tagSeconds(text: string | undefined): number | null {
  const match = /^(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$/.exec(text ?? '');
  return match === null ? null : Number(match[1]) * 3600 + Number(match[2]) * 60 + Number(match[3]);
}

function positive(value: number | null | undefined): number | null {
  return value !== null && value !== undefined && Number.isFinite(value) && value > 0 ? value : null;
}

/** Picks the main video stream: the first one that is not cover art. */
export function mainVideoStream(probe: FfprobeOutput): FfprobeStream {
  const video = probe.streams.find((stream) => stream.codec_type === 'video' && stream.disposition?.attached_pic !== 1);
  if (video !== undefined && positive(video.width) !== null && positive(video.height) !== null) return video;
  const kinds = [
    ...new Set(
      probe.streams.map((stream) => `${stream.codec_type ?? 'unknown'} (${stream.codec_name ?? 'unknown codec'})`),
    ),
  ];
  const holds = kinds.length === 0 ? 'no streams at all' : kinds.join(', ');
  throw new NotAVideoError('NO_VIDEO_STREAM', `the file has no video stream with pictures: it holds ${holds}`);
}

export function toVideoMetadata(probe: FfprobeOutput, fileSizeBytes: number): VideoMetadata {
  return toProbedVideo(probe, fileSizeBytes).metadata;
}

export function toProbedVideo(probe: FfprobeOutput, fileSizeBytes?: number): ProbedVideo {
  const stream = mainVideoStream(probe);
  const storedWidth = stream.width ?? 0;
  const storedHeight = stream.height ?? 0;
  const rotationDegrees = rotationOf(stream);
  const turned = rotationDegrees % 180 === 90;
  const sampleAspectRatio = parseRational(stream.sample_aspect_ratio) ?? [1, 1];
  const displayRatio = (storedWidth * sampleAspectRatio[0]) / (storedHeight * sampleAspectRatio[1]);
  const ratio = turned ? 1 / displayRatio : displayRatio;

  const rate = parseRational(stream.avg_frame_rate) ?? parseRational(stream.r_frame_rate);
  const frameRate = rate === null ? null : rate[0] / rate[1];
  const durationSeconds =
    positive(stream.duration) ?? tagSeconds(stream.tags?.DURATION) ?? positive(probe.format?.duration);
  const frameCount = positive(stream.nb_frames) ?? positive(Number(stream.tags?.NUMBER_OF_FRAMES));
  const streamBytes = positive(Number(stream.tags?.NUMBER_OF_BYTES));
  const bitRate = positive(stream.bit_rate) ?? positive(Number(stream.tags?.BPS));
  const frameSideData = probe.frames
    .filter((frame) => frame.stream_index === stream.index)
    .flatMap((frame) => (frame.side_data_list ?? []).map((item) => item.side_data_type ?? ''));

  const metadata: VideoMetadata = {
    containerName: friendlyContainerName(probe.format?.format_name ?? 'unknown', probe.format?.tags?.major_brand),
    longContainerName: known(probe.format?.format_long_name),
    codecName: stream.codec_name ?? 'unknown',
    longCodecName: known(stream.codec_long_name),
    pixelFormatName: known(stream.pix_fmt),
    primaryBitDepth: bitDepth(stream.bits_per_raw_sample, stream.pix_fmt),
    frameWidth: turned ? storedHeight : storedWidth,
    frameHeight: turned ? storedWidth : storedHeight,
    displayAspectRatio: { ratio: round(ratio, 2), tag: aspectRatioTag(ratio) },
    scanning: { metadata: scanTypeFromFieldOrder(stream.field_order), heuristics: null },
    averageFrameRate:
      rate === null || frameRate === null
        ? null
        : { frameRate: round(frameRate, 3), rational: `${rate[0]}:${rate[1]}` },
    durationInMillis: durationSeconds === null ? null : Math.round(durationSeconds * 1000),
    totalFrames:
      frameCount ?? (durationSeconds !== null && frameRate !== null ? Math.round(durationSeconds * frameRate) : null),
    size: fileSizeBytes ?? positive(probe.format?.size) ?? 0,
    videoStreamSize:
      streamBytes ??
      (bitRate !== null && durationSeconds !== null ? Math.round((bitRate * durationSeconds) / 8) : null),
    colorRangeName: known(stream.color_range),
    colorSpaceName: known(stream.color_space),
    colorTransferName: known(stream.color_transfer),
    colorPrimariesName: known(stream.color_primaries),
    hdrStandardName: hdrStandard(stream, frameSideData),
  };
  return {
    metadata,
    hasAudio: probe.streams.some((item) => item.codec_type === 'audio'),
    rotationDegrees,
    storedWidth,
    storedHeight,
    sampleAspectRatio,
    constantFrameRate: isConstantRate(stream),
    demuxer: probe.format?.format_name ?? '',
  };
}

function isConstantRate(stream: FfprobeStream): boolean {
  const average = parseRational(stream.avg_frame_rate);
  const base = parseRational(stream.r_frame_rate);
  if (average === null || base === null) return false;
  // Equal as fractions (30000/1001 and 60000/2002 are the same rate).
  return average[0] * base[1] === base[0] * average[1];
}
