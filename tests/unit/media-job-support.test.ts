import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/domain/errors.js';
import { describeMediaFailure, ProgressReporter, type ProgressState } from '../../src/jobs/media-job-support.js';
import { refusedDataReference, refusedFormat } from '../../src/media/media-input.js';
import { NotAVideoError } from '../../src/media/metadata.js';
import { MediaProcessError } from '../../src/media/process-runner.js';

function reporterWithClock(intervalMs: number) {
  let nowMs = 1_000_000;
  const saved: ProgressState[] = [];
  let release: (() => void) | null = null;
  let holdSaves = false;
  const reporter = new ProgressReporter({
    intervalMs,
    now: () => new Date(nowMs),
    save: async (state) => {
      saved.push(state);
      if (holdSaves)
        await new Promise<void>((resolve) => {
          release = resolve;
        });
    },
  });
  return {
    reporter,
    saved,
    advance: (ms: number) => {
      nowMs += ms;
    },
    hold: () => {
      holdSaves = true;
    },
    release: () => {
      holdSaves = false;
      release?.();
    },
  };
}

describe('ProgressReporter', () => {
  it('writes at most once per interval, the latest fraction winning, with an extrapolated ETA', async () => {
    const clock = reporterWithClock(1000);
    clock.advance(2000);
    clock.reporter.report(0.1);
    await clock.reporter.flush();
    clock.reporter.report(0.2);
    clock.advance(500);
    clock.reporter.report(0.3);
    clock.advance(1500);
    clock.reporter.report(0.5);
    await clock.reporter.flush();
    // 0.1 after 2 s: 18 s left; 0.5 after 4 s: 4 s left. 0.2 and 0.3 came within the interval.
    expect(clock.saved).toEqual([
      { progressPercentage: 10, etaSeconds: 18 },
      { progressPercentage: 50, etaSeconds: 4 },
    ]);
  });

  it('never moves backwards when a step reports a lower fraction', async () => {
    const clock = reporterWithClock(10);
    clock.advance(2000);
    clock.reporter.report(0.6);
    clock.advance(20);
    await clock.reporter.flush();
    clock.reporter.report(0.4);
    await clock.reporter.flush();
    // The ETA is refreshed; the percentage stays where it was.
    expect(clock.saved.map((state) => state.progressPercentage)).toEqual([60, 60]);
  });

  it('keeps one write in flight: reports while the database is slow are folded into the next write', async () => {
    const clock = reporterWithClock(10);
    clock.advance(2000);
    clock.hold();
    clock.reporter.report(0.2);
    clock.advance(50);
    clock.reporter.report(0.3);
    clock.advance(50);
    clock.reporter.report(0.4);
    expect(clock.saved).toHaveLength(1);
    clock.release();
    await clock.reporter.flush();
    clock.advance(50);
    clock.reporter.report(0.4);
    await clock.reporter.flush();
    expect(clock.saved.map((state) => state.progressPercentage)).toEqual([20, 40]);
  });

  it('rethrows a failed write at flush', async () => {
    const reporter = new ProgressReporter({
      intervalMs: 1,
      now: () => new Date(5000),
      save: () => Promise.reject(new Error('database down')),
    });
    reporter.report(0.5);
    await expect(reporter.flush()).rejects.toThrow('database down');
  });
});

describe('describeMediaFailure', () => {
  it('names a file without pictures NOT_A_VIDEO and an unreadable one MEDIA_UNREADABLE', () => {
    expect(
      describeMediaFailure(
        new NotAVideoError('NO_VIDEO_STREAM', 'the file has no video stream with pictures: it holds audio (aac)'),
        'ingesting the video',
      ),
    ).toEqual({
      code: 'NOT_A_VIDEO',
      message: 'the file has no video stream with pictures: it holds audio (aac)',
      details: { kind: 'NO_VIDEO_STREAM' },
    });
    expect(
      describeMediaFailure(new NotAVideoError('UNREADABLE', 'ffprobe cannot read the file'), 'ingesting the video'),
    ).toMatchObject({ code: 'MEDIA_UNREADABLE', details: { kind: 'UNREADABLE' } });
  });

  it('names a playlist or a reference movie UNSUPPORTED_MEDIA_FORMAT with the format', () => {
    expect(describeMediaFailure(refusedFormat('hls'), 'ingesting the video')).toEqual({
      code: 'UNSUPPORTED_MEDIA_FORMAT',
      message: refusedFormat('hls').message,
      details: { format: 'hls', reason: 'format' },
    });
    expect(describeMediaFailure(refusedDataReference(), 'ingesting the video')).toMatchObject({
      code: 'UNSUPPORTED_MEDIA_FORMAT',
      details: { format: 'mov', reason: 'data-reference' },
    });
  });

  it('gives an ffmpeg failure its exit and the last lines of its stderr', () => {
    const stderr = `${'frame= 10 fps=1\n'.repeat(200)}[h264 @ 0x1] error while decoding MB 10 4\nConversion failed!`;
    const failure = describeMediaFailure(
      new MediaProcessError('ffmpeg exited with code 1', {
        binary: '/usr/bin/ffmpeg',
        exitCode: 1,
        signal: null,
        stderrTail: stderr,
      }),
      'cutting the clip',
    );
    expect(failure?.code).toBe('MEDIA_PROCESSING_FAILED');
    expect(failure?.message).toBe(
      'cutting the clip failed: ffmpeg exited with code 1; the file may be damaged or use a feature this ffmpeg cannot decode',
    );
    const tail = failure?.details.stderrTail as string;
    expect(tail.endsWith('error while decoding MB 10 4\nConversion failed!')).toBe(true);
    expect(tail.length).toBeLessThanOrEqual(1200);
    expect(tail.startsWith('frame=')).toBe(true);
  });

  it("keeps an AppError's own code", () => {
    expect(describeMediaFailure(new AppError('CHECKSUM_MISMATCH', 'bad', { a: 1 }), 'x')).toEqual({
      code: 'CHECKSUM_MISMATCH',
      message: 'bad',
      details: { a: 1 },
    });
  });

  it("leaves other errors (database, storage) to the queue's retries", () => {
    expect(describeMediaFailure(new Error('connection terminated'), 'ingesting the video')).toBeNull();
  });
});
