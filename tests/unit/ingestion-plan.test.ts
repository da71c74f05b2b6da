import { describe, expect, it } from 'vitest';
import {
  estimateRemainingSeconds,
  fractionDone,
  planIngestion,
  toPercentage,
} from '../../src/domain/ingestion-plan.js';

const none = new Map<string, string>();

describe('planIngestion', () => {
  it('plans metadata alone without full ingestion', () => {
    expect(planIngestion(false, none)).toEqual({ stages: [{ stage: 'metadata', share: 1 }], skipped: [] });
  });

  it('plans every stage of a full ingestion, scan type before the stages that deinterlace, with shares adding up to 1', () => {
    const plan = planIngestion(true, none);
    expect(plan.stages.map((planned) => planned.stage)).toEqual([
      'metadata',
      'scanType',
      'qualityAssessment',
      'stills',
      'webVideo',
    ]);
    expect(plan.stages.reduce((sum, planned) => sum + planned.share, 0)).toBeCloseTo(1, 12);
    expect(plan.skipped).toEqual([]);
  });

  it('skips a stage whose feature is unavailable and says why, never faking it', () => {
    const plan = planIngestion(
      true,
      new Map([['qualityAssessment', 'the quality assessment needs the blurdetect filter, which ffmpeg 4.1 lacks']]),
    );
    expect(plan.stages.map((planned) => planned.stage)).toEqual(['metadata', 'scanType', 'stills', 'webVideo']);
    expect(plan.skipped).toEqual([
      {
        stage: 'qualityAssessment',
        feature: 'qualityAssessment',
        reason: 'the quality assessment needs the blurdetect filter, which ffmpeg 4.1 lacks',
      },
    ]);
    expect(plan.stages.reduce((sum, planned) => sum + planned.share, 0)).toBeCloseTo(1, 12);
  });

  it('skips the stills when either thumbnails or full frames cannot be made', () => {
    const plan = planIngestion(true, new Map([['fullFrames', 'no png encoder']]));
    expect(plan.stages.map((planned) => planned.stage)).not.toContain('stills');
    expect(plan.skipped).toEqual([{ stage: 'stills', feature: 'fullFrames', reason: 'no png encoder' }]);
  });

  it('ignores unavailable features a metadata-only ingestion does not use', () => {
    expect(planIngestion(false, new Map([['webVideo', 'no libx264']])).skipped).toEqual([]);
  });
});

describe('fractionDone', () => {
  const plan = planIngestion(true, none);
  const shares = plan.stages.map((planned) => planned.share);

  it.each([
    [0, 0, 0],
    [0, 1, shares[0]],
    [1, 0.5, (shares[0] ?? 0) + (shares[1] ?? 0) / 2],
    [4, 0.5, 1 - (shares[4] ?? 0) / 2],
    [4, 1, 1],
    [5, 0, 1],
  ])('is the shares of the stages before %d plus %d of its own', (stageIndex, within, expected) => {
    expect(fractionDone(plan, stageIndex, within)).toBeCloseTo(expected ?? Number.NaN, 12);
  });

  it('clamps a within-stage fraction outside 0..1', () => {
    expect(fractionDone(plan, 0, -3)).toBe(0);
    expect(fractionDone(plan, 0, 7)).toBeCloseTo(shares[0] ?? Number.NaN, 12);
  });
});

describe('estimateRemainingSeconds', () => {
  it.each([
    [500, 0.5, null],
    [10_000, 0.01, null],
    [10_000, 0.5, 10],
    [30_000, 0.75, 10],
    [9_000, 0.9, 1],
    [1_000, 1, 0],
  ])('after %d ms at %d done is %s', (elapsedMs, fraction, expected) => {
    expect(estimateRemainingSeconds(elapsedMs, fraction)).toBe(expected);
  });
});

describe('toPercentage', () => {
  it.each([
    [0, false, 0],
    [0.499, false, 49],
    [0.9999, false, 99],
    [1, false, 99],
    [1, true, 100],
    [0.2, true, 100],
    [-1, false, 0],
  ])('shows %d (finished: %s) as %d', (fraction, finished, expected) => {
    expect(toPercentage(fraction, finished)).toBe(expected);
  });
});
