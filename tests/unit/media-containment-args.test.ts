/**
 * Every argv builder that reads a stored file names the format and protocol whitelists before each
 * of its inputs, and, once the file is probed, forces the probed demuxer: one table over all of
 * them, for a file on the filesystem store and for S3 pre-signed URLs over https and http.
 */
import { describe, expect, it } from 'vitest';
import { clipCutArgs } from '../../src/media/clip-cut.js';
import { ffprobeMetadataArgs } from '../../src/media/ffprobe.js';
import {
  allowedDemuxers,
  findAllowedDemuxer,
  FORMAT_WHITELIST,
  formatRefusedIn,
  hasExternalDataReference,
  inputArgs,
  inputOptions,
  mediaInputOf,
  probedInput,
  refusedDataReference,
  refusedFormat,
  withDemuxer,
  type MediaInput,
} from '../../src/media/media-input.js';
import { buildQualityArgs } from '../../src/media/quality.js';
import { buildScanTypeArgs } from '../../src/media/scan-type.js';
import { buildStillAnalysisArgs, buildStillExtractArgs } from '../../src/media/stills.js';
import { webVideoArgs } from '../../src/media/web-video.js';

const sources = [
  {
    store: 'filesystem',
    location: '/srv/reelin/data/storage/teams/t/videos/v/source',
    url: '/srv/reelin/data/storage/teams/t/videos/v/source',
    protocols: 'file',
    http: false,
  },
  {
    store: 's3 over https',
    location:
      'https://s3.example.com/bucket/teams/t/videos/v/source?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=abc',
    url: 'https://s3.example.com/bucket/teams/t/videos/v/source?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=abc',
    protocols: 'https,tls,tcp',
    http: true,
  },
  {
    store: 's3 over http',
    location: 'http://minio:9000/bucket/source?X-Amz-Signature=abc',
    url: 'http://minio:9000/bucket/source?X-Amz-Signature=abc',
    protocols: 'http,tcp',
    http: true,
  },
] as const;

/** Every builder that reads a stored file, with how many times its argv opens the file. */
const builders: { name: string; probed: boolean; inputs: number; build: (input: MediaInput) => string[] }[] = [
  { name: 'the metadata probe', probed: false, inputs: 1, build: (input) => ffprobeMetadataArgs(input) },
  {
    name: 'the scan-type analysis',
    probed: true,
    inputs: 3,
    build: (input) =>
      buildScanTypeArgs(input, [
        { startMs: 0, frames: 100 },
        { startMs: 5_000, frames: 100 },
        { startMs: 9_000, frames: 100 },
      ]),
  },
  {
    name: 'the quality assessment',
    probed: true,
    inputs: 2,
    build: (input) =>
      buildQualityArgs({
        input,
        instantsMs: [1_000, 3_000],
        framesPerSample: 3,
        analysisWidth: 960,
        analysisHeight: 540,
        bitDepth: 8,
        deinterlaceFilter: null,
      }),
  },
  {
    name: 'the still analysis',
    probed: true,
    inputs: 4,
    build: (input) => buildStillAnalysisArgs(input, [0, 1_000, 2_000, 3_000], 500),
  },
  {
    name: 'a still',
    probed: true,
    inputs: 1,
    build: (input) =>
      buildStillExtractArgs({
        input,
        instantMs: 2_500,
        frameIndex: 3,
        deinterlaceFilter: null,
        thumbnailFormat: 'jpeg',
        outputs: { thumbnailPath: '/w/t.jpg', fullFramePath: '/w/f.png', posterPath: '/w/p.jpg' },
      }),
  },
  {
    name: 'the web video',
    probed: true,
    inputs: 1,
    build: (input) =>
      webVideoArgs({
        input,
        output: '/w/web.mp4',
        source: { width: 640, height: 360, deinterlace: false, hasAudio: true },
      }),
  },
  {
    name: 'the clip',
    probed: true,
    inputs: 1,
    build: (input) => clipCutArgs({ input, output: '/w/clip.mov', startMs: 600, durationMs: 10_000, hasAudio: true }),
  },
];

/** The options that precede each `-i` of `argv`, from the previous input (or the start) on. */
function optionsBeforeEachInput(argv: readonly string[]): string[][] {
  const groups: string[][] = [];
  let start = 0;
  argv.forEach((arg, index) => {
    if (arg !== '-i') return;
    groups.push(argv.slice(start, index + 2));
    start = index + 2;
  });
  return groups;
}

function valueOf(group: readonly string[], option: string): string | undefined {
  const at = group.lastIndexOf(option);
  return at === -1 ? undefined : group[at + 1];
}

describe.each(sources)('every run that reads a stored file ($store)', (source) => {
  describe.each(['mov,mp4,m4a,3gp,3g2,mj2', 'matroska,webm', 'mpegts'])('probed as %s', (demuxer) => {
    it.each(builders)(
      '$name names both whitelists before each input, and forces the probed demuxer',
      ({ probed, inputs, build }) => {
        const input = probed ? probedInput(source.location, { demuxer }) : mediaInputOf(source.location);
        const groups = optionsBeforeEachInput(build(input));
        expect(groups).toHaveLength(inputs);
        for (const group of groups) {
          expect(group.at(-1)).toBe(source.url);
          expect(valueOf(group, '-format_whitelist')).toBe(FORMAT_WHITELIST);
          expect(valueOf(group, '-protocol_whitelist')).toBe(source.protocols);
          expect(valueOf(group, '-f')).toBe(probed ? demuxer.split(',')[0] : undefined);
          // drefs are stated off for QuickTime and for the probe; other demuxers refuse the option.
          expect(valueOf(group, '-enable_drefs')).toBe(!probed || demuxer.startsWith('mov') ? '0' : undefined);
          expect(valueOf(group, '-max_redirects')).toBe(source.http ? '0' : undefined);
        }
      },
    );
  });
});

describe('the allow-list', () => {
  it("names single-file container demuxers only, as Debian's ffmpeg 5.1 spells them", () => {
    expect(FORMAT_WHITELIST).toBe(
      'mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,mxf,mpegts,mpeg,avi,flv,ogg,wav,aiff,dv,gxf,asf,yuv4mpegpipe,h264,hevc,mpegvideo',
    );
    const names = FORMAT_WHITELIST.split(',');
    for (const refused of [
      'hls',
      'dash',
      'concat',
      'image2',
      'image2pipe',
      'png_pipe',
      'tee',
      'sdp',
      'rtp',
      'rtsp',
      'data',
      'subfile',
      'webm_dash_manifest',
      'imf',
      'lavfi',
    ]) {
      expect(names).not.toContain(refused);
    }
  });

  it('finds an allowed demuxer by its full name only', () => {
    expect(findAllowedDemuxer('mov,mp4,m4a,3gp,3g2,mj2')?.label).toBe('QuickTime / MP4');
    expect(findAllowedDemuxer('matroska,webm')?.label).toBe('Matroska / WebM');
    expect(findAllowedDemuxer('hls')).toBeNull();
    expect(findAllowedDemuxer('mov')).toBeNull();
    expect(allowedDemuxers).toHaveLength(17);
  });

  it('refuses to force a demuxer that is not allowed', () => {
    expect(() => withDemuxer(mediaInputOf('/a'), 'hls')).toThrow('the demuxer hls is not on the allow-list');
  });
});

describe('mediaInputOf and inputArgs', () => {
  it.each([
    ['/data/source', { url: '/data/source', protocols: ['file'], demuxer: null }],
    ['relative/a:b.mp4', { url: 'file:relative/a:b.mp4', protocols: ['file'], demuxer: null }],
    ['-x.mp4', { url: 'file:-x.mp4', protocols: ['file'], demuxer: null }],
    [
      'https://s3.example.com/b/k?X-Amz-Signature=1',
      { url: 'https://s3.example.com/b/k?X-Amz-Signature=1', protocols: ['https', 'tls', 'tcp'], demuxer: null },
    ],
    ['http://127.0.0.1:9000/b/k', { url: 'http://127.0.0.1:9000/b/k', protocols: ['http', 'tcp'], demuxer: null }],
  ])('reads %s with only the protocols it needs', (location, expected) => {
    expect(mediaInputOf(location)).toEqual(expected);
  });

  it('puts per-input options such as a seek between the whitelists and -i', () => {
    expect(inputArgs(probedInput('/d/s', { demuxer: 'avi' }), ['-ss', '1.000000'])).toEqual([
      '-f',
      'avi',
      '-format_whitelist',
      FORMAT_WHITELIST,
      '-protocol_whitelist',
      'file',
      '-ss',
      '1.000000',
      '-i',
      '/d/s',
    ]);
    expect(inputOptions(mediaInputOf('https://h/k'))).toEqual([
      '-format_whitelist',
      FORMAT_WHITELIST,
      '-protocol_whitelist',
      'https,tls,tcp',
      '-enable_drefs',
      '0',
      '-max_redirects',
      '0',
    ]);
  });
});

describe('refusals', () => {
  it("reads the refused format from libavformat's error line", () => {
    const stderr = [
      `[hls @ 0x5640f4d2f300] Format not on whitelist '${FORMAT_WHITELIST}'`,
      '/srv/reelin/data/storage/teams/t/videos/v/source: Invalid argument',
    ].join('\n');
    expect(formatRefusedIn(stderr)).toBe('hls');
    expect(formatRefusedIn(`[png_pipe @ 0x560b2e282300] Format not on whitelist '${FORMAT_WHITELIST}'`)).toBe(
      'png_pipe',
    );
    expect(formatRefusedIn('source: Invalid data found when processing input')).toBeNull();
  });

  it.each([
    ['hls', 'the file is an HLS playlist (format hls), which Reelin does not ingest: '],
    ['dash', 'the file is a DASH manifest (MPD) (format dash), which Reelin does not ingest: '],
    ['concat', 'the file is an ffconcat list (format concat), which Reelin does not ingest: '],
    ['png_pipe', 'the file is a still image (format png_pipe), which Reelin does not ingest: '],
    ['tty', 'the file is in the tty format, which Reelin does not ingest: '],
  ])('names %s in a sentence', (format, start) => {
    const error = refusedFormat(format);
    expect(error).toMatchObject({ name: 'UnsupportedMediaFormatError', format, reason: 'format' });
    expect(error.message.startsWith(start)).toBe(true);
    expect(error.message).toContain('never opens what a file refers to');
  });

  it("refuses a reference movie on ffprobe's warning about its external track", () => {
    const stderr =
      "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55eba283e880] Skipped opening external track: stream 0, alias: path='/tmp/canary', dir='(null)', filename='canary', volume='', nlvl_from=1, nlvl_to=1.Set enable_drefs to allow this.";
    expect(hasExternalDataReference(stderr)).toBe(true);
    expect(hasExternalDataReference('[mov,mp4,m4a,3gp,3g2,mj2 @ 0x1] stream 0, offset 0x30: partial file')).toBe(false);
    expect(refusedDataReference()).toMatchObject({
      format: 'mov',
      reason: 'data-reference',
      message: expect.stringMatching(/^the file is a QuickTime reference movie: /),
    });
  });
});
