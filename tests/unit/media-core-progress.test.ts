import { describe, expect, it } from 'vitest';
import { FfmpegProgressParser, MediaProcessError } from '../../src/media/process-runner.js';

const block = (lines: string[]): string => `${lines.join('\n')}\n`;

describe('FfmpegProgressParser', () => {
  it.each([
    {
      name: 'reads out_time_us, frame and speed from a continue block',
      chunks: [
        block([
          'frame=250',
          'fps=37.58',
          'out_time_us=10000000',
          'out_time_ms=10000000',
          'out_time=00:00:10.000000',
          'speed= 1.5x',
          'progress=continue',
        ]),
      ],
      expected: [{ outTimeMs: 10_000, frame: 250, speed: 1.5, done: false }],
    },
    {
      name: 'marks the end block as done',
      chunks: [block(['frame=3', 'out_time_us=120000', 'speed=2.01x', 'progress=end'])],
      expected: [{ outTimeMs: 120, frame: 3, speed: 2.01, done: true }],
    },
    {
      name: 'treats out_time_ms as microseconds when out_time_us is missing (ffmpeg names it wrongly)',
      chunks: [block(['out_time_ms=2500000', 'progress=continue'])],
      expected: [{ outTimeMs: 2500, frame: null, speed: null, done: false }],
    },
    {
      name: 'reports N/A values as null and a negative start time as 0',
      chunks: [block(['frame=N/A', 'out_time_us=-23220', 'speed=N/A', 'progress=continue'])],
      expected: [{ outTimeMs: 0, frame: null, speed: null, done: false }],
    },
    {
      name: 'joins lines split across chunks and handles CRLF',
      chunks: [
        'frame=1',
        '0\r\nout_time_us=4',
        '00000\r\nspeed=1x\r\nprogr',
        'ess=continue\r\nframe=20\nout_time_us=800000\nprogress=end\n',
      ],
      expected: [
        { outTimeMs: 400, frame: 10, speed: 1, done: false },
        { outTimeMs: 800, frame: 20, speed: null, done: true },
      ],
    },
    {
      name: 'emits nothing until a block is complete',
      chunks: ['frame=5\nout_time_us=200000\n'],
      expected: [],
    },
  ])('$name', ({ chunks, expected }) => {
    const parser = new FfmpegProgressParser();
    expect(chunks.flatMap((chunk) => parser.push(chunk))).toEqual(expected);
  });

  it('starts each block afresh so values do not leak into the next one', () => {
    const parser = new FfmpegProgressParser();
    parser.push(block(['frame=9', 'speed=3x', 'out_time_us=1000', 'progress=continue']));
    expect(parser.push(block(['out_time_us=2000', 'progress=continue']))).toEqual([
      { outTimeMs: 2, frame: null, speed: null, done: false },
    ]);
  });
});

describe('MediaProcessError', () => {
  it('carries the exit details and the cause', () => {
    const cause = new Error('spawn ENOENT');
    const error = new MediaProcessError('ffprobe could not be started', {
      binary: '/x/ffprobe',
      exitCode: null,
      signal: null,
      stderrTail: '',
      cause,
    });
    expect(error).toMatchObject({
      name: 'MediaProcessError',
      binary: '/x/ffprobe',
      exitCode: null,
      signal: null,
      stderrTail: '',
      cause,
    });
  });
});
