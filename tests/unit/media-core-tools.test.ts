import { describe, expect, it } from 'vitest';
import {
  discoverMediaTools,
  fileArgument,
  findConfinement,
  findOnPath,
  findUnavailableFeatures,
  parseEncoderList,
  parseFilterList,
  parseToolVersion,
} from '../../src/media/ffmpeg-tools.js';
import type { ProcessRunner, RunResult } from '../../src/media/process-runner.js';
import { MediaProcessError } from '../../src/media/process-runner.js';

// Captured from Debian's ffmpeg 5.1 (`-hide_banner -filters` / `-encoders`), trimmed.
const filtersText = `Filters:
  T.. = Timeline support
  .S. = Slice threading
  ..C = Command support
  A = Audio input/output
  V = Video input/output
  N = Dynamic number and/or type of input/output
  | = Source or sink filter
 ... abench            A->A       Benchmark part of a filtergraph.
 ..C amix              N->A       Audio mixing.
 ... blockdetect       V->V       Blockdetect filter.
 ... blurdetect        V->V       Blurdetect filter.
 TS. bwdif             V->V       Deinterlace the input image.
 ... idet              V->V       Interlace detect Filter.
 ..C scale             V->V       Scale the input video size and/or convert the image format.
 ..C scale2ref         VV->VV     Scale the input video size and/or convert the image format to the given reference.
 ... setsar            V->V       Set the pixel sample aspect ratio.
 .S. signalstats       V->V       Generate statistics from video analysis.
 TS. yadif             V->V       Deinterlace the input image.
 ... testsrc2          |->V       Generate another test pattern.
 ... nullsink          V->|       Do absolutely nothing with the input video.
 T.. entropy           V->V       Measure video frames entropy.
 T.. metadata          V->V       Manipulate video frame metadata.
 TS. psnr              VV->V      Calculate the PSNR between two video streams.
 TS. removegrain       V->V       Remove grain.
 ... split             V->N       Pass on the input to N video outputs.
 ... trim              V->V       Pick one continuous section from the input, drop the rest.
 ..C concat            N->N       Concatenate audio and video streams.
`;

const encodersText = `Encoders:
 V..... = Video
 A..... = Audio
 S..... = Subtitle
 .F.... = Frame-level multithreading
 ..S... = Slice-level multithreading
 ...X.. = Codec is experimental
 ....B. = Supports draw_horiz_band
 .....D = Supports direct rendering method 1
 ------
 V.S... ffv1                 FFmpeg video codec #1
 V....D libx264              libx264 H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10 (codec h264)
 VFS... mjpeg                MJPEG (Motion JPEG)
 VF.... png                  PNG (Portable Network Graphics) image
 VFS... prores_ks            Apple ProRes (iCodec Pro) (codec prores)
 V....D libwebp              libwebp WebP image (codec webp)
 A..... aac                  AAC (Advanced Audio Coding)
 A....D pcm_s16le            PCM signed 16-bit little-endian
 S..... ass                  ASS (Advanced SubStation Alpha) subtitle
`;

const versionText = (first: string, libavcodec: string): string =>
  `${first} Copyright (c) 2000-2026 the FFmpeg developers\nbuilt with gcc 12\nlibavutil      57. 28.100 / 57. 28.100\nlibavcodec     ${libavcodec} / ${libavcodec}\n`;

describe('parseFilterList', () => {
  it('reads filter names and skips the legend', () => {
    expect([...parseFilterList(filtersText)].sort()).toEqual([
      'abench',
      'amix',
      'blockdetect',
      'blurdetect',
      'bwdif',
      'concat',
      'entropy',
      'idet',
      'metadata',
      'nullsink',
      'psnr',
      'removegrain',
      'scale',
      'scale2ref',
      'setsar',
      'signalstats',
      'split',
      'testsrc2',
      'trim',
      'yadif',
    ]);
  });

  it('reads the older three-flag layout of ffmpeg 4', () => {
    expect([...parseFilterList(' TSC bwdif             V->V       Deinterlace the input image.\n')]).toEqual(['bwdif']);
  });
});

describe('parseEncoderList', () => {
  it('reads encoder names after the separator and skips the legend', () => {
    expect([...parseEncoderList(encodersText)].sort()).toEqual([
      'aac',
      'ass',
      'ffv1',
      'libwebp',
      'libx264',
      'mjpeg',
      'pcm_s16le',
      'png',
      'prores_ks',
    ]);
  });
});

describe('parseToolVersion', () => {
  it.each([
    {
      text: versionText('ffmpeg version 5.1.9-0+deb12u1', '59. 37.100'),
      expected: { version: '5.1.9-0+deb12u1', major: 5 },
    },
    { text: versionText('ffprobe version n7.1', '61. 19.100'), expected: { version: 'n7.1', major: 7 } },
    {
      text: versionText('ffmpeg version 4.4.2-0ubuntu0.22.04.1', '58.134.100'),
      expected: { version: '4.4.2-0ubuntu0.22.04.1', major: 4 },
    },
    // Git builds: the release follows from libavcodec's major version.
    {
      text: versionText('ffmpeg version N-47683-g0e8eb07980-static', '58. 42.100'),
      expected: { version: 'N-47683-g0e8eb07980-static', major: 4 },
    },
    {
      text: versionText('ffmpeg version N-112233-gabc-static', '60. 31.102'),
      expected: { version: 'N-112233-gabc-static', major: 6 },
    },
    { text: 'ffmpeg version N-1-gabc\n', expected: { version: 'N-1-gabc', major: null } },
    { text: 'not ffmpeg at all', expected: null },
  ])('reads $expected.version', ({ text, expected }) => {
    expect(parseToolVersion(text)).toEqual(expected);
  });
});

describe('findUnavailableFeatures', () => {
  const all = { filters: parseFilterList(filtersText), encoders: parseEncoderList(encodersText) };

  it('reports nothing when every requirement is met', () => {
    expect(findUnavailableFeatures(all.filters, all.encoders, 'ffmpeg 5.1')).toEqual(new Map());
  });

  it.each([
    {
      drop: { filters: ['blurdetect'] },
      feature: 'qualityAssessment',
      reason:
        'the quality assessment needs the blurdetect filter, which ffmpeg 5.1 lacks; install an ffmpeg build that has it',
    },
    {
      drop: { filters: ['idet'] },
      feature: 'scanTypeAnalysis',
      reason: 'scan-type analysis needs the idet filter, which ffmpeg 5.1 lacks; install an ffmpeg build that has it',
    },
    {
      drop: { filters: ['bwdif', 'yadif'], encoders: ['libx264'] },
      feature: 'webVideo',
      reason:
        'the web video needs the bwdif or yadif filter, the libx264 encoder, which ffmpeg 5.1 lacks; install an ffmpeg build that has them',
    },
    {
      drop: { encoders: ['mjpeg', 'libwebp'] },
      feature: 'thumbnails',
      reason:
        'thumbnails needs the mjpeg or libwebp encoder, which ffmpeg 5.1 lacks; install an ffmpeg build that has it',
    },
    {
      drop: { encoders: ['png'] },
      feature: 'fullFrames',
      reason: 'full frames needs the png encoder, which ffmpeg 5.1 lacks; install an ffmpeg build that has it',
    },
    {
      drop: { encoders: ['prores_ks', 'ffv1'] },
      feature: 'clip',
      reason:
        'the clip needs the prores_ks or ffv1 encoder, which ffmpeg 5.1 lacks; install an ffmpeg build that has it',
    },
  ])('reports $feature when $drop is missing', ({ drop, feature, reason }) => {
    const filters = new Set([...all.filters].filter((name) => !(drop.filters ?? []).includes(name)));
    const encoders = new Set([...all.encoders].filter((name) => !(drop.encoders ?? []).includes(name)));
    expect(findUnavailableFeatures(filters, encoders, 'ffmpeg 5.1')).toEqual(new Map([[feature, reason]]));
  });

  it('accepts ffv1 in place of prores_ks and yadif in place of bwdif', () => {
    const filters = new Set([...all.filters].filter((name) => name !== 'bwdif'));
    const encoders = new Set([...all.encoders].filter((name) => name !== 'prores_ks'));
    expect(findUnavailableFeatures(filters, encoders, 'ffmpeg').size).toBe(0);
  });
});

describe('findOnPath', () => {
  it('returns the first executable match and skips empty and relative entries', async () => {
    const executables = new Set(['/opt/b/ffmpeg', '/usr/bin/ffmpeg']);
    const found = await findOnPath(
      'ffmpeg',
      ['', 'relative/bin', '/opt/a', '/opt/b', '/usr/bin'].join(':'),
      async (file) => executables.has(file),
    );
    expect(found).toBe('/opt/b/ffmpeg');
  });

  it('returns null when nothing matches', async () => {
    expect(await findOnPath('ffprobe', '/usr/bin:/bin', async () => false)).toBeNull();
  });
});

describe('fileArgument', () => {
  it.each([
    ['/data/in.mp4', '/data/in.mp4'],
    ['in.mp4', 'file:in.mp4'],
    ['-weird.mp4', 'file:-weird.mp4'],
    ['http:foo.mp4', 'file:http:foo.mp4'],
    // Outputs are local files: a name that looks like a URL is still a file.
    ['https://bucket.s3.amazonaws.com/k/source', 'file:https://bucket.s3.amazonaws.com/k/source'],
  ])('%s -> %s', (input, expected) => {
    expect(fileArgument(input)).toBe(expected);
  });
});

/** A runner that answers from a table of binary -> behaviour. */
function fakeRunner(
  binaries: Record<string, { version?: string; fails?: boolean }>,
): ProcessRunner & { calls: string[][] } {
  const calls: string[][] = [];
  return {
    calls,
    async run(binary: string, args: readonly string[]): Promise<RunResult> {
      calls.push([binary, ...args]);
      const entry = binaries[binary];
      if (entry === undefined || entry.fails === true) {
        throw new MediaProcessError(`${binary} could not be started: ENOENT`, {
          binary,
          exitCode: null,
          signal: null,
          stderrTail: '',
        });
      }
      if (args.includes('-filters')) return { stdout: filtersText, stderrTail: '' };
      if (args.includes('-encoders')) return { stdout: encodersText, stderrTail: '' };
      return { stdout: entry.version ?? '', stderrTail: '' };
    },
  };
}

describe('discoverMediaTools', () => {
  const v5 = versionText('ffmpeg version 5.1.9', '59. 37.100');
  const probe5 = versionText('ffprobe version 5.1.9', '59. 37.100');
  const v4 = versionText('ffmpeg version 4.4.2', '58.134.100');
  const noBundle = async (): Promise<null> => null;

  it('uses configured paths as given', async () => {
    const runner = fakeRunner({ '/cfg/ffmpeg': { version: v5 }, '/cfg/ffprobe': { version: probe5 } });
    const tools = await discoverMediaTools({
      ffmpegPath: '/cfg/ffmpeg',
      ffprobePath: '/cfg/ffprobe',
      pathEnv: '/usr/bin',
      runner,
      loadBundled: noBundle,
      isExecutable: async () => true,
    });
    expect(tools).toMatchObject({
      ffmpegPath: '/cfg/ffmpeg',
      ffprobePath: '/cfg/ffprobe',
      ffmpegVersion: '5.1.9',
      source: 'configured',
      ffprobeSource: 'configured',
    });
    expect(tools.filters.has('idet')).toBe(true);
    expect(tools.encoders.has('libx264')).toBe(true);
    expect(tools.unavailable.size).toBe(0);
  });

  it('fails with one sentence when a configured path does not work, without falling back', async () => {
    const runner = fakeRunner({ '/usr/bin/ffmpeg': { version: v5 } });
    await expect(
      discoverMediaTools({
        ffmpegPath: '/nope/ffmpeg',
        pathEnv: '/usr/bin',
        runner,
        loadBundled: noBundle,
        isExecutable: async () => true,
      }),
    ).rejects.toThrow(
      'REELIN_FFMPEG_PATH is /nope/ffmpeg, which is not a working ffmpeg: point it at an ffmpeg binary or unset it',
    );
  });

  it('finds both binaries on PATH', async () => {
    const runner = fakeRunner({ '/usr/bin/ffmpeg': { version: v5 }, '/usr/bin/ffprobe': { version: probe5 } });
    const tools = await discoverMediaTools({
      pathEnv: '/usr/local/bin:/usr/bin',
      runner,
      loadBundled: noBundle,
      isExecutable: async (file) => file.startsWith('/usr/bin/'),
    });
    expect(tools).toMatchObject({
      ffmpegPath: '/usr/bin/ffmpeg',
      ffprobePath: '/usr/bin/ffprobe',
      source: 'path',
      ffprobeSource: 'path',
    });
  });

  it('passes over a system ffmpeg older than 5 for the bundled one, whatever its version', async () => {
    const runner = fakeRunner({
      '/usr/bin/ffmpeg': { version: v4 },
      '/usr/bin/ffprobe': { version: probe5 },
      '/nm/ffmpeg': { version: v4 },
    });
    const loadBundled = async (name: string) => (name === '@ffmpeg-installer/ffmpeg' ? { path: '/nm/ffmpeg' } : null);
    const tools = await discoverMediaTools({
      pathEnv: '/usr/bin',
      runner,
      loadBundled,
      isExecutable: async () => true,
    });
    expect(tools).toMatchObject({
      ffmpegPath: '/nm/ffmpeg',
      ffmpegVersion: '4.4.2',
      source: 'bundled',
      ffprobePath: '/usr/bin/ffprobe',
      ffprobeSource: 'path',
    });
  });

  it('says what to do when nothing usable is found', async () => {
    const runner = fakeRunner({ '/usr/bin/ffmpeg': { version: v4 } });
    await expect(
      discoverMediaTools({
        pathEnv: '/usr/bin',
        runner,
        loadBundled: noBundle,
        isExecutable: async (file) => file === '/usr/bin/ffmpeg',
      }),
    ).rejects.toThrow(
      'no usable ffmpeg was found (/usr/bin/ffmpeg is version 4.4.2, not 5 or newer): install ffmpeg 5 or newer (for example `apt-get install ffmpeg`), set REELIN_FFMPEG_PATH, or install the optional package @ffmpeg-installer/ffmpeg',
    );
  });
});

describe('findConfinement', () => {
  const only =
    (...present: string[]) =>
    async (file: string) =>
      present.includes(file);

  it('finds prlimit and setpriv on PATH', async () => {
    expect(await findConfinement('/usr/local/bin:/usr/bin', only('/usr/bin/prlimit', '/usr/bin/setpriv'))).toEqual({
      prlimitPath: '/usr/bin/prlimit',
      setprivPath: '/usr/bin/setpriv',
    });
  });

  it('does without setpriv', async () => {
    expect(await findConfinement('/usr/bin', only('/usr/bin/prlimit'))).toEqual({
      prlimitPath: '/usr/bin/prlimit',
      setprivPath: null,
    });
  });

  it('refuses to go on without prlimit, in one sentence', async () => {
    await expect(findConfinement('/usr/bin', only('/usr/bin/setpriv'))).rejects.toThrow(
      'prlimit was not found on PATH: install util-linux (Debian and Ubuntu ship it), which sets the CPU-time and memory limits of every ffmpeg run',
    );
  });
});
