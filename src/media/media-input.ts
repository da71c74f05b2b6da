/**
 * How every ffmpeg and ffprobe run opens a stored file: the one place that decides which demuxers
 * and which protocols a run may use (docs/media-security.md says why).
 *
 * A stored file is untrusted: it may be a playlist, a manifest or a reference movie whose reading
 * makes the demuxer open further resources (URLs inside the network the worker runs in, or local
 * files such as another team's videos). So each input of each run carries two walls:
 * - `-format_whitelist`: only demuxers of real single-file containers may open the file. The probe
 *   (format unknown yet) is refused by libavformat before the demuxer reads anything when the
 *   probed format is not on the list; every later run also forces the probed demuxer with `-f`.
 * - `-protocol_whitelist`: only what the one source needs (`file` for the filesystem store, the
 *   scheme of the pre-signed URL and what it is layered on for S3), so even a demuxer that tried to
 *   open something else could not reach a network or another protocol.
 * The QuickTime demuxer's external data references stay off (`-enable_drefs 0`, its default,
 * stated explicitly), and the probe refuses a movie that has any (see ffprobe.ts).
 */
import path from 'node:path';

export interface AllowedDemuxer {
  /** ffmpeg's demuxer name as `ffmpeg -demuxers` and ffprobe's `format_name` print it. */
  name: string;
  /** What users call the format. */
  label: string;
}

/**
 * Demuxers of single-file containers, checked against Debian's ffmpeg 5.1 (`ffmpeg -demuxers`).
 * None of them opens a second resource (the QuickTime one only with drefs, which stay off). The
 * raw H.264, HEVC and MPEG-1/2 video elementary streams are accepted because cameras and encoders
 * deliver them as files; having no index, they have no known duration, so only metadata-only
 * ingestion takes them (see domain/media-limits.ts). WAV and AIFF hold no video: they end as
 * NOT_A_VIDEO, with that reason, rather than as an unsupported format.
 */
export const allowedDemuxers: readonly AllowedDemuxer[] = [
  { name: 'mov,mp4,m4a,3gp,3g2,mj2', label: 'QuickTime / MP4' },
  { name: 'matroska,webm', label: 'Matroska / WebM' },
  { name: 'mxf', label: 'MXF' },
  { name: 'mpegts', label: 'MPEG-TS' },
  { name: 'mpeg', label: 'MPEG-PS' },
  { name: 'avi', label: 'AVI' },
  { name: 'flv', label: 'FLV' },
  { name: 'ogg', label: 'Ogg' },
  { name: 'wav', label: 'WAV' },
  { name: 'aiff', label: 'AIFF' },
  { name: 'dv', label: 'DV' },
  { name: 'gxf', label: 'GXF' },
  { name: 'asf', label: 'ASF / WMV' },
  { name: 'yuv4mpegpipe', label: 'Y4M' },
  { name: 'h264', label: 'raw H.264' },
  { name: 'hevc', label: 'raw HEVC' },
  { name: 'mpegvideo', label: 'raw MPEG-1/2 video' },
];

/** The `-format_whitelist` value: every allowed demuxer's full name. */
export const FORMAT_WHITELIST = allowedDemuxers.map((demuxer) => demuxer.name).join(',');

const QUICKTIME_DEMUXER = 'mov,mp4,m4a,3gp,3g2,mj2';

/** The allowed demuxer a probed `format_name` names, or null when it is not on the list. */
export function findAllowedDemuxer(formatName: string): AllowedDemuxer | null {
  return allowedDemuxers.find((demuxer) => demuxer.name === formatName) ?? null;
}

/** One stored file as ffmpeg opens it. */
export interface MediaInput {
  /** What follows `-i`: an absolute path, a `file:` relative path, or the store's pre-signed URL. */
  url: string;
  /** The protocols this one source needs, for `-protocol_whitelist`. */
  protocols: readonly string[];
  /** The demuxer the probe found (an allowed `format_name`); null until the file is probed. */
  demuxer: string | null;
}

/**
 * A store's media source (BlobStore.mediaSource: a local path, or a pre-signed http(s) URL) as an
 * input. An https URL needs `https,tls,tcp`, an http one `http,tcp`; a path needs `file`. Nothing
 * else: no `data:`, `subfile`, `concat`, `crypto`, `hls`, `udp`...
 */
export function mediaInputOf(location: string): MediaInput {
  if (location.startsWith('https://')) return { url: location, protocols: ['https', 'tls', 'tcp'], demuxer: null };
  if (location.startsWith('http://')) return { url: location, protocols: ['http', 'tcp'], demuxer: null };
  // A relative path gets the `file:` protocol, so `a:b.mp4` is not read as a protocol nor `-x.mp4` as an option.
  return { url: path.isAbsolute(location) ? location : `file:${location}`, protocols: ['file'], demuxer: null };
}

/** The same input with the demuxer its probe found; throws for a demuxer that is not allowed. */
export function withDemuxer(input: MediaInput, formatName: string): MediaInput {
  const allowed = findAllowedDemuxer(formatName);
  if (allowed === null) throw new Error(`the demuxer ${formatName} is not on the allow-list`);
  return { ...input, demuxer: allowed.name };
}

/** The input every run after the probe opens: the store's source with the probed demuxer forced. */
export function probedInput(location: string, video: { demuxer: string }): MediaInput {
  return withDemuxer(mediaInputOf(location), video.demuxer);
}

function isHttp(input: MediaInput): boolean {
  return input.protocols.includes('http') || input.protocols.includes('https');
}

/**
 * The input options that go before one `-i` of a stored file, for ffmpeg and ffprobe alike:
 * the forced demuxer (once probed), both whitelists, drefs off for QuickTime and, for an http(s)
 * source, no redirects (a redirect could name another host). ffmpeg refuses an option its forced
 * demuxer does not know, so `-enable_drefs` goes only with the QuickTime demuxer or with the probe,
 * whose demuxer is not known yet (ffprobe skips it with a warning for other demuxers).
 */
export function inputOptions(input: MediaInput): string[] {
  const forced = input.demuxer === null ? [] : ['-f', input.demuxer.split(',')[0] ?? input.demuxer];
  const drefs = input.demuxer === null || input.demuxer === QUICKTIME_DEMUXER ? ['-enable_drefs', '0'] : [];
  return [
    ...forced,
    '-format_whitelist',
    FORMAT_WHITELIST,
    '-protocol_whitelist',
    input.protocols.join(','),
    ...drefs,
    ...(isHttp(input) ? ['-max_redirects', '0'] : []),
  ];
}

/** `inputOptions`, then `seek` (per-input options such as `-ss`), then `-i` and the input. */
export function inputArgs(input: MediaInput, seek: readonly string[] = []): string[] {
  return [...inputOptions(input), ...seek, '-i', input.url];
}

/** What users call formats the allow-list leaves out, for the sentence a refused file gets. */
const refusedFormatLabels: Readonly<Record<string, string>> = {
  hls: 'an HLS playlist',
  dash: 'a DASH manifest (MPD)',
  concat: 'an ffconcat list',
  webm_dash_manifest: 'a WebM DASH manifest',
  imf: 'an IMF composition playlist',
  image2: 'an image sequence',
  sdp: 'an SDP session description',
  rtp: 'an RTP stream description',
  rtsp: 'an RTSP stream description',
  data: 'raw data',
  tee: 'a tee list',
  ffmetadata: 'an ffmetadata file',
  lavfi: 'a filter graph',
};

const ALLOWED_SUMMARY =
  'it ingests single-file video containers (QuickTime/MP4, Matroska/WebM, MXF, MPEG-TS, MPEG-PS, AVI, FLV, Ogg, DV, GXF, ASF, Y4M and raw H.264, HEVC or MPEG video) and never opens what a file refers to';

/** The file's format is not one Reelin reads; `message` names it in a sentence. */
export class UnsupportedMediaFormatError extends Error {
  override readonly name = 'UnsupportedMediaFormatError';
  constructor(
    readonly format: string,
    readonly reason: 'format' | 'data-reference',
    message: string,
  ) {
    super(message);
  }
}

/** The refusal of a file ffmpeg probed as `format` (a demuxer name such as `hls` or `png_pipe`). */
export function refusedFormat(format: string): UnsupportedMediaFormatError {
  const label = refusedFormatLabels[format] ?? (format.endsWith('_pipe') ? 'a still image' : null);
  const what = label === null ? `in the ${format} format` : `${label} (format ${format})`;
  return new UnsupportedMediaFormatError(
    format,
    'format',
    `the file is ${what}, which Reelin does not ingest: ${ALLOWED_SUMMARY}`,
  );
}

/** The refusal of a QuickTime movie whose media lives in other files (external data references). */
export function refusedDataReference(): UnsupportedMediaFormatError {
  return new UnsupportedMediaFormatError(
    'mov',
    'data-reference',
    'the file is a QuickTime reference movie: its media lives in other files (external data references), which Reelin never opens; export it as a self-contained movie',
  );
}

/**
 * The format libavformat refused in a failed run's stderr: its `Format not on whitelist` error
 * comes from the probed demuxer's context, named in the line's prefix (`[hls @ 0x...]`).
 */
export function formatRefusedIn(stderr: string): string | null {
  return /^\[([\w,]+) @ 0x[0-9a-f]+\] Format not on whitelist/m.exec(stderr)?.[1] ?? null;
}

/** Whether ffprobe's stderr says a QuickTime track refers to an external file (drefs are off). */
export function hasExternalDataReference(stderr: string): boolean {
  return /Skipped opening external track/.test(stderr);
}
