/**
 * Turns per-frame measurements into the contract's quality assessment.
 *
 * Every measure is taken on frames scaled so their shorter side is 540 pixels and converted to
 * 8-bit 4:2:0 (see src/media/quality.ts), so values do not depend on the source's resolution or bit
 * depth. Each metric's sample mean maps to a 0..5 score through a fixed piecewise-linear curve
 * (points below), rounded to one decimal; the score picks a label from a fixed ladder. The overall
 * score is a weighted mean, capped at the worst defect score + 1.5 because one severe defect (heavy
 * noise, a smeared picture, blocking) spoils a picture however good the rest is. Colourfulness is
 * not a defect (black-and-white film is legitimate), so it does not cap. docs/quality-assessment.md
 * explains the measures and their limits.
 */

export type QualityMetricName = 'noise' | 'details' | 'colors' | 'compression';
export type QualityLabel = 'untenable' | 'poor' | 'fair' | 'good' | 'excellent';

export interface QualityMetric {
  name: QualityMetricName;
  /** Mean of the metric's raw measure over the sampled frames (unit per metric, see `qualityScales`). */
  sampleMean: number;
  subjectiveLabel: QualityLabel;
  /** 0..5, one decimal; higher is better for every metric. */
  subjectiveScore: number;
}

export interface QualityAssessment {
  /** Metrics that had at least one measurable frame, in the order of `qualityMetricNames`. */
  metrics: QualityMetric[];
  /** 0..5, one decimal; 0 when nothing was measurable. */
  overallSubjectiveScore: number;
}

/** Raw measures of one sampled frame; null when the measure is undefined for it (e.g. a flat frame has no edges). */
export interface FrameMeasures {
  /** Mean squared luma difference between the frame and its 3x3 median (8-bit levels squared). */
  noiseMse: number | null;
  /** blurdetect's edge width in pixels (lavfi.blur): larger is blurrier. */
  blurWidth: number | null;
  /** signalstats SATAVG: mean chroma distance from neutral grey, 8-bit levels (0..~181). */
  saturation: number | null;
  /** blockdetect's blockiness (lavfi.block): 1 means no visible block grid, larger is blockier. */
  blockiness: number | null;
}

export const qualityMetricNames: readonly QualityMetricName[] = ['noise', 'details', 'colors', 'compression'];

/** [measure, score] points, measures ascending; the score is interpolated between them and held flat outside. */
export type ScorePoints = readonly (readonly [number, number])[];

export const qualityScales: Readonly<
  Record<QualityMetricName, { unit: string; points: ScorePoints; weight: number; isDefect: boolean }>
> = {
  // RMS of (luma - median3x3(luma)) in 8-bit levels. Clean footage sits near 1; film grain 3..5;
  // noise=alls=25 on a clean source measures about 7.
  noise: {
    unit: 'RMS luma residual, 8-bit levels',
    points: [
      [0.5, 5],
      [1.5, 4.2],
      [3, 3],
      [5, 2],
      [8, 1],
      [12, 0],
    ],
    weight: 0.25,
    isDefect: true,
  },
  // Mean edge width at 540 lines: crisp footage 3..5 px, soft 8..10, a Gaussian blur of sigma 3 about 14.
  details: {
    unit: 'edge width, pixels at 540 lines',
    points: [
      [2.5, 5],
      [4, 4.5],
      [6, 3.5],
      [8, 2.5],
      [11, 1.5],
      [15, 0.5],
      [20, 0],
    ],
    weight: 0.35,
    isDefect: true,
  },
  // Mean saturation: greyscale is 0, muted grading 10..20, vivid footage 35 and up.
  colors: {
    unit: 'mean saturation, 8-bit levels',
    points: [
      [0, 0],
      [4, 1],
      [10, 2],
      [20, 3],
      [35, 4],
      [55, 5],
    ],
    weight: 0.15,
    isDefect: false,
  },
  // blockdetect: well-compressed H.264 stays below 5, blocky MPEG-2 at low bitrates reaches 10..12.
  compression: {
    unit: 'blockiness ratio',
    points: [
      [1.5, 5],
      [3, 4],
      [5, 3],
      [8, 2],
      [12, 1],
      [18, 0],
    ],
    weight: 0.25,
    isDefect: true,
  },
};

/** The worst defect score plus this is the highest overall score. */
export const overallCapAboveWorstDefect = 1.5;

function roundTo(value: number, decimals: number): number {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
}

/** Piecewise-linear interpolation through `points`, clamped to the first/last score, one decimal. */
export function scoreFromPoints(points: ScorePoints, measure: number): number {
  const first = points[0];
  const last = points.at(-1);
  if (first === undefined || last === undefined) throw new Error('a score scale needs at least one point');
  if (measure <= first[0]) return roundTo(first[1], 1);
  if (measure >= last[0]) return roundTo(last[1], 1);
  for (let index = 1; index < points.length; index += 1) {
    const [x1, y1] = points[index] ?? last;
    const [x0, y0] = points[index - 1] ?? first;
    if (measure <= x1) return roundTo(y0 + ((measure - x0) / (x1 - x0)) * (y1 - y0), 1);
  }
  return roundTo(last[1], 1);
}

/** Bands: [0, 1) untenable, [1, 2) poor, [2, 3) fair, [3, 4) good, [4, 5] excellent. */
export function labelForScore(score: number): QualityLabel {
  if (score < 1) return 'untenable';
  if (score < 2) return 'poor';
  if (score < 3) return 'fair';
  if (score < 4) return 'good';
  return 'excellent';
}

function mean(values: readonly (number | null)[]): number | null {
  const finite = values.filter((value): value is number => value !== null && Number.isFinite(value));
  return finite.length === 0 ? null : finite.reduce((sum, value) => sum + value, 0) / finite.length;
}

/** The sample mean of each metric's raw measure, or null when no frame had it. */
export function sampleMeans(frames: readonly FrameMeasures[]): Record<QualityMetricName, number | null> {
  const noiseMse = mean(frames.map((frame) => frame.noiseMse));
  return {
    // The root of the mean squared residual: the RMS residual over every sampled pixel.
    noise: noiseMse === null ? null : Math.sqrt(noiseMse),
    details: mean(frames.map((frame) => frame.blurWidth)),
    colors: mean(frames.map((frame) => frame.saturation)),
    compression: mean(frames.map((frame) => frame.blockiness)),
  };
}

/** Weighted mean of the metric scores, capped at the worst defect score + 1.5, one decimal. */
export function overallScore(metrics: readonly QualityMetric[]): number {
  if (metrics.length === 0) return 0;
  let weighted = 0;
  let weights = 0;
  let worstDefect = Number.POSITIVE_INFINITY;
  for (const metric of metrics) {
    const scale = qualityScales[metric.name];
    weighted += scale.weight * metric.subjectiveScore;
    weights += scale.weight;
    if (scale.isDefect) worstDefect = Math.min(worstDefect, metric.subjectiveScore);
  }
  return roundTo(Math.min(weighted / weights, worstDefect + overallCapAboveWorstDefect, 5), 1);
}

export function scoreQuality(frames: readonly FrameMeasures[]): QualityAssessment {
  const means = sampleMeans(frames);
  const metrics: QualityMetric[] = [];
  for (const name of qualityMetricNames) {
    const sampleMean = means[name];
    if (sampleMean === null) continue;
    const subjectiveScore = scoreFromPoints(qualityScales[name].points, sampleMean);
    metrics.push({
      name,
      sampleMean: roundTo(sampleMean, 3),
      subjectiveLabel: labelForScore(subjectiveScore),
      subjectiveScore,
    });
  }
  return { metrics, overallSubjectiveScore: overallScore(metrics) };
}
