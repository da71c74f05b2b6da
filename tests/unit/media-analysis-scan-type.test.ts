import { describe, expect, it } from 'vitest';
import { FORMAT_WHITELIST, mediaInputOf, withDemuxer } from '../../src/media/media-input.js';
import { decideScanType, sumIdetCounts, type IdetCounts, type ScanType } from '../../src/domain/scan-type-decision.js';
import { buildScanTypeArgs, parseIdetCounts, planScanSegments } from '../../src/media/scan-type.js';

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

const counts = (tff: number, bff: number, progressive: number, undetermined: number): IdetCounts => ({
  tff,
  bff,
  progressive,
  undetermined,
});

describe('decideScanType', () => {
  it.each<[string, IdetCounts, ScanType]>([
    ['clearly top-field first', counts(580, 2, 10, 8), 'INTERLACED_TOP_FIRST'],
    ['clearly bottom-field first', counts(1, 590, 3, 6), 'INTERLACED_BOTTOM_FIRST'],
    ['clearly progressive', counts(0, 0, 600, 0), 'PROGRESSIVE'],
    ['nothing analysed', counts(0, 0, 0, 0), 'PROGRESSIVE'],
    ['mostly undetermined (a still picture)', counts(50, 0, 0, 550), 'PROGRESSIVE'],
    ['fewer than 10 decided frames', counts(9, 0, 0, 0), 'PROGRESSIVE'],
    ['exactly 10 decided, all tff', counts(10, 0, 0, 0), 'INTERLACED_TOP_FIRST'],
    ['20% decided is enough', counts(120, 0, 0, 480), 'INTERLACED_TOP_FIRST'],
    ['interlaced ties progressive', counts(150, 0, 150, 0), 'PROGRESSIVE'],
    ['interlaced above half but below 60%', counts(55, 0, 45, 0), 'PROGRESSIVE'],
    ['interlaced at 60%', counts(60, 0, 40, 0), 'INTERLACED_TOP_FIRST'],
    ['tff and bff tie', counts(300, 300, 0, 0), 'PROGRESSIVE'],
    ['tff not twice bff', counts(399, 200, 0, 0), 'PROGRESSIVE'],
    ['tff exactly twice bff', counts(400, 200, 0, 0), 'INTERLACED_TOP_FIRST'],
    ['bff exactly twice tff', counts(200, 400, 0, 0), 'INTERLACED_BOTTOM_FIRST'],
    ['mixed order and progressive, progressive wins', counts(100, 100, 300, 100), 'PROGRESSIVE'],
  ])('%s -> %s', (_name, input, expected) => {
    expect(decideScanType(input)).toBe(expected);
  });

  it('honours custom thresholds', () => {
    expect(
      decideScanType(counts(55, 0, 45, 0), {
        minDecidedFrames: 1,
        minDecidedShare: 0,
        minInterlacedShare: 0.5,
        minOrderDominance: 2,
      }),
    ).toBe('INTERLACED_TOP_FIRST');
  });
});

describe('sumIdetCounts', () => {
  it('adds counts field by field', () => {
    expect(sumIdetCounts([counts(1, 2, 3, 4), counts(10, 20, 30, 40)])).toEqual(counts(11, 22, 33, 44));
    expect(sumIdetCounts([])).toEqual(counts(0, 0, 0, 0));
  });
});

describe('planScanSegments', () => {
  it.each([
    [6_000, [{ startMs: 0, frames: 600 }]],
    [24_000, [{ startMs: 0, frames: 600 }]],
    [0, [{ startMs: 0, frames: 600 }]],
    [Number.NaN, [{ startMs: 0, frames: 600 }]],
    [60_000, [5_000, 15_000, 25_000, 35_000, 45_000, 55_000].map((startMs) => ({ startMs, frames: 100 }))],
  ])('plans %d ms as %j', (durationMs, expected) => {
    expect(planScanSegments(durationMs)).toEqual(expected);
  });
});

describe('buildScanTypeArgs', () => {
  it('runs idet over concatenated keyframe-seeked segments without deinterlacing, scaling, re-tagging or rotating', () => {
    const args = buildScanTypeArgs(stored('/v/in.mp4'), [
      { startMs: 0, frames: 100 },
      { startMs: 5000, frames: 100 },
    ]);
    expect(args).toEqual([
      '-hide_banner',
      '-nostdin',
      '-loglevel',
      'error',
      ...movOnDisk,
      '-noautorotate',
      '-i',
      '/v/in.mp4',
      ...movOnDisk,
      '-noaccurate_seek',
      '-ss',
      '5.000000',
      '-noautorotate',
      '-i',
      '/v/in.mp4',
      '-filter_complex',
      '[0:v:0]trim=end_frame=100,setpts=PTS-STARTPTS[s0];[1:v:0]trim=end_frame=100,setpts=PTS-STARTPTS[s1];[s0][s1]concat=n=2:v=1:a=0,idet,metadata=mode=print:file=-[out]',
      '-map',
      '[out]',
      '-f',
      'null',
      '-',
    ]);
    const graph = args.join(' ');
    for (const forbidden of ['setfield', 'yadif', 'bwdif', 'scale', 'fieldorder', '-deinterlace'])
      expect(graph).not.toContain(forbidden);
  });
});

describe('parseIdetCounts', () => {
  const block = (frame: number, tff: number, bff: number, progressive: number, undetermined: number): string =>
    [
      `frame:${frame}    pts:${frame * 512}     pts_time:${frame * 0.04}`,
      'lavfi.idet.single.tff=999.00',
      `lavfi.idet.multiple.current_frame=tff`,
      `lavfi.idet.multiple.tff=${tff}.00`,
      `lavfi.idet.multiple.bff=${bff}.00`,
      `lavfi.idet.multiple.progressive=${progressive}.00`,
      `lavfi.idet.multiple.undetermined=${undetermined}.00`,
    ].join('\n');

  it('takes the running totals of the last frame, not the single-frame counts', () => {
    const stdout = [block(0, 0, 0, 0, 1), block(1, 1, 0, 0, 1), block(2, 2, 0, 3, 1), ''].join('\n');
    expect(parseIdetCounts(stdout)).toEqual(counts(2, 0, 3, 1));
  });

  it('gives zeros when idet printed nothing', () => {
    expect(parseIdetCounts('')).toEqual(counts(0, 0, 0, 0));
  });
});
