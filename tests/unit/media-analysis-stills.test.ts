import { describe, expect, it } from 'vitest';
import { FORMAT_WHITELIST, mediaInputOf, withDemuxer } from '../../src/media/media-input.js';
import {
  choosePosterIndex,
  pickStillFrame,
  planStillInstants,
  spreadInstantsMs,
  stillWindowMs,
  type StillFrameStats,
} from '../../src/domain/still-instants.js';
import {
  buildStillAnalysisArgs,
  buildStillExtractArgs,
  parseStillAnalysis,
  pickStills,
  readImageSize,
} from '../../src/media/stills.js';

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

const stats = (
  yAvg: number,
  yLow: number,
  yHigh: number,
  offsetMs = 0,
  entropy: number | null = null,
): StillFrameStats => ({ offsetMs, yAvg, yLow, yHigh, entropy });
const black = stats(16, 16, 16);
const scene = stats(120, 40, 200);

describe('planStillInstants', () => {
  it.each([
    [10_000, 5, [1_000, 3_000, 5_000, 7_000, 9_000]],
    [12_000, 4, [1_500, 4_500, 7_500, 10_500]],
    [1_000, 3, [167, 500, 833]],
    [5_000, 1, [2_500]],
    [0, 5, []],
    [-1, 5, []],
    [Number.NaN, 5, []],
    [10_000, 0, []],
  ])('plans %d ms / %d stills as %j', (durationMs, count, expected) => {
    expect(planStillInstants(durationMs, count)).toEqual(expected);
    expect(spreadInstantsMs(durationMs, count)).toEqual(expected);
  });
});

describe('stillWindowMs', () => {
  it.each([
    [60_000, 5, 2_000],
    [4_000, 5, 400],
    [10, 100, 1],
    [0, 5, 0],
    [1_000, 0, 0],
  ])('gives %d ms / %d stills a window of %d ms', (durationMs, count, expected) => {
    expect(stillWindowMs(durationMs, count)).toBe(expected);
  });
});

describe('pickStillFrame', () => {
  const fade = (fraction: number): StillFrameStats =>
    stats(16 + fraction * 104, 16 + fraction * 24, 16 + fraction * 184);
  it.each<[string, StillFrameStats[], number]>([
    ['a normal first frame', [scene, scene], 0],
    ['black then picture', [black, black, scene], 2],
    [
      'a fade-in: skips frames below 90% of the window contrast',
      [black, fade(0.3), fade(0.6), fade(0.85), fade(0.95), scene],
      4,
    ],
    ['a dark but contrasty scene is fine', [stats(45, 20, 140)], 0],
    ['too dark on average', [stats(30, 16, 120), scene], 1],
    ['flat grey (no contrast)', [stats(128, 120, 130), scene], 1],
    ['nothing qualifies: the first frame', [black, black], 0],
    ['empty window', [], -1],
  ])('%s', (_name, frames, expected) => {
    expect(pickStillFrame(frames)).toBe(expected);
  });
});

describe('choosePosterIndex', () => {
  const e = (entropy: number | null): Pick<StillFrameStats, 'entropy'> => ({ entropy });
  it.each<[string, Pick<StillFrameStats, 'entropy'>[], number]>([
    ['highest entropy', [e(3), e(6), e(4), e(5)], 1],
    ['ties go to the middle', [e(5), e(5), e(5), e(5), e(5)], 2],
    ['unknown entropy: the middle', [e(null), e(null), e(null)], 1],
    ['known beats unknown', [e(2), e(null), e(null)], 0],
    ['single', [e(1)], 0],
    ['none', [], -1],
  ])('%s', (_name, stills, expected) => {
    expect(choosePosterIndex(stills)).toBe(expected);
  });
});

describe('buildStillAnalysisArgs and parseStillAnalysis', () => {
  it('seeks accurately to each instant, measures a 160 px copy and tags frames with their instant', () => {
    expect(buildStillAnalysisArgs(stored('in.mp4'), [1000, 3000], 500)).toEqual([
      '-hide_banner',
      '-nostdin',
      '-loglevel',
      'error',
      ...movOnDisk,
      '-ss',
      '1.000000',
      '-noautorotate',
      '-i',
      'file:in.mp4',
      ...movOnDisk,
      '-ss',
      '3.000000',
      '-noautorotate',
      '-i',
      'file:in.mp4',
      '-filter_complex',
      '[0:v:0]trim=duration=0.500000,setpts=PTS-STARTPTS,scale=w=160:h=-2,format=yuv420p,signalstats,entropy,metadata=mode=add:key=reelin.still:value=0[s0];' +
        '[1:v:0]trim=duration=0.500000,setpts=PTS-STARTPTS,scale=w=160:h=-2,format=yuv420p,signalstats,entropy,metadata=mode=add:key=reelin.still:value=1[s1];' +
        '[s0][s1]concat=n=2:v=1:a=0,metadata=mode=print:file=-[out]',
      '-map',
      '[out]',
      '-f',
      'null',
      '-',
    ]);
  });

  it('groups frames by instant with offsets from each window start', () => {
    const frame = (n: number, time: number, still: number, yAvg: number): string =>
      [
        `frame:${n} pts:${n} pts_time:${time}`,
        `lavfi.signalstats.YAVG=${yAvg}`,
        'lavfi.signalstats.YLOW=20',
        'lavfi.signalstats.YHIGH=200',
        'lavfi.entropy.entropy.normal.Y=5.5',
        `reelin.still=${still}`,
      ].join('\n');
    const stdout = [
      frame(0, 0, 0, 16),
      frame(1, 0.04, 0, 100),
      frame(2, 0.08, 1, 90),
      frame(3, 0.12, 1, 91),
      frame(4, 0.16, 1, 92),
      'frame:5 pts:5 pts_time:0.2',
      'reelin.still=7',
    ].join('\n');
    expect(parseStillAnalysis(stdout, 3)).toEqual([
      [stats(16, 20, 200, 0, 5.5), stats(100, 20, 200, 40, 5.5)],
      [stats(90, 20, 200, 0, 5.5), stats(91, 20, 200, 40, 5.5), stats(92, 20, 200, 80, 5.5)],
      [],
    ]);
  });
});

describe('buildStillExtractArgs', () => {
  it('writes a JPEG thumbnail, a PNG full frame and the poster from the analysed frame in one run', () => {
    const args = buildStillExtractArgs({
      input: stored('in.mp4'),
      instantMs: 2500,
      frameIndex: 7,
      deinterlaceFilter: 'bwdif=mode=send_frame',
      thumbnailFormat: 'jpeg',
      outputs: { thumbnailPath: '/o/t.jpg', fullFramePath: '/o/f.png', posterPath: '/o/p.jpg' },
    });
    expect(args).toEqual([
      '-hide_banner',
      '-nostdin',
      '-loglevel',
      'error',
      '-y',
      ...movOnDisk,
      '-ss',
      '2.500000',
      '-i',
      'file:in.mp4',
      '-filter_complex',
      '[0:v:0]bwdif=mode=send_frame,trim=start_frame=7:end_frame=8,split=3[t][f][p];' +
        '[t]scale=w=320:h=2*trunc(ow/dar/2):flags=lanczos,setsar=1,format=yuvj420p[thumb];' +
        '[f]scale=w=round(iw*sar):h=ih:flags=lanczos+accurate_rnd+full_chroma_int,setsar=1[full];' +
        '[p]scale=w=2*trunc(min(1280\\,iw*sar)/2):h=2*trunc(ow/dar/2):flags=lanczos,setsar=1,format=yuvj420p[poster]',
      '-map',
      '[thumb]',
      '-frames:v',
      '1',
      '-c:v',
      'mjpeg',
      '-q:v',
      '4',
      '-f',
      'image2',
      '-update',
      '1',
      '/o/t.jpg',
      '-map',
      '[full]',
      '-frames:v',
      '1',
      '-c:v',
      'png',
      '-f',
      'image2',
      '-update',
      '1',
      '/o/f.png',
      '-map',
      '[poster]',
      '-frames:v',
      '1',
      '-c:v',
      'mjpeg',
      '-q:v',
      '4',
      '-f',
      'image2',
      '-update',
      '1',
      '/o/p.jpg',
    ]);
  });

  it('writes WebP thumbnails and no poster when none is asked for', () => {
    const args = buildStillExtractArgs({
      input: stored('in.mp4'),
      instantMs: 0,
      frameIndex: 0,
      deinterlaceFilter: null,
      thumbnailFormat: 'webp',
      outputs: { thumbnailPath: 't.webp', fullFramePath: 'f.png' },
    });
    const graph = args[args.indexOf('-filter_complex') + 1];
    expect(graph).toMatch(/^\[0:v:0\]trim=start_frame=0:end_frame=1,split=2\[t\]\[f\];/);
    expect(graph).toContain('format=yuv420p[thumb]');
    expect(graph).not.toContain('[poster]');
    expect(args.join(' ')).toContain('-c:v libwebp -quality 80 -f image2 -update 1 t.webp');
  });
});

describe('readImageSize', () => {
  const bytes = (...parts: (number[] | string)[]): Uint8Array =>
    Uint8Array.from(parts.flatMap((part) => (typeof part === 'string' ? [...part].map((c) => c.charCodeAt(0)) : part)));
  const be32 = (n: number): number[] => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
  const le16 = (n: number): number[] => [n & 255, n >>> 8];

  it('reads a PNG IHDR', () => {
    expect(
      readImageSize(bytes([0x89], 'PNG', [13, 10, 26, 10], be32(13), 'IHDR', be32(768), be32(576), [8, 2, 0, 0, 0])),
    ).toEqual({ width: 768, height: 576 });
  });

  it('reads a JPEG start-of-frame after other segments', () => {
    const app0 = [0xff, 0xe0, 0, 4, 0, 0];
    const dht = [0xff, 0xc4, 0, 4, 0, 0];
    const sof0 = [0xff, 0xc0, 0, 17, 8, 0, 180, 1, 64, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1];
    expect(readImageSize(bytes([0xff, 0xd8], app0, dht, sof0))).toEqual({ width: 320, height: 180 });
  });

  it('reads lossy, lossless and extended WebP headers', () => {
    const lossy = bytes(
      'RIFF',
      [0, 0, 0, 0],
      'WEBP',
      'VP8 ',
      [0, 0, 0, 0],
      [0, 0, 0],
      [0x9d, 0x01, 0x2a],
      le16(320),
      le16(240),
    );
    expect(readImageSize(lossy)).toEqual({ width: 320, height: 240 });
    const bits = (320 - 1) | ((240 - 1) << 14);
    const lossless = bytes(
      'RIFF',
      [0, 0, 0, 0],
      'WEBP',
      'VP8L',
      [0, 0, 0, 0],
      [0x2f],
      [bits & 255, (bits >>> 8) & 255, (bits >>> 16) & 255, bits >>> 24],
      [0, 0, 0, 0, 0],
    );
    expect(readImageSize(lossless)).toEqual({ width: 320, height: 240 });
    const extended = bytes(
      'RIFF',
      [0, 0, 0, 0],
      'WEBP',
      'VP8X',
      [10, 0, 0, 0],
      [0, 0, 0, 0],
      [63, 1, 0],
      [239, 0, 0],
      [0, 0],
    );
    expect(readImageSize(extended)).toEqual({ width: 320, height: 240 });
  });

  it('returns null for anything else', () => {
    expect(readImageSize(bytes('This is a text file'))).toBeNull();
    expect(readImageSize(new Uint8Array())).toBeNull();
  });
});

describe('pickStills', () => {
  it('numbers the picks by instant, skips empty windows and keeps the chosen frame', () => {
    const fadeIn = [black, stats(120, 40, 200, 40)];
    expect(pickStills([fadeIn, [], [scene]], [1000, 2000, 3000])).toEqual([
      { number: 1, instantMs: 1000, frameIndex: 1, frame: stats(120, 40, 200, 40) },
      { number: 3, instantMs: 3000, frameIndex: 0, frame: scene },
    ]);
  });
});
