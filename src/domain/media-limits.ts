/**
 * How long, how much CPU and how much memory one ffmpeg or ffprobe run may take, and which media a
 * full ingestion refuses to start (docs/media-security.md). Pure: the runner applies the numbers.
 *
 * Each kind of work has a budget: a fixed part (start-up, opening the file, seeking, a network
 * store's latency) and a part per item it goes through (a second of media for the encodes, a
 * sample or a still position for the analyses). The budget is multiplied by the operator's scale
 * and never goes below the floor. The CPU-time limit is that wall-clock time on every CPU (ffmpeg's
 * threads keep them all busy), so a run that behaves never meets it: it is the backstop that still
 * holds when the wall-clock timer cannot (a stalled worker, a run that outlived its worker).
 */

export type MediaWork = 'probe' | 'scanType' | 'quality' | 'stillAnalysis' | 'still' | 'webVideo' | 'clip';

export interface WorkBudget {
  fixedMs: number;
  /** Per item: a second of media for `webVideo` and `clip`, a segment, sample or still position for the analyses. */
  perItemMs: number;
}

/**
 * Budgets measured with generous margins on 2 CPUs: a 1080p H.264 web video encodes at about 1x
 * real time there, so 4 s per second covers 4K or 10-bit HEVC sources; the ProRes HQ clip at 10 s
 * per second of the window; an analysis position seeks to a keyframe and decodes a few frames.
 */
export const workBudgets: Readonly<Record<MediaWork, WorkBudget>> = {
  // Headers and index (an MP4's may be at the end) and the first packet of each stream.
  probe: { fixedMs: 60_000, perItemMs: 0 },
  // At most 6 segments of 100 frames.
  scanType: { fixedMs: 60_000, perItemMs: 10_000 },
  // 3 frames at each of 8 positions.
  quality: { fixedMs: 60_000, perItemMs: 10_000 },
  // A short window of frames at each still position.
  stillAnalysis: { fixedMs: 60_000, perItemMs: 10_000 },
  // One frame, written three times (thumbnail, full frame, poster).
  still: { fixedMs: 60_000, perItemMs: 0 },
  webVideo: { fixedMs: 60_000, perItemMs: 4_000 },
  clip: { fixedMs: 60_000, perItemMs: 10_000 },
};

export interface MediaLimitPolicy {
  /** No run gets less wall-clock time than this. */
  floorMs: number;
  /** Multiplies every budget (1 as measured; more on slow machines). */
  scale: number;
  /** CPUs a run's threads may keep busy: the CPU-time limit is the wall-clock limit on each. */
  cpuCount: number;
  /** Address space one run may map (RLIMIT_AS); null: none. */
  addressSpaceBytes: number | null;
  /** The longest media a full ingestion takes. */
  maxDurationMs: number;
}

export interface RunLimits {
  timeoutMs: number;
  resources: { cpuSeconds: number; addressSpaceBytes: number | null };
}

/** The wall-clock limit of one run of `work` going through `items` (seconds of media, positions). */
export function wallClockLimitMs(
  work: MediaWork,
  items: number,
  policy: Pick<MediaLimitPolicy, 'floorMs' | 'scale'>,
): number {
  const budget = workBudgets[work];
  const counted = Number.isFinite(items) && items > 0 ? items : 0;
  return Math.max(policy.floorMs, Math.ceil(policy.scale * (budget.fixedMs + budget.perItemMs * counted)));
}

/** Every limit of one run. */
export function runLimits(work: MediaWork, items: number, policy: MediaLimitPolicy): RunLimits {
  const timeoutMs = wallClockLimitMs(work, items, policy);
  return {
    timeoutMs,
    resources: {
      cpuSeconds: Math.ceil((timeoutMs / 1000) * Math.max(1, policy.cpuCount)),
      addressSpaceBytes: policy.addressSpaceBytes,
    },
  };
}

/** A default address-space limit: 2 GiB plus 256 MiB per CPU (ffmpeg starts threads, each with its stack, per CPU). */
export function defaultAddressSpaceBytes(cpuCount: number): number {
  return (2048 + 256 * Math.max(1, cpuCount)) * 1024 * 1024;
}

function formatHours(ms: number): string {
  const hours = ms / 3_600_000;
  return hours >= 1 ? `${Number(hours.toFixed(1))} h` : `${Math.round(ms / 1000)} s`;
}

/**
 * Why a full ingestion refuses media of this duration, or null when it may go ahead: the work of
 * the web video grows with the duration, so an unknown one (a live stream, a raw stream without an
 * index) cannot be bounded, and one past the maximum is refused before it takes a slot for hours.
 */
export function refuseDuration(durationMs: number | null, maxDurationMs: number): string | null {
  if (durationMs === null || !Number.isFinite(durationMs) || durationMs <= 0) {
    return (
      "the video's duration is unknown (a live stream, a raw stream without an index, or a damaged file), so the time its full ingestion needs cannot be bounded: " +
      'only its metadata was read; wrap it in a container with an index (MP4, MOV, Matroska) to ingest it fully'
    );
  }
  if (durationMs > maxDurationMs) {
    return `the video lasts ${formatHours(durationMs)}, longer than the ${formatHours(maxDurationMs)} this service ingests fully: only its metadata was read`;
  }
  return null;
}
