/**
 * The scrubber against lines ffmpeg and ffprobe really print (taken from runs on the filesystem
 * store and on S3 pre-signed URLs), and the failures users see built from them.
 */
import { describe, expect, it } from 'vitest';
import { describeMediaFailure } from '../../src/jobs/media-job-support.js';
import { scrubDetails, scrubMediaText, type KnownText } from '../../src/media/output-scrubber.js';
import { MediaLimitError, MediaProcessError } from '../../src/media/process-runner.js';

const presigned =
  'https://s3.eu-west-1.amazonaws.com/reelin-prod/deploy/teams/4f0c1d0e-8a11-4b7e-9d55-0c6c2b1f7e21/videos/9a1e7c44-52b3-4a38-8d0e-6c1f0b2e8d11/source' +
  '?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Content-Sha256=UNSIGNED-PAYLOAD&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20261128%2Feu-west-1%2Fs3%2Faws4_request' +
  '&X-Amz-Date=20261128T100750Z&X-Amz-Expires=86400&X-Amz-Security-Token=IQoJb3JpZ2luX2VjEJr%2F%2F%2F%2F&X-Amz-Signature=3f1c9d0b7a6e5f4c3b2a19081726354453627180&X-Amz-SignedHeaders=host&x-id=GetObject';
const dataDir = '/var/lib/reelin';
const workDir = '/var/lib/reelin/work';
const known: KnownText[] = [
  { text: workDir, label: '<work dir>' },
  { text: dataDir, label: '<data dir>' },
];

const leaks = [
  /\/var\/lib/,
  /amazonaws/,
  /AKIA/,
  /X-Amz-Signature=[0-9a-f]/,
  /X-Amz-Credential=A/,
  /Security-Token=I/,
  /reelin-prod/,
  /teams\/4f0c/,
  /0x5[0-9a-f]{5,}/,
];

function expectNoLeak(text: string): void {
  for (const leak of leaks) expect(text, `${leak} in ${text}`).not.toMatch(leak);
}

describe('scrubMediaText', () => {
  it.each([
    [
      `[https @ 0x55d0c3a1b2c0] HTTP error 403 Forbidden\n${presigned}: Server returned 403 Forbidden (access denied)`,
      '[https @ 0x?] HTTP error 403 Forbidden\n<url>: Server returned 403 Forbidden (access denied)',
    ],
    [
      '[mov,mp4,m4a,3gp,3g2,mj2 @ 0x5581d4e3a900] moov atom not found\n/var/lib/reelin/storage/teams/4f0c1d0e-8a11-4b7e-9d55-0c6c2b1f7e21/videos/9a1e7c44-52b3-4a38-8d0e-6c1f0b2e8d11/source: Invalid data found when processing input',
      '[mov,mp4,m4a,3gp,3g2,mj2 @ 0x?] moov atom not found\n<data dir>: Invalid data found when processing input',
    ],
    [
      "Input #0, mov,mp4,m4a,3gp,3g2,mj2, from '/srv/other/storage/teams/t/videos/v/source':",
      "Input #0, mov,mp4,m4a,3gp,3g2,mj2, from '<path>':",
    ],
    [
      '[image2 @ 0x563f2b0c1e40] Could not open file : /var/lib/reelin/work/ingest-9a1e7c44-52b3-4a38-8d0e-6c1f0b2e8d11-77e2/stills/thumbnail-01.jpg\nav_interleaved_write_frame(): Input/output error',
      '[image2 @ 0x?] Could not open file : <work dir>\nav_interleaved_write_frame(): Input/output error',
    ],
    [
      "[hls @ 0x55f1d2c3b4a0] Opening 'http://169.254.169.254/latest/meta-data/iam/security-credentials/?x=.ts' for reading",
      "[hls @ 0x?] Opening '<url>' for reading",
    ],
    [
      '[tcp @ 0x55f1d2c3b4a0] Connection to tcp://10.0.3.7:9000?timeout=0 failed: Connection refused',
      '[tcp @ 0x?] Connection to <url> failed: Connection refused',
    ],
    ["[concat @ 0x55f1d2c3b4a0] Impossible to open 'file:/etc/passwd'", "[concat @ 0x?] Impossible to open '<path>'"],
    // A tail cut in the middle of a pre-signed URL: the rest of it is still scrubbed.
    [
      'Signature=3f1c9d0b7a6e5f4c3b2a19081726354453627180&X-Amz-SignedHeaders=host: Server returned 5XX Server Error reply',
      'Signature=<redacted>&X-Amz-SignedHeaders=<redacted>: Server returned 5XX Server Error reply',
    ],
    ['aws_access_key_id AKIAIOSFODNN7EXAMPLE rejected', 'aws_access_key_id <credential> rejected'],
    // A title in the file's own metadata, printed as it is: the NUL could not be stored.
    ['  title           : a\u0000b', '  title           : a\uFFFDb'],
  ])('scrubs %j', (line, expected) => {
    const scrubbed = scrubMediaText(line, known);
    expect(scrubbed).toBe(expected);
    expectNoLeak(scrubbed);
  });

  it('keeps what says what went wrong: codecs, ratios, rates, sizes, times', () => {
    const line =
      '    Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(progressive), 640x360 [SAR 1:1 DAR 16:9], 132 kb/s, 25 fps, 25 tbr, 12800 tbn (default)';
    expect(scrubMediaText(line, known)).toBe(line);
    const error =
      'Error while decoding stream #0:0: Invalid data found when processing input; frame=  120 fps= 60 q=-0.0 size=N/A time=00:00:04.80 bitrate=N/A speed=2.4x';
    expect(scrubMediaText(error, known)).toBe(error);
  });

  it('scrubs every string of nested details', () => {
    expect(
      scrubDetails(
        {
          stderrTail: `${presigned}: 403`,
          nested: { list: ['/var/lib/reelin/x', '/var/lib/reelin with space/x', 3] },
          exitCode: 1,
        },
        [...known, { text: '/var/lib/reelin with space', label: '<spaced>' }],
      ),
    ).toEqual({ stderrTail: '<url>: 403', nested: { list: ['<data dir>', '<spaced>', 3] }, exitCode: 1 });
  });
});

describe('describeMediaFailure scrubs what users see', () => {
  it("keeps paths, URLs and credentials out of a processing failure's message and stderrTail", () => {
    const stderrTail = [
      `[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55d0c3a1b2c0] stream 0, offset 0x30: partial file`,
      `${presigned}: Input/output error`,
      `[out#0/mp4 @ 0x55d0c3a1b2d0] Error opening output /var/lib/reelin/work/ingest-9a1e/web.mp4: No space left on device`,
    ].join('\n');
    const error = new MediaProcessError(`ffmpeg exited with code 1: ${presigned}: Input/output error`, {
      binary: '/usr/bin/ffmpeg',
      exitCode: 1,
      signal: null,
      stderrTail,
    });
    const failure = describeMediaFailure(error, 'ingesting the video', known);
    expect(failure?.code).toBe('MEDIA_PROCESSING_FAILED');
    expect(failure?.details.stderrTail).toBe(
      [
        '[mov,mp4,m4a,3gp,3g2,mj2 @ 0x?] stream 0, offset 0x30: partial file',
        '<url>: Input/output error',
        '[out#0/mp4 @ 0x?] Error opening output <work dir>: No space left on device',
      ].join('\n'),
    );
    expectNoLeak(JSON.stringify(failure));
  });

  it('names a limit with MEDIA_LIMIT_EXCEEDED and scrubs its tail', () => {
    const error = new MediaLimitError('ffmpeg did not finish within its time limit of 108 s, so it was stopped', {
      kind: 'time',
      binary: '/usr/bin/ffmpeg',
      stderrTail: `[hls @ 0x55d0c3a1b2c0] Opening '${presigned}' for reading`,
    });
    expect(describeMediaFailure(error, 'ingesting the video', known)).toEqual({
      code: 'MEDIA_LIMIT_EXCEEDED',
      message:
        'ingesting the video was stopped: ffmpeg did not finish within its time limit of 108 s, so it was stopped',
      details: { limit: 'time', stderrTail: "[hls @ 0x?] Opening '<url>' for reading" },
    });
  });
});
