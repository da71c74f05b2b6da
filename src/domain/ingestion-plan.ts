/**
 * What an ingestion does, in which order, and how far along it is. The stages' weights are their
 * rough share of the work on a typical HD file (the web video's encode dominates), so the
 * percentage moves at a steady pace and the ETA drawn from it is meaningful.
 */

export type IngestionStage = 'metadata' | 'scanType' | 'qualityAssessment' | 'stills' | 'webVideo';

/** The media features a stage needs (names as the ffmpeg capability probe reports them). */
export const stageFeatures: Readonly<Record<IngestionStage, readonly string[]>> = {
  metadata: ['metadata'],
  scanType: ['scanTypeAnalysis'],
  qualityAssessment: ['qualityAssessment'],
  stills: ['thumbnails', 'fullFrames'],
  webVideo: ['webVideo'],
};

const stageWeights: Readonly<Record<IngestionStage, number>> = {
  metadata: 2,
  scanType: 8,
  qualityAssessment: 12,
  stills: 13,
  webVideo: 65,
};

// Scan type comes before the stills and the web video: both deinterlace when the pictures are
// interlaced, whatever the file declares.
const fullOrder: readonly IngestionStage[] = ['metadata', 'scanType', 'qualityAssessment', 'stills', 'webVideo'];

export interface PlannedStage {
  stage: IngestionStage;
  /** Share of the whole ingestion, 0..1; the shares of a plan add up to 1. */
  share: number;
}

export interface IngestionPlan {
  stages: PlannedStage[];
  /** Stages a full ingestion would run that this one skips, with the reason. */
  skipped: { stage: IngestionStage; feature: string; reason: string }[];
}

/**
 * The stages of an ingestion: metadata only, or everything a full ingestion makes that the
 * installed ffmpeg can make. A stage whose feature is unavailable is skipped and reported, never
 * faked.
 */
export function planIngestion(full: boolean, unavailable: ReadonlyMap<string, string>): IngestionPlan {
  const wanted = full ? fullOrder : fullOrder.slice(0, 1);
  const skipped: IngestionPlan['skipped'] = [];
  const kept: IngestionStage[] = [];
  for (const stage of wanted) {
    const missing = stageFeatures[stage].find((feature) => unavailable.has(feature));
    if (missing === undefined) kept.push(stage);
    else skipped.push({ stage, feature: missing, reason: unavailable.get(missing) ?? 'unavailable' });
  }
  const total = kept.reduce((sum, stage) => sum + stageWeights[stage], 0);
  return { stages: kept.map((stage) => ({ stage, share: total === 0 ? 0 : stageWeights[stage] / total })), skipped };
}

/** The whole ingestion's completed fraction (0..1) when `stageIndex` is `withinStage` (0..1) done. */
export function fractionDone(plan: IngestionPlan, stageIndex: number, withinStage: number): number {
  let done = 0;
  for (let index = 0; index < Math.min(stageIndex, plan.stages.length); index += 1)
    done += plan.stages[index]?.share ?? 0;
  const current = plan.stages[stageIndex];
  if (current !== undefined) done += current.share * Math.min(1, Math.max(0, withinStage));
  return Math.min(1, done);
}

/**
 * Seconds left, extrapolated from the time spent so far; null until there is enough to go on
 * (under 2% done or under a second spent), as an early guess would swing wildly.
 */
export function estimateRemainingSeconds(elapsedMs: number, fraction: number): number | null {
  if (fraction >= 1) return 0;
  if (fraction < 0.02 || elapsedMs < 1000) return null;
  return Math.max(0, Math.round(((elapsedMs / fraction) * (1 - fraction)) / 1000));
}

/** A percentage for the wire: whole numbers, and 100 only when the work is really finished. */
export function toPercentage(fraction: number, finished: boolean): number {
  if (finished) return 100;
  return Math.min(99, Math.max(0, Math.floor(fraction * 100)));
}
