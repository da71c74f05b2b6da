import { describe, expect, it } from 'vitest';
import {
  defaultAddressSpaceBytes,
  refuseDuration,
  runLimits,
  wallClockLimitMs,
  workBudgets,
  type MediaLimitPolicy,
} from '../../src/domain/media-limits.js';
import { deferralDelaySeconds } from '../../src/jobs/media-slots.js';
import { confinedCommand, limitExplaining } from '../../src/media/process-runner.js';

const MEBIBYTE = 1024 * 1024;
const policy: MediaLimitPolicy = {
  floorMs: 60_000,
  scale: 1,
  cpuCount: 4,
  addressSpaceBytes: 3072 * MEBIBYTE,
  maxDurationMs: 48 * 3_600_000,
};

describe('wallClockLimitMs', () => {
  it.each([
    // work, items, expected ms
    ['probe', 0, 60_000],
    ['scanType', 6, 120_000],
    ['quality', 8, 140_000],
    ['stillAnalysis', 10, 160_000],
    ['still', 0, 60_000],
    // A 12 s web video: 60 s + 4 s per second of media.
    ['webVideo', 12, 108_000],
    // Two hours of media: 60 s + 7200 x 4 s = 8 h 1 min.
    ['webVideo', 7_200, 28_860_000],
    ['clip', 10, 160_000],
  ] as const)('gives %s over %d items %d ms', (work, items, expected) => {
    expect(wallClockLimitMs(work, items, policy)).toBe(expected);
  });

  it('scales every budget and never goes below the floor', () => {
    expect(wallClockLimitMs('webVideo', 12, { floorMs: 60_000, scale: 2.5 })).toBe(270_000);
    expect(wallClockLimitMs('probe', 0, { floorMs: 90_000, scale: 1 })).toBe(90_000);
    expect(wallClockLimitMs('clip', 10, { floorMs: 1_000, scale: 0.01 })).toBe(1_600);
    expect(wallClockLimitMs('clip', 10, { floorMs: 2_000, scale: 0.01 })).toBe(2_000);
  });

  it('counts nothing for items that are not a positive number', () => {
    for (const items of [Number.NaN, -5, Number.POSITIVE_INFINITY])
      expect(wallClockLimitMs('webVideo', items, policy)).toBe(workBudgets.webVideo.fixedMs);
  });
});

describe('runLimits', () => {
  it('gives a run its wall-clock limit, that much CPU time on every CPU, and the address-space limit', () => {
    expect(runLimits('webVideo', 12, policy)).toEqual({
      timeoutMs: 108_000,
      resources: { cpuSeconds: 432, addressSpaceBytes: 3072 * MEBIBYTE },
    });
    expect(runLimits('probe', 0, { ...policy, cpuCount: 0, addressSpaceBytes: null })).toEqual({
      timeoutMs: 60_000,
      resources: { cpuSeconds: 60, addressSpaceBytes: null },
    });
  });

  it('defaults the address space to 2 GiB and 256 MiB per CPU', () => {
    expect(defaultAddressSpaceBytes(2)).toBe(2560 * MEBIBYTE);
    expect(defaultAddressSpaceBytes(0)).toBe(2304 * MEBIBYTE);
  });
});

describe('refuseDuration', () => {
  it.each([null, 0, -40, Number.NaN])('refuses an unknown duration (%s)', (durationMs) => {
    expect(refuseDuration(durationMs, policy.maxDurationMs)).toMatch(
      /^the video's duration is unknown \(a live stream, a raw stream without an index, or a damaged file\)/,
    );
  });

  it('refuses a duration past the maximum and names both', () => {
    expect(refuseDuration(49 * 3_600_000, policy.maxDurationMs)).toBe(
      'the video lasts 49 h, longer than the 48 h this service ingests fully: only its metadata was read',
    );
    expect(refuseDuration(12_000, 5_000)).toBe(
      'the video lasts 12 s, longer than the 5 s this service ingests fully: only its metadata was read',
    );
  });

  it('lets a duration up to the maximum through', () => {
    expect(refuseDuration(48 * 3_600_000, policy.maxDurationMs)).toBeNull();
    expect(refuseDuration(40, policy.maxDurationMs)).toBeNull();
  });
});

describe('confinedCommand', () => {
  it('runs the binary through prlimit (CPU time, address space) and setpriv (dies with its parent), execing into it', () => {
    expect(
      confinedCommand(
        '/usr/bin/ffmpeg',
        ['-i', 'x'],
        { cpuSeconds: 432.2, addressSpaceBytes: 3072 * MEBIBYTE },
        { prlimitPath: '/usr/bin/prlimit', setprivPath: '/usr/bin/setpriv' },
      ),
    ).toEqual({
      file: '/usr/bin/prlimit',
      args: [
        '--cpu=433',
        `--as=${3072 * MEBIBYTE}`,
        '--',
        '/usr/bin/setpriv',
        '--pdeathsig',
        'KILL',
        '--',
        '/usr/bin/ffmpeg',
        '-i',
        'x',
      ],
    });
  });

  it('leaves out what is not there: no memory limit, no setpriv', () => {
    expect(
      confinedCommand(
        'ffprobe',
        ['-v'],
        { cpuSeconds: 0, addressSpaceBytes: null },
        { prlimitPath: '/bin/prlimit', setprivPath: null },
      ),
    ).toEqual({
      file: '/bin/prlimit',
      args: ['--cpu=1', '--', 'ffprobe', '-v'],
    });
  });
});

describe('limitExplaining', () => {
  const resources = { cpuSeconds: 10, addressSpaceBytes: 512 * MEBIBYTE };

  it('blames the CPU limit for a SIGKILL or SIGXCPU the runner did not send', () => {
    expect(limitExplaining({ code: null, signal: 'SIGKILL', stderrTail: '' }, resources)).toBe('cpu');
    expect(limitExplaining({ code: null, signal: 'SIGXCPU', stderrTail: '' }, resources)).toBe('cpu');
  });

  it.each([
    'Error while opening decoder for input stream #0:0 : Resource temporarily unavailable',
    'ffmpeg: error while loading shared libraries: libshine.so.3: failed to map segment from shared object',
    '[h264 @ 0x55d0c3a1b2c0] Cannot allocate memory',
    'x264 [error]: malloc of size 1048576 failed',
  ])('blames the memory limit for "%s"', (stderrTail) => {
    expect(limitExplaining({ code: 1, signal: null, stderrTail }, resources)).toBe('memory');
    expect(
      limitExplaining({ code: 1, signal: null, stderrTail }, { ...resources, addressSpaceBytes: null }),
    ).toBeNull();
  });

  it('blames nothing for an ordinary failure, or for a run without limits', () => {
    expect(
      limitExplaining(
        { code: 1, signal: null, stderrTail: 'source: Invalid data found when processing input' },
        resources,
      ),
    ).toBeNull();
    expect(limitExplaining({ code: null, signal: 'SIGKILL', stderrTail: '' }, undefined)).toBeNull();
  });
});

describe('deferralDelaySeconds', () => {
  it("spreads the jobs a team's ceiling holds back over 2 to 4 seconds", () => {
    expect([0, 0.34, 0.67, 0.999].map((value) => deferralDelaySeconds(() => value))).toEqual([2, 3, 4, 4]);
  });
});
