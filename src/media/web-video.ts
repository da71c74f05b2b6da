/**
 * The web video: an H.264/AAC MP4 that any browser plays and can seek before it has downloaded the
 * whole file (`+faststart` moves the index to the front).
 *
 * The picture is deinterlaced first when the source is interlaced (deinterlacing after scaling would
 * mix the fields), then scaled to its display size (sample aspect ratio applied, so pixels become
 * square), bounded to 1080p, with even dimensions as 4:2:0 requires. ffmpeg turns rotated phone video
 * upright by itself (autorotate), so a 90°/270° source is sized with width and height swapped.
 * HDR sources are converted to 8-bit yuv420p without tone mapping; they will look flat but play.
 */
import { fileArgument } from './ffmpeg-tools.js';
import { inputArgs, type MediaInput } from './media-input.js';

export interface WebVideoSource {
  /** The stored picture size, before rotation. */
  width: number;
  height: number;
  /** Sample (pixel) aspect ratio as [num, den]; square when absent. */
  sampleAspect?: readonly [number, number];
  /** Clockwise rotation the player applies (0, 90, 180, 270); 0 when absent. */
  rotationDegrees?: number;
  deinterlace: boolean;
  hasAudio: boolean;
  /**
   * Tone-map HDR (PQ or HLG) pictures to SDR BT.709, so the 8-bit web video looks right rather than
   * flat and grey. Only when this ffmpeg has zscale and tonemap.
   */
  toneMap?: boolean;
}

export interface WebVideoArgsOptions {
  input: MediaInput;
  output: string;
  source: WebVideoSource;
  /** The short side's bound; the long side is bounded to 16:9 of it (1920 for 1080). */
  maxHeight?: number;
  /** bwdif (better, the default) or yadif, whichever this ffmpeg has. */
  deinterlacer?: 'bwdif' | 'yadif';
}

/** x264 constant quality: 21 is visually clean for previews at a moderate size. */
const CRF = 21;
const AUDIO_BITRATE = '128k';

function even(value: number): number {
  return Math.max(2, Math.round(value / 2) * 2);
}

/** The output size: the display size (square pixels, upright) scaled down to fit the bound. */
export function webVideoSize(source: WebVideoSource, maxHeight = 1080): { width: number; height: number } {
  const [num, den] = source.sampleAspect ?? [1, 1];
  const sar = num > 0 && den > 0 ? num / den : 1;
  const turned = (source.rotationDegrees ?? 0) % 180 !== 0;
  const displayWidth = turned ? source.height : source.width * sar;
  const displayHeight = turned ? source.width * sar : source.height;
  const shortSide = Math.min(displayWidth, displayHeight);
  const longSide = Math.max(displayWidth, displayHeight);
  const scale = Math.min(1, maxHeight / shortSide, (maxHeight * 16) / 9 / longSide);
  return { width: even(displayWidth * scale), height: even(displayHeight * scale) };
}

/**
 * HDR to SDR: to linear light (100 nits as SDR white), BT.2020 to BT.709 primaries in float, the
 * Hable curve for the highlights, then BT.709 transfer and matrix in TV range.
 */
const toneMapFilters = [
  'zscale=transfer=linear:npl=100',
  'format=gbrpf32le',
  'zscale=primaries=bt709',
  'tonemap=tonemap=hable:desat=0',
  'zscale=transfer=bt709:matrix=bt709:range=tv',
];

/** The video filter chain: deinterlace, tone-map HDR, scale to display size, square pixels, 4:2:0. */
export function webVideoFilter(
  source: WebVideoSource,
  maxHeight = 1080,
  deinterlacer: 'bwdif' | 'yadif' = 'bwdif',
): string {
  const { width, height } = webVideoSize(source, maxHeight);
  const filters: string[] = [];
  // One output frame per input frame (send_frame) keeps the frame rate; parity comes from the frames.
  if (source.deinterlace) filters.push(`${deinterlacer}=mode=send_frame:parity=auto:deint=all`);
  if (source.toneMap === true) filters.push(...toneMapFilters);
  filters.push(`scale=${width}:${height}:flags=bicubic`, 'setsar=1', 'format=yuv420p');
  return filters.join(',');
}

/** Whether this ffmpeg can tone-map HDR for the web video. */
export function canToneMap(filters: ReadonlySet<string>): boolean {
  return filters.has('zscale') && filters.has('tonemap');
}

/** ffmpeg arguments that write the web video of `input` to `output` (an .mp4 path). */
export function webVideoArgs(options: WebVideoArgsOptions): string[] {
  const maxHeight = options.maxHeight ?? 1080;
  const audio = options.source.hasAudio
    ? ['-map', '0:a:0?', '-c:a', 'aac', '-b:a', AUDIO_BITRATE, '-ac', '2']
    : ['-an'];
  return [
    '-hide_banner',
    '-nostdin',
    '-y',
    ...inputArgs(options.input),
    '-map',
    '0:v:0',
    ...audio,
    '-sn',
    '-dn',
    '-vf',
    webVideoFilter(options.source, maxHeight, options.deinterlacer),
    '-c:v',
    'libx264',
    '-preset',
    'fast',
    '-crf',
    String(CRF),
    '-profile:v',
    'high',
    '-pix_fmt',
    'yuv420p',
    // Tone-mapped pictures are BT.709; say so, so players do not guess.
    ...(options.source.toneMap === true
      ? ['-color_primaries', 'bt709', '-color_trc', 'bt709', '-colorspace', 'bt709']
      : []),
    '-movflags',
    '+faststart',
    '-progress',
    'pipe:1',
    '-nostats',
    '-f',
    'mp4',
    fileArgument(options.output),
  ];
}
