import { describe, expect, it } from 'vitest';
import { CLIP_DURATION_MS, chooseClipWindow } from '../../src/domain/clip-window.js';
import { chooseClipCodec, clipCutArgs, clipFileExtension } from '../../src/media/clip-cut.js';
import { formatSeconds } from '../../src/media/filter-graph.js';
import { FORMAT_WHITELIST, mediaInputOf, withDemuxer } from '../../src/media/media-input.js';
import {
  canToneMap,
  webVideoArgs,
  webVideoFilter,
  webVideoSize,
  type WebVideoSource,
} from '../../src/media/web-video.js';

/** A stored file after its probe found the QuickTime / MP4 demuxer (or `demuxer`). */
const stored = (location: string, demuxer = 'mov,mp4,m4a,3gp,3g2,mj2') => withDemuxer(mediaInputOf(location), demuxer);
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

const source = (overrides: Partial<WebVideoSource>): WebVideoSource => ({
  width: 1920,
  height: 1080,
  deinterlace: false,
  hasAudio: true,
  ...overrides,
});

describe('webVideoSize', () => {
  it.each([
    { name: '1080p stays 1080p', source: source({}), expected: { width: 1920, height: 1080 } },
    {
      name: '4K comes down to 1080p',
      source: source({ width: 3840, height: 2160 }),
      expected: { width: 1920, height: 1080 },
    },
    {
      name: 'PAL 4:3 gets square pixels',
      source: source({ width: 720, height: 576, sampleAspect: [16, 15] }),
      expected: { width: 768, height: 576 },
    },
    {
      name: 'PAL 16:9 anamorphic gets square pixels',
      source: source({ width: 720, height: 576, sampleAspect: [64, 45] }),
      expected: { width: 1024, height: 576 },
    },
    {
      name: 'NTSC DV rounds to even sizes',
      source: source({ width: 720, height: 480, sampleAspect: [8, 9] }),
      expected: { width: 640, height: 480 },
    },
    {
      name: 'odd sizes become even',
      source: source({ width: 641, height: 361 }),
      expected: { width: 642, height: 362 },
    },
    {
      name: 'a rotated phone video is sized upright',
      source: source({ width: 1920, height: 1080, rotationDegrees: 90 }),
      expected: { width: 1080, height: 1920 },
    },
    {
      name: 'a 4K portrait video keeps 1080 on its short side',
      source: source({ width: 3840, height: 2160, rotationDegrees: 270 }),
      expected: { width: 1080, height: 1920 },
    },
    {
      name: 'an ultra-wide video is bounded by its long side',
      source: source({ width: 3840, height: 1080 }),
      expected: { width: 1920, height: 540 },
    },
    {
      name: 'a zero sample aspect ratio means square',
      source: source({ width: 640, height: 360, sampleAspect: [0, 1] }),
      expected: { width: 640, height: 360 },
    },
  ])('$name', ({ source: input, expected }) => {
    expect(webVideoSize(input)).toEqual(expected);
  });

  it('honours a smaller bound', () => {
    expect(webVideoSize(source({}), 720)).toEqual({ width: 1280, height: 720 });
  });
});

describe('webVideoFilter with tone mapping', () => {
  it('goes through linear light and BT.709 before scaling, and tags the output BT.709', () => {
    const source: WebVideoSource = { width: 3840, height: 2160, deinterlace: false, hasAudio: false, toneMap: true };
    expect(webVideoFilter(source)).toBe(
      'zscale=transfer=linear:npl=100,format=gbrpf32le,zscale=primaries=bt709,tonemap=tonemap=hable:desat=0,' +
        'zscale=transfer=bt709:matrix=bt709:range=tv,scale=1920:1080:flags=bicubic,setsar=1,format=yuv420p',
    );
    const args = webVideoArgs({ input: stored('/in.mov'), output: '/out.mp4', source });
    expect(args.slice(args.indexOf('-color_primaries'), args.indexOf('-color_primaries') + 6)).toEqual([
      '-color_primaries',
      'bt709',
      '-color_trc',
      'bt709',
      '-colorspace',
      'bt709',
    ]);
    expect(
      webVideoArgs({ input: stored('/in.mov'), output: '/out.mp4', source: { ...source, toneMap: false } }),
    ).not.toContain('-color_primaries');
  });

  it('can tone-map only with both zscale and tonemap', () => {
    expect(canToneMap(new Set(['zscale', 'tonemap']))).toBe(true);
    expect(canToneMap(new Set(['tonemap']))).toBe(false);
    expect(canToneMap(new Set(['zscale']))).toBe(false);
  });
});

describe('webVideoFilter', () => {
  it.each([
    { source: source({}), deinterlacer: undefined, expected: 'scale=1920:1080:flags=bicubic,setsar=1,format=yuv420p' },
    {
      source: source({ width: 720, height: 576, sampleAspect: [16, 15], deinterlace: true }),
      deinterlacer: undefined,
      expected: 'bwdif=mode=send_frame:parity=auto:deint=all,scale=768:576:flags=bicubic,setsar=1,format=yuv420p',
    },
    {
      source: source({ deinterlace: true }),
      deinterlacer: 'yadif' as const,
      expected: 'yadif=mode=send_frame:parity=auto:deint=all,scale=1920:1080:flags=bicubic,setsar=1,format=yuv420p',
    },
  ])('deinterlaces before scaling: $expected', ({ source: input, deinterlacer, expected }) => {
    expect(webVideoFilter(input, 1080, deinterlacer)).toBe(expected);
  });
});

describe('webVideoArgs', () => {
  it('builds an H.264/AAC faststart MP4 with progress on stdout', () => {
    expect(
      webVideoArgs({
        input: stored('/in/master.mov'),
        output: '/out/web.mp4',
        source: source({ width: 720, height: 576, sampleAspect: [16, 15], deinterlace: true }),
      }),
    ).toEqual([
      '-hide_banner',
      '-nostdin',
      '-y',
      ...movOnDisk,
      '-i',
      '/in/master.mov',
      '-map',
      '0:v:0',
      '-map',
      '0:a:0?',
      '-c:a',
      'aac',
      '-b:a',
      '128k',
      '-ac',
      '2',
      '-sn',
      '-dn',
      '-vf',
      'bwdif=mode=send_frame:parity=auto:deint=all,scale=768:576:flags=bicubic,setsar=1,format=yuv420p',
      '-c:v',
      'libx264',
      '-preset',
      'fast',
      '-crf',
      '21',
      '-profile:v',
      'high',
      '-pix_fmt',
      'yuv420p',
      '-movflags',
      '+faststart',
      '-progress',
      'pipe:1',
      '-nostats',
      '-f',
      'mp4',
      '/out/web.mp4',
    ]);
  });

  it('drops audio when the source has none and protects relative paths', () => {
    const args = webVideoArgs({ input: stored('in.mp4'), output: '-out.mp4', source: source({ hasAudio: false }) });
    expect(args).toContain('-an');
    expect(args).not.toContain('0:a:0?');
    expect(args.slice(3, 13)).toEqual([...movOnDisk, '-i', 'file:in.mp4']);
    expect(args.at(-1)).toBe('file:-out.mp4');
  });
});

describe('clipCutArgs', () => {
  it('cuts a frame-exact ProRes 422 HQ clip with PCM audio', () => {
    expect(
      clipCutArgs({
        input: stored('/in/master.mp4'),
        output: '/out/clip.mov',
        startMs: 4804.8,
        durationMs: 9976.667,
        frameCount: 299,
        hasAudio: true,
      }),
    ).toEqual([
      '-hide_banner',
      '-nostdin',
      '-y',
      ...movOnDisk,
      '-ss',
      '4.804800',
      '-i',
      '/in/master.mp4',
      '-map',
      '0:v:0',
      '-map',
      '0:a:0?',
      '-c:a',
      'pcm_s24le',
      '-sn',
      '-dn',
      '-t',
      '9.976667',
      '-frames:v',
      '299',
      '-c:v',
      'prores_ks',
      '-profile:v',
      '3',
      '-vendor',
      'apl0',
      '-pix_fmt',
      'yuv422p10le',
      '-progress',
      'pipe:1',
      '-nostats',
      '-f',
      'mov',
      '/out/clip.mov',
    ]);
  });

  it('falls back to lossless FFV1 in Matroska, keeps the field order and drops missing audio', () => {
    const args = clipCutArgs({
      input: stored('/in/m.mkv', 'matroska,webm'),
      output: '/out/clip.mkv',
      startMs: 0,
      durationMs: 4000,
      hasAudio: false,
      codec: 'ffv1',
      fieldOrder: 'bb',
    });
    expect(args).toEqual([
      '-hide_banner',
      '-nostdin',
      '-y',
      '-f',
      'matroska',
      '-format_whitelist',
      FORMAT_WHITELIST,
      '-protocol_whitelist',
      'file',
      '-ss',
      '0.000000',
      '-i',
      '/in/m.mkv',
      '-map',
      '0:v:0',
      '-an',
      '-sn',
      '-dn',
      '-t',
      '4.000000',
      '-c:v',
      'ffv1',
      '-level',
      '3',
      '-g',
      '1',
      '-slices',
      '16',
      '-slicecrc',
      '1',
      '-flags',
      '+ildct+ilme',
      '-field_order',
      'bb',
      '-progress',
      'pipe:1',
      '-nostats',
      '-f',
      'matroska',
      '/out/clip.mkv',
    ]);
  });

  it.each([
    [new Set(['prores_ks', 'ffv1']), 'prores'],
    [new Set(['ffv1']), 'ffv1'],
    [new Set(['libx264']), null],
  ])('chooses the clip codec from %s', (encoders, expected) => {
    expect(chooseClipCodec(encoders)).toBe(expected);
  });

  it('pairs codecs with containers and formats seconds to microseconds', () => {
    expect([clipFileExtension('prores'), clipFileExtension('ffv1')]).toEqual(['mov', 'mkv']);
    expect([formatSeconds(600), formatSeconds(4170.833), formatSeconds(-1)]).toEqual([
      '0.600000',
      '4.170833',
      '0.000000',
    ]);
  });
});

describe('chooseClipWindow', () => {
  it.each([
    {
      name: 'a 4 s video is clipped whole',
      duration: 4000,
      rate: 25,
      expected: { startMs: 0, endMs: 4000, frameCount: null, startFrame: null, isWholeVideo: true },
    },
    {
      name: 'exactly 10 s is clipped whole',
      duration: 10_000,
      rate: 25,
      expected: { startMs: 0, endMs: 10_000, frameCount: null, startFrame: null, isWholeVideo: true },
    },
    // 12 s: the 5%..95% band is 10.8 s, so the window starts at 5% (0.6 s) rather than at 40% - 5 s.
    {
      name: '12 s starts at the 5% bound',
      duration: 12_000,
      rate: 25,
      expected: { startMs: 600, endMs: 10_600, frameCount: 250, startFrame: 15, isWholeVideo: false },
    },
    // 10.5 s: the band is narrower than 10 s, so the window only has to stay inside the video.
    {
      name: '10.5 s fits inside the video',
      duration: 10_500,
      rate: 25,
      expected: { startMs: 0, endMs: 10_000, frameCount: 250, startFrame: 0, isWholeVideo: false },
    },
    {
      name: '60 s centres on 24 s',
      duration: 60_000,
      rate: 25,
      expected: { startMs: 19_000, endMs: 29_000, frameCount: 250, startFrame: 475, isWholeVideo: false },
    },
    {
      name: '2 h centres on 48 min',
      duration: 7_200_000,
      rate: 50,
      expected: { startMs: 2_875_000, endMs: 2_885_000, frameCount: 500, startFrame: 143_750, isWholeVideo: false },
    },
    // 29.97 fps: 299 whole frames (9.977 s), the start moved back to frame 569 (18.985 s).
    {
      name: 'NTSC aligns to frames',
      duration: 60_000,
      rate: 30000 / 1001,
      expected: { startMs: 18985.633, endMs: 28962.267, frameCount: 299, startFrame: 569, isWholeVideo: false },
    },
    {
      name: 'without a frame rate no alignment',
      duration: 60_000,
      rate: undefined,
      expected: { startMs: 19_000, endMs: 29_000, frameCount: null, startFrame: null, isWholeVideo: false },
    },
  ])('$name', ({ duration, rate, expected }) => {
    const window = chooseClipWindow(duration, rate);
    expect(window).toEqual(expected);
    expect(window.endMs).toBeLessThanOrEqual(duration);
    expect(window.endMs - window.startMs).toBeLessThanOrEqual(CLIP_DURATION_MS);
  });

  it('keeps windows of long videos inside 5%..95%', () => {
    for (const duration of [11_200, 15_000, 20_000, 33_333, 100_000]) {
      const window = chooseClipWindow(duration, 24);
      expect(window.startMs).toBeGreaterThanOrEqual(duration * 0.05 - 1000 / 24);
      expect(window.endMs).toBeLessThanOrEqual(duration * 0.95);
    }
  });

  it('rejects a duration that is not positive', () => {
    expect(() => chooseClipWindow(0)).toThrow('durationMs must be a positive number, not 0');
    expect(() => chooseClipWindow(Number.NaN)).toThrow(RangeError);
  });
});
