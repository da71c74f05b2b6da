import { describe, expect, it } from 'vitest';
import { FORMAT_WHITELIST, mediaInputOf, withDemuxer } from '../../src/media/media-input.js';
import {
  labelForScore,
  overallScore,
  qualityScales,
  sampleMeans,
  scoreFromPoints,
  scoreQuality,
  type FrameMeasures,
  type QualityMetric,
} from '../../src/domain/quality-scoring.js';
import {
  chooseDeinterlaceFilter,
  formatSeconds,
  parseMetadataPrint,
  requireFilters,
} from '../../src/media/filter-graph.js';
import { buildQualityArgs, parseQualityFrames, qualityAnalysisSize } from '../../src/media/quality.js';

/** A stored file after its probe found the QuickTime / MP4 demuxer. */
const stored = (location: string) => withDemuxer(mediaInputOf(location), 'mov,mp4,m4a,3gp,3g2,mj2');
/** What goes before `-i` of such a file on the filesystem store. */
const movOnDisk = [
  '-f',
  'mov',
  '-format_whitelist',
  FORMAT_WHITELIST,
  '-protocol_whitelist',
  'file',
  '-enable_drefs',
  '0',
];

const frame = (measures: Partial<FrameMeasures>): FrameMeasures => ({
  noiseMse: null,
  blurWidth: null,
  saturation: null,
  blockiness: null,
  ...measures,
});
const metric = (name: QualityMetric['name'], subjectiveScore: number): QualityMetric => ({
  name,
  sampleMean: 0,
  subjectiveLabel: labelForScore(subjectiveScore),
  subjectiveScore,
});

describe('scoreFromPoints', () => {
  const points = [
    [1, 5],
    [3, 3],
    [5, 0],
  ] as const;
  it.each([
    [0, 5],
    [1, 5],
    [2, 4],
    [3, 3],
    [4, 1.5],
    [4.96, 0.1],
    [5, 0],
    [100, 0],
    [1.04, 5],
  ])('maps %d to %d', (measure, score) => {
    expect(scoreFromPoints(points, measure)).toBe(score);
  });

  it('rounds to one decimal', () => {
    expect(
      scoreFromPoints(
        [
          [0, 0],
          [3, 1],
        ],
        1,
      ),
    ).toBe(0.3);
  });

  it('rejects an empty scale', () => {
    expect(() => scoreFromPoints([], 1)).toThrow(/at least one point/);
  });

  it.each(Object.entries(qualityScales))('keeps the %s scale ascending in measure and within 0..5', (_name, scale) => {
    const measures = scale.points.map(([measure]) => measure);
    expect([...measures].sort((a, b) => a - b)).toEqual(measures);
    expect(new Set(measures).size).toBe(measures.length);
    for (const [, score] of scale.points) {
      expect(score).toBeGreaterThanOrEqual(0);
      expect(score).toBeLessThanOrEqual(5);
    }
  });
});

describe('labelForScore', () => {
  it.each([
    [0, 'untenable'],
    [0.9, 'untenable'],
    [1, 'poor'],
    [1.9, 'poor'],
    [2, 'fair'],
    [3, 'good'],
    [3.9, 'good'],
    [4, 'excellent'],
    [5, 'excellent'],
  ] as const)('labels %d %s', (score, label) => {
    expect(labelForScore(score)).toBe(label);
  });
});

describe('sampleMeans', () => {
  it('takes the RMS of the noise residual and plain means of the others, skipping unmeasurable frames', () => {
    const means = sampleMeans([
      frame({ noiseMse: 1, blurWidth: 4, saturation: 10, blockiness: 2 }),
      frame({ noiseMse: 9, blurWidth: null, saturation: 30, blockiness: Number.NaN }),
    ]);
    expect(means).toEqual({ noise: Math.sqrt(5), details: 4, colors: 20, compression: 2 });
  });

  it('gives null for a metric no frame measured', () => {
    expect(sampleMeans([frame({ noiseMse: 0 })])).toEqual({ noise: 0, details: null, colors: null, compression: null });
  });
});

describe('overallScore', () => {
  it('is the weighted mean when no defect is far below it', () => {
    // (0.25*4 + 0.35*4 + 0.15*2 + 0.25*4) / 1 = 3.7
    expect(
      overallScore([metric('noise', 4), metric('details', 4), metric('colors', 2), metric('compression', 4)]),
    ).toBe(3.7);
  });

  it('is capped at the worst defect + 1.5', () => {
    expect(
      overallScore([metric('noise', 0.5), metric('details', 5), metric('colors', 5), metric('compression', 5)]),
    ).toBe(2);
  });

  it('does not let colourfulness cap the score (greyscale is not a defect)', () => {
    expect(
      overallScore([metric('noise', 5), metric('details', 5), metric('colors', 0), metric('compression', 5)]),
    ).toBe(4.3);
  });

  it('uses only the metrics present, and 0 for none', () => {
    expect(overallScore([metric('details', 3)])).toBe(3);
    expect(overallScore([])).toBe(0);
  });
});

describe('scoreQuality', () => {
  it('scores a clean, sharp, colourful frame set highly and a noisy, blurred one poorly', () => {
    const good = scoreQuality([frame({ noiseMse: 1, blurWidth: 4, saturation: 60, blockiness: 1.5 })]);
    expect(good.metrics.map((m) => [m.name, m.sampleMean, m.subjectiveScore, m.subjectiveLabel])).toEqual([
      ['noise', 1, 4.6, 'excellent'],
      ['details', 4, 4.5, 'excellent'],
      ['colors', 60, 5, 'excellent'],
      ['compression', 1.5, 5, 'excellent'],
    ]);
    expect(good.overallSubjectiveScore).toBe(4.7);
    const bad = scoreQuality([frame({ noiseMse: 64, blurWidth: 15, saturation: 60, blockiness: 1.5 })]);
    expect(bad.metrics.find((m) => m.name === 'noise')).toMatchObject({
      sampleMean: 8,
      subjectiveScore: 1,
      subjectiveLabel: 'poor',
    });
    expect(bad.metrics.find((m) => m.name === 'details')).toMatchObject({
      subjectiveScore: 0.5,
      subjectiveLabel: 'untenable',
    });
    expect(bad.overallSubjectiveScore).toBe(2);
  });

  it('leaves out metrics that no frame could measure (a black video has no edges)', () => {
    const black = scoreQuality([frame({ noiseMse: 0, saturation: 0 })]);
    expect(black.metrics.map((m) => m.name)).toEqual(['noise', 'colors']);
  });
});

describe('qualityAnalysisSize', () => {
  it.each([
    [1920, 1080, 960, 540],
    [640, 360, 960, 540],
    [1080, 1920, 540, 960],
    [720, 576, 676, 540],
    [3840, 1600, 1296, 540],
    [0, 0, 960, 540],
  ])('scales %dx%d to %dx%d', (width, height, expectedWidth, expectedHeight) => {
    expect(qualityAnalysisSize(width, height)).toEqual({ width: expectedWidth, height: expectedHeight });
  });
});

describe('formatSeconds', () => {
  it.each([
    [0, '0.000000'],
    [1500, '1.500000'],
    [-5, '0.000000'],
    [12345.678, '12.345678'],
  ])('formats %d ms as %s', (ms, text) => {
    expect(formatSeconds(ms)).toBe(text);
  });
});

describe('buildQualityArgs', () => {
  it('seeks each sample to its keyframe, measures on 8-bit 540p frames and prints to stdout', () => {
    const args = buildQualityArgs({
      input: stored('/v/in.mp4'),
      instantsMs: [1000, 3000],
      framesPerSample: 3,
      analysisWidth: 960,
      analysisHeight: 540,
      bitDepth: 8,
      deinterlaceFilter: null,
    });
    expect(args).toEqual([
      '-hide_banner',
      '-nostdin',
      '-loglevel',
      'error',
      ...movOnDisk,
      '-noaccurate_seek',
      '-ss',
      '1.000000',
      '-noautorotate',
      '-i',
      '/v/in.mp4',
      ...movOnDisk,
      '-noaccurate_seek',
      '-ss',
      '3.000000',
      '-noautorotate',
      '-i',
      '/v/in.mp4',
      '-filter_complex',
      '[0:v:0]trim=end_frame=3,setpts=PTS-STARTPTS[s0];[1:v:0]trim=end_frame=3,setpts=PTS-STARTPTS[s1];' +
        '[s0][s1]concat=n=2:v=1:a=0,scale=960:540:flags=bicubic,format=yuv420p,blockdetect,blurdetect,split[frame][copy];' +
        '[copy]removegrain=m0=4:m1=0:m2=0[median];[median][frame]psnr,signalstats,metadata=mode=print:file=-[out]',
      '-map',
      '[out]',
      '-f',
      'null',
      '-',
    ]);
  });

  it('turns dithering off for deep sources and deinterlaces each sample on its own', () => {
    const args = buildQualityArgs({
      input: stored('in.mov'),
      instantsMs: [0],
      framesPerSample: 3,
      analysisWidth: 960,
      analysisHeight: 540,
      bitDepth: 10,
      deinterlaceFilter: 'bwdif',
    });
    const graph = args[args.indexOf('-filter_complex') + 1];
    expect(graph).toContain('[0:v:0]trim=end_frame=3,bwdif,setpts=PTS-STARTPTS[s0]');
    expect(graph).toContain('scale=960:540:flags=bicubic:sws_dither=none,format=yuv420p');
  });
});

describe('parseMetadataPrint and parseQualityFrames', () => {
  const stdout = [
    'frame:0    pts:0       pts_time:0',
    'lavfi.block=3.480612',
    'lavfi.blur=5.176944',
    'lavfi.signalstats.SATAVG=55.5987',
    'lavfi.psnr.mse.y=3.083766',
    'frame:1    pts:512     pts_time:0.04',
    'lavfi.block=-nan',
    'lavfi.blur=nan',
    'lavfi.signalstats.SATAVG=0',
    'lavfi.psnr.mse.y=0.000000',
    '',
  ].join('\n');

  it('reads frame headers and tags', () => {
    const frames = parseMetadataPrint(stdout);
    expect(frames.map((f) => [f.frame, f.ptsTime, f.tags.size])).toEqual([
      [0, 0, 4],
      [1, 0.04, 4],
    ]);
  });

  it('turns nan into null', () => {
    expect(parseQualityFrames(stdout)).toEqual([
      { noiseMse: 3.083766, blurWidth: 5.176944, saturation: 55.5987, blockiness: 3.480612 },
      { noiseMse: 0, blurWidth: null, saturation: 0, blockiness: null },
    ]);
  });

  it('ignores tag lines before the first frame header and returns nothing for empty output', () => {
    expect(parseMetadataPrint('lavfi.blur=1\n')).toEqual([]);
    expect(parseQualityFrames('')).toEqual([]);
  });
});

describe('requireFilters and chooseDeinterlaceFilter', () => {
  it('names every missing filter', () => {
    expect(() =>
      requireFilters({ filters: new Set(['psnr']) }, ['psnr', 'blurdetect', 'idet'], 'the quality assessment'),
    ).toThrow('the quality assessment needs the ffmpeg filters blurdetect, idet, which this ffmpeg lacks');
    expect(() => requireFilters({ filters: new Set(['psnr']) }, ['psnr'], 'x')).not.toThrow();
  });

  it('prefers bwdif, falls back to yadif, and fails without either', () => {
    expect(chooseDeinterlaceFilter({ filters: new Set(['bwdif', 'yadif']) })).toMatch(/^bwdif=/);
    expect(chooseDeinterlaceFilter({ filters: new Set(['yadif']) })).toMatch(/^yadif=/);
    expect(() => chooseDeinterlaceFilter({ filters: new Set() })).toThrow(/bwdif or yadif/);
  });
});
