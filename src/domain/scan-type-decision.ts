/**
 * Deciding how a video is scanned from what ffmpeg's idet filter saw in its pictures.
 *
 * idet classifies each frame as top-field-first, bottom-field-first, progressive or undetermined by
 * comparing each frame with its fields; its "multiple-frame" classification smooths that over a few
 * frames and is the one used here. The decision is deliberately conservative: labelling a progressive
 * video interlaced makes the web video and stills lose half their vertical detail to deinterlacing,
 * while the reverse only leaves combing on a source that idet could not see clearly. So:
 *
 * 1. Too little evidence (fewer than `minDecidedFrames` frames decided, or fewer than
 *    `minDecidedShare` of all frames) -> PROGRESSIVE. Still or flat pictures are mostly undetermined.
 * 2. Interlaced (tff + bff) must outnumber progressive by `minInterlacedShare` of the decided frames;
 *    a tie is progressive.
 * 3. One field order must dominate the other by `minOrderDominance` (2 means at least twice as many);
 *    otherwise the order cannot be told and the answer is PROGRESSIVE rather than a guess that would
 *    make deinterlacing judder.
 */

export type ScanType = 'PROGRESSIVE' | 'INTERLACED_TOP_FIRST' | 'INTERLACED_BOTTOM_FIRST';

/** idet's multiple-frame counts, summed over every analysed segment. */
export interface IdetCounts {
  tff: number;
  bff: number;
  progressive: number;
  undetermined: number;
}

export interface ScanTypeThresholds {
  minDecidedFrames: number;
  minDecidedShare: number;
  minInterlacedShare: number;
  minOrderDominance: number;
}

export const defaultScanTypeThresholds: ScanTypeThresholds = {
  minDecidedFrames: 10,
  minDecidedShare: 0.2,
  minInterlacedShare: 0.6,
  minOrderDominance: 2,
};

export function decideScanType(
  counts: IdetCounts,
  thresholds: ScanTypeThresholds = defaultScanTypeThresholds,
): ScanType {
  const interlaced = counts.tff + counts.bff;
  const decided = interlaced + counts.progressive;
  const total = decided + counts.undetermined;
  if (decided < thresholds.minDecidedFrames || decided < thresholds.minDecidedShare * total) return 'PROGRESSIVE';
  if (interlaced <= counts.progressive || interlaced < thresholds.minInterlacedShare * decided) return 'PROGRESSIVE';
  if (counts.tff >= thresholds.minOrderDominance * counts.bff && counts.tff > counts.bff) return 'INTERLACED_TOP_FIRST';
  if (counts.bff >= thresholds.minOrderDominance * counts.tff && counts.bff > counts.tff)
    return 'INTERLACED_BOTTOM_FIRST';
  return 'PROGRESSIVE';
}

/** Adds idet counts (e.g. of several runs). */
export function sumIdetCounts(all: readonly IdetCounts[]): IdetCounts {
  return all.reduce<IdetCounts>(
    (sum, counts) => ({
      tff: sum.tff + counts.tff,
      bff: sum.bff + counts.bff,
      progressive: sum.progressive + counts.progressive,
      undetermined: sum.undetermined + counts.undetermined,
    }),
    { tff: 0, bff: 0, progressive: 0, undetermined: 0 },
  );
}
