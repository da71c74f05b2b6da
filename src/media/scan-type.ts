/**
 * Deep scan-type analysis: runs ffmpeg's idet over segments spread over the whole video and decides
 * from its counts (src/domain/scan-type-decision.ts), independently of the declared field order.
 *
 * How it works, in one ffmpeg run: a video no longer than six segments of 4 s is analysed from the
 * start in one piece (at most 600 frames); a longer one is opened once per segment with
 * `-noaccurate_seek`, so each segment starts at a keyframe and costs no extra decoding. The segments
 * are concatenated and idet runs over the result; its `lavfi.idet.multiple.*` frame tags are running
 * totals, so the last printed frame carries the sums. idet must see the decoded pictures as they are:
 * nothing in the graph deinterlaces, scales or re-tags field order (no setfield), and
 * `-noautorotate` keeps a display rotation from turning rows into columns.
 */
import { decideScanType, type IdetCounts, type ScanType } from '../domain/scan-type-decision.js';
import { spreadInstantsMs } from '../domain/still-instants.js';
import type { MediaTools } from './ffmpeg-tools.js';
import type { ProcessRunner, RunOptions } from './process-runner.js';
import { finiteTag, formatSeconds, parseMetadataPrint, requireFilters } from './filter-graph.js';
import { inputArgs, type MediaInput } from './media-input.js';

export const SCAN_SEGMENT_COUNT = 6;
export const SCAN_FRAMES_PER_SEGMENT = 100;
/** Videos up to this long are analysed in one piece from the start. */
export const SCAN_WHOLE_VIDEO_MAX_MS = SCAN_SEGMENT_COUNT * 4_000;

export interface ScanSegment {
  startMs: number;
  frames: number;
}

export function planScanSegments(durationMs: number): ScanSegment[] {
  if (!(durationMs > SCAN_WHOLE_VIDEO_MAX_MS))
    return [{ startMs: 0, frames: SCAN_SEGMENT_COUNT * SCAN_FRAMES_PER_SEGMENT }];
  return spreadInstantsMs(durationMs, SCAN_SEGMENT_COUNT).map((startMs) => ({
    startMs,
    frames: SCAN_FRAMES_PER_SEGMENT,
  }));
}

export function buildScanTypeArgs(input: MediaInput, segments: readonly ScanSegment[]): string[] {
  const inputs = segments.flatMap((segment) =>
    inputArgs(
      input,
      segment.startMs > 0
        ? ['-noaccurate_seek', '-ss', formatSeconds(segment.startMs), '-noautorotate']
        : ['-noautorotate'],
    ),
  );
  const trims = segments.map(
    (segment, index) => `[${index}:v:0]trim=end_frame=${segment.frames},setpts=PTS-STARTPTS[s${index}]`,
  );
  const joined = segments.map((_, index) => `[s${index}]`).join('');
  const graph = [...trims, `${joined}concat=n=${segments.length}:v=1:a=0,idet,metadata=mode=print:file=-[out]`].join(
    ';',
  );
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

/** The running idet multiple-frame totals of the last printed frame (zeros when none was printed). */
export function parseIdetCounts(stdout: string): IdetCounts {
  const last = parseMetadataPrint(stdout)
    .filter((frame) => frame.tags.has('lavfi.idet.multiple.tff'))
    .at(-1);
  const read = (key: string): number =>
    last === undefined ? 0 : Math.round(finiteTag(last.tags, `lavfi.idet.multiple.${key}`) ?? 0);
  return { tff: read('tff'), bff: read('bff'), progressive: read('progressive'), undetermined: read('undetermined') };
}

export async function analyzeScanType(
  runner: ProcessRunner,
  tools: Pick<MediaTools, 'ffmpegPath' | 'filters'>,
  source: { input: MediaInput; durationMs: number },
  options: Pick<RunOptions, 'signal' | 'timeoutMs' | 'resources'> = {},
): Promise<{ scanType: ScanType; counts: IdetCounts }> {
  requireFilters(tools, ['trim', 'setpts', 'concat', 'idet', 'metadata'], 'scan-type analysis');
  const args = buildScanTypeArgs(source.input, planScanSegments(source.durationMs));
  // About 1 KiB of tags per frame for at most 600 frames.
  const { stdout } = await runner.run(tools.ffmpegPath, args, { ...options, maxStdoutBytes: 16 * 1024 * 1024 });
  const counts = parseIdetCounts(stdout);
  return { scanType: decideScanType(counts), counts };
}
