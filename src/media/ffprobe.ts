/**
 * Runs ffprobe for metadata and validates the subset of its JSON that we read.
 *
 * The probe never reads the whole file: ffprobe opens the container (which for MP4/MOV means reading
 * the index, wherever it is), and `-read_intervals %+#1` decodes only the first packet of each stream
 * to see per-frame side data (HDR10+ dynamic metadata, mastering display). So a 100 GB file takes
 * about as long as a 100 MB one. `-count_frames` / `-count_packets` are deliberately not used: they
 * read everything.
 */
import { z } from 'zod';
import { MediaProcessError, type ProcessRunner } from './process-runner.js';
import { fileArgument, type MediaTools } from './ffmpeg-tools.js';
import { NotAVideoError, toProbedVideo, type ProbedVideo } from './metadata.js';

/** ffprobe arguments for the metadata probe of `input` (a file path). */
export function ffprobeMetadataArgs(input: string): string[] {
  return [
    '-hide_banner',
    '-v', 'error',
    '-of', 'json',
    '-show_format',
    '-show_streams',
    '-show_frames',
    '-read_intervals', '%+#1',
    '-show_entries', 'frame=stream_index,side_data_list',
    '-i', fileArgument(input),
  ];
}

const sideDataSchema = z.object({
  side_data_type: z.string().optional(),
  rotation: z.number().optional(),
});

const numericString = z.union([z.string(), z.number()]).transform((value) => Number(value)).pipe(z.number());

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
  frames: z.array(z.object({ stream_index: z.number().int().optional(), side_data_list: z.array(sideDataSchema).optional() })).default([]),
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
  const last = stderrTail.split('\n').map((line) => line.trim()).filter((line) => line !== '').at(-1);
  return `the file could not be read as a video${last === undefined ? '' : `: ${last}`}`;
}

/**
 * Reads the metadata of the video at `input` (a local file path). Throws `NotAVideoError` when the
 * file has no video stream or ffprobe cannot read it; other failures (abort, missing binary)
 * propagate unchanged.
 */
export async function probeVideoMetadata(runner: ProcessRunner, tools: Pick<MediaTools, 'ffprobePath'>, input: string, signal?: AbortSignal): Promise<ProbedVideo> {
  let stdout: string;
  try {
    ({ stdout } = await runner.run(tools.ffprobePath, ffprobeMetadataArgs(input), { signal, timeoutMs: 60_000, maxStdoutBytes: 16 * 1024 * 1024 }));
  } catch (error) {
    if (error instanceof MediaProcessError && error.exitCode !== null && error.exitCode !== 0) {
      throw new NotAVideoError('UNREADABLE', explainUnreadable(error.stderrTail), { cause: error });
    }
    throw error;
  }
  return toProbedVideo(parseFfprobeJson(stdout));
}
