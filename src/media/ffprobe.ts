/**
 * Runs ffprobe for metadata and validates the subset of its JSON that we read.
 *
 * The probe never reads the whole file: ffprobe opens the container (which for MP4/MOV means reading
 * the index, wherever it is), and `-read_intervals %+#1` decodes only the first packet of each stream
 * to see per-frame side data (HDR10+ dynamic metadata, mastering display). So a 100 GB file takes
 * about as long as a 100 MB one. `-count_frames` / `-count_packets` are deliberately not used: they
 * read everything.
 *
 * The probe is also the gate of the media path (media-input.ts): it opens the file with the format
 * and protocol whitelists, so a playlist, a manifest or any format off the allow-list is refused
 * by libavformat before its demuxer reads a byte (the refused format is named in ffprobe's error),
 * and a QuickTime movie with external data references is refused on ffprobe's warning about them
 * (drefs are off, so nothing they name is opened). The demuxer it finds is forced on every later run.
 */
import { z } from 'zod';
import { MediaProcessError, type ProcessRunner, type RunOptions } from './process-runner.js';
import type { MediaTools } from './ffmpeg-tools.js';
import {
  findAllowedDemuxer,
  formatRefusedIn,
  hasExternalDataReference,
  inputArgs,
  refusedDataReference,
  refusedFormat,
  type MediaInput,
} from './media-input.js';
import { NotAVideoError, toProbedVideo, type ProbedVideo } from './metadata.js';

/** ffprobe arguments for the metadata probe of `input`. Warnings are kept: the external data reference one matters. */
export function ffprobeMetadataArgs(input: MediaInput): string[] {
  return [
    '-hide_banner',
    '-v',
    'warning',
    '-of',
    'json',
    '-show_format',
    '-show_streams',
    '-show_frames',
    '-read_intervals',
    '%+#1',
    '-show_entries',
    'frame=stream_index,side_data_list',
    ...inputArgs(input),
  ];
}

const sideDataSchema = z.object({
  side_data_type: z.string().optional(),
  rotation: z.number().optional(),
});

const numericString = z
  .union([z.string(), z.number()])
  .transform((value) => Number(value))
  .pipe(z.number());

const streamSchema = z.object({
  index: z.number().int(),
  codec_type: z.string().optional(),
  codec_name: z.string().optional(),
  codec_long_name: z.string().optional(),
  width: z.number().int().optional(),
  height: z.number().int().optional(),
  sample_aspect_ratio: z.string().optional(),
  display_aspect_ratio: z.string().optional(),
  pix_fmt: z.string().optional(),
  bits_per_raw_sample: numericString.optional(),
  color_range: z.string().optional(),
  color_space: z.string().optional(),
  color_transfer: z.string().optional(),
  color_primaries: z.string().optional(),
  field_order: z.string().optional(),
  r_frame_rate: z.string().optional(),
  avg_frame_rate: z.string().optional(),
  duration: numericString.optional(),
  bit_rate: numericString.optional(),
  nb_frames: numericString.optional(),
  disposition: z.object({ attached_pic: z.number().optional() }).optional(),
  tags: z.record(z.string(), z.string()).optional(),
  side_data_list: z.array(sideDataSchema).optional(),
});

const formatSchema = z.object({
  format_name: z.string().optional(),
  format_long_name: z.string().optional(),
  duration: numericString.optional(),
  size: numericString.optional(),
  tags: z.record(z.string(), z.string()).optional(),
});

export const ffprobeOutputSchema = z.object({
  streams: z.array(streamSchema).default([]),
  format: formatSchema.optional(),
  frames: z
    .array(z.object({ stream_index: z.number().int().optional(), side_data_list: z.array(sideDataSchema).optional() }))
    .default([]),
});

/** The part of ffprobe's JSON this service reads; never passed beyond src/media. */
export type FfprobeOutput = z.infer<typeof ffprobeOutputSchema>;
export type FfprobeStream = FfprobeOutput['streams'][number];

/** Parses ffprobe's JSON output; throws when it is not the shape we expect. */
export function parseFfprobeJson(text: string): FfprobeOutput {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error('ffprobe printed something that is not JSON', { cause: error });
  }
  const parsed = ffprobeOutputSchema.safeParse(json);
  if (!parsed.success) throw new Error(`ffprobe's JSON has an unexpected shape: ${parsed.error.message}`);
  return parsed.data;
}

/** Turns ffprobe's complaint about an unreadable file into a sentence a user can act on. */
export function explainUnreadable(stderrTail: string): string {
  if (/moov atom not found/i.test(stderrTail)) {
    return 'the file could not be read as a video: its MP4/MOV index (moov atom) is missing, so it is truncated or not a video';
  }
  if (/Invalid data found when processing input/i.test(stderrTail)) {
    return 'the file could not be read as a video: it is not in a media format ffprobe recognises (corrupted, truncated or not a video)';
  }
  const last = stderrTail
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .at(-1);
  return `the file could not be read as a video${last === undefined ? '' : `: ${last}`}`;
}

/**
 * Reads the metadata of the video at `input`. Throws `UnsupportedMediaFormatError` for a format off
 * the allow-list or a reference movie, `NotAVideoError` when the file has no video stream or
 * ffprobe cannot read it; other failures (abort, a limit, a missing binary) propagate unchanged.
 * The result's `demuxer` is what every later run on the file forces (`probedInput`).
 */
export async function probeVideoMetadata(
  runner: ProcessRunner,
  tools: Pick<MediaTools, 'ffprobePath'>,
  input: MediaInput,
  options: Pick<RunOptions, 'signal' | 'timeoutMs' | 'resources'> = {},
): Promise<ProbedVideo> {
  let result: { stdout: string; stderrTail: string };
  try {
    result = await runner.run(tools.ffprobePath, ffprobeMetadataArgs(input), {
      timeoutMs: 60_000,
      ...options,
      maxStdoutBytes: 16 * 1024 * 1024,
    });
  } catch (error) {
    if (error instanceof MediaProcessError && error.exitCode !== null && error.exitCode !== 0) {
      const refused = formatRefusedIn(error.stderrTail);
      if (refused !== null) throw refusedFormat(refused);
      throw new NotAVideoError('UNREADABLE', explainUnreadable(error.stderrTail), { cause: error });
    }
    throw error;
  }
  const output = parseFfprobeJson(result.stdout);
  const formatName = output.format?.format_name ?? '';
  // The whitelist already refused any other demuxer; this holds even if an ffmpeg build ignored it.
  if (findAllowedDemuxer(formatName) === null) throw refusedFormat(formatName === '' ? 'unknown' : formatName);
  if (hasExternalDataReference(result.stderrTail)) throw refusedDataReference();
  return toProbedVideo(output);
}
