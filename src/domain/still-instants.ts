/**
 * Where stills are taken and which frame near each instant is good enough to show.
 *
 * Instants are spread evenly with a half-step margin, so none falls on the very first or last frame
 * (often black, a slate or a fade). Near each instant the first frame that is neither black nor in
 * the middle of a fade is chosen: bright enough on average, with enough contrast in absolute terms,
 * and with nearly as much contrast as the best frame of its window (a fade-in frame passes the
 * absolute tests long before it reaches the scene's real contrast). Luma values are on an 8-bit scale
 * (the analysis converts every source to 8 bits), so the thresholds do not depend on bit depth.
 */

/** `count` instants in [0, durationMs), the i-th at (i + 0.5) / count of the duration, rounded to ms. */
export function spreadInstantsMs(durationMs: number, count: number): number[] {
  if (!Number.isFinite(durationMs) || durationMs <= 0 || count <= 0) return [];
  return Array.from({ length: Math.floor(count) }, (_, index) => Math.round(((index + 0.5) * durationMs) / count));
}

/** The instants at which stills are taken (see `spreadInstantsMs`). */
export function planStillInstants(durationMs: number, count: number): number[] {
  return spreadInstantsMs(durationMs, count);
}

/** How far after its instant a still may be taken: 2 s, less when the stills are closer together. */
export function stillWindowMs(durationMs: number, count: number): number {
  if (count <= 0 || durationMs <= 0) return 0;
  return Math.max(1, Math.min(2_000, Math.floor(durationMs / count / 2)));
}

/** Luma statistics of one candidate frame on an 8-bit scale (signalstats YAVG/YLOW/YHIGH). */
export interface StillFrameStats {
  /** Milliseconds after the window's first frame. */
  offsetMs: number;
  yAvg: number;
  /** 10th and 90th luma percentiles; their distance is the frame's contrast. */
  yLow: number;
  yHigh: number;
  /** Luma histogram entropy (bits, 0..8): how varied the picture is; used to choose the poster. */
  entropy: number | null;
}

export interface StillThresholds {
  /** Minimum average luma; limited-range black is 16. */
  minYAvg: number;
  /** Minimum YHIGH - YLOW. */
  minContrast: number;
  /** Minimum share of the window's highest contrast. */
  minRelativeContrast: number;
}

export const defaultStillThresholds: StillThresholds = { minYAvg: 40, minContrast: 24, minRelativeContrast: 0.9 };

function contrast(frame: StillFrameStats): number {
  return frame.yHigh - frame.yLow;
}

/**
 * The index of the first frame in the window that is not black and not mid-fade, or 0 when none
 * qualifies (a dark scene is still better than no still), or -1 for an empty window.
 */
export function pickStillFrame(
  frames: readonly StillFrameStats[],
  thresholds: StillThresholds = defaultStillThresholds,
): number {
  if (frames.length === 0) return -1;
  const bestContrast = Math.max(...frames.map(contrast));
  const index = frames.findIndex(
    (frame) =>
      frame.yAvg >= thresholds.minYAvg &&
      contrast(frame) >= thresholds.minContrast &&
      contrast(frame) >= thresholds.minRelativeContrast * bestContrast,
  );
  return index === -1 ? 0 : index;
}

/**
 * Which of the chosen stills becomes the poster: the most varied picture (highest luma entropy),
 * the one nearest the middle on ties or when entropy is unknown, because the middle of a video is
 * more likely to show its subject than its opening.
 */
export function choosePosterIndex(stills: readonly Pick<StillFrameStats, 'entropy'>[]): number {
  if (stills.length === 0) return -1;
  const middle = Math.floor((stills.length - 1) / 2);
  let best = middle;
  stills.forEach((still, index) => {
    const bestEntropy = stills[best]?.entropy ?? null;
    if (still.entropy === null) return;
    const isBetter =
      bestEntropy === null ||
      still.entropy > bestEntropy + 1e-9 ||
      (Math.abs(still.entropy - bestEntropy) <= 1e-9 && Math.abs(index - middle) < Math.abs(best - middle));
    if (isBetter) best = index;
  });
  return best;
}
