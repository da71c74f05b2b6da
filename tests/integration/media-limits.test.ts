/**
 * The runner's limits against real processes, confined by util-linux's prlimit and setpriv: the
 * wall-clock limit and an abort end even a process that ignores SIGTERM within about a second of
 * the SIGTERM; the CPU-time limit and the address-space limit end a run with a MediaLimitError
 * naming them; and a confined run dies with a worker killed outright.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultAddressSpaceBytes } from '../../src/domain/media-limits.js';
import { discoverMediaTools, findConfinement, type MediaTools } from '../../src/media/ffmpeg-tools.js';
import { ChildProcessRunner, KILL_GRACE_MS, MediaLimitError } from '../../src/media/process-runner.js';
import { mediaFixture } from '../support/media-fixtures.js';
import { until } from '../support/wait.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
let runner: ChildProcessRunner;
let tools: MediaTools;

beforeAll(async () => {
  runner = new ChildProcessRunner(await findConfinement(process.env.PATH ?? ''));
  tools = await discoverMediaTools({
    pathEnv: process.env.PATH ?? '',
    runner,
    ffmpegPath: process.env.REELIN_FFMPEG_PATH,
    ffprobePath: process.env.REELIN_FFPROBE_PATH,
  });
});

afterAll(() => {
  runner?.killAll();
});

/** Pids of live (not zombie) processes whose command line contains `marker`. */
async function processesWith(marker: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const [cmdline, stat] = await Promise.all([
      readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => ''),
      readFile(`/proc/${entry}/stat`, 'utf8').catch(() => ''),
    ]);
    if (cmdline.includes(marker) && !/^\d+ \(.*\) Z /.test(stat)) found.push(Number(entry));
  }
  return found;
}

/** How long until no process with `marker` is left (polled every 20 ms, for at most `limitMs`). */
async function timeUntilGone(marker: string, limitMs: number): Promise<number> {
  const startedMs = performance.now();
  await until(
    `processes with ${marker} to end`,
    () => processesWith(marker),
    (left) => left.length === 0,
    {
      timeoutMs: limitMs,
    },
  );
  return performance.now() - startedMs;
}

const stubborn = (marker: string) => ['-c', `trap '' TERM; sleep ${marker}1 & sleep ${marker}2 & wait; wait`];

describe('the wall-clock limit and aborts', () => {
  it('end a process group that ignores SIGTERM within a second of the SIGTERM, with a MediaLimitError of kind time', async () => {
    const marker = `71.${Math.floor(Math.random() * 1e6)}`;
    const startedMs = performance.now();
    const error: unknown = await runner
      .run('/bin/sh', stubborn(marker), { timeoutMs: 300, resources: { cpuSeconds: 60, addressSpaceBytes: null } })
      .catch((caught: unknown) => caught);
    const settledAfterMs = performance.now() - startedMs;
    expect(error).toBeInstanceOf(MediaLimitError);
    expect(error).toMatchObject({
      kind: 'time',
      message: 'sh did not finish within its time limit of 0.3 s, so it was stopped',
    });
    // The run settles when the group leader is gone: the SIGKILL a second after the SIGTERM.
    expect(settledAfterMs).toBeGreaterThanOrEqual(300 + KILL_GRACE_MS - 50);
    expect(settledAfterMs).toBeLessThan(300 + 2_000);
    expect(await timeUntilGone(marker, 1_000)).toBeLessThan(1_000);
  });

  it('end such a group within a second of an abort', async () => {
    const marker = `72.${Math.floor(Math.random() * 1e6)}`;
    const controller = new AbortController();
    const run = runner.run('/bin/sh', stubborn(marker), {
      signal: controller.signal,
      resources: { cpuSeconds: 60, addressSpaceBytes: null },
    });
    await expect.poll(() => processesWith(marker), { timeout: 5_000 }).toHaveLength(3);
    const abortedMs = performance.now();
    controller.abort(new Error('the video was deleted'));
    await expect(run).rejects.toThrow('the video was deleted');
    const goneAfterMs = performance.now() - abortedMs + (await timeUntilGone(marker, 2_000));
    console.log(`a SIGTERM-ignoring process group was gone ${Math.round(goneAfterMs)} ms after the abort`);
    expect(goneAfterMs).toBeLessThan(2_000);
  });
});

describe('resource limits', () => {
  it('ends a run at its CPU-time limit with a MediaLimitError of kind cpu', async () => {
    const error: unknown = await runner
      .run('/bin/sh', ['-c', 'while :; do :; done'], {
        timeoutMs: 60_000,
        resources: { cpuSeconds: 1, addressSpaceBytes: null },
      })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MediaLimitError);
    expect(error).toMatchObject({
      kind: 'cpu',
      message: 'sh was killed at its CPU-time limit of 1 s (or by the system for want of memory)',
    });
  });

  it('fails an ffmpeg run that needs more address space than its limit with a MediaLimitError of kind memory', async () => {
    const input = await mediaFixture('progressive');
    const error: unknown = await runner
      .run(
        tools.ffmpegPath,
        [
          '-hide_banner',
          '-nostdin',
          '-loglevel',
          'error',
          '-threads',
          '16',
          '-i',
          input,
          '-vf',
          'scale=3840:2160',
          '-threads',
          '16',
          '-c:v',
          'libx264',
          '-f',
          'null',
          '-',
        ],
        { timeoutMs: 60_000, resources: { cpuSeconds: 600, addressSpaceBytes: 300 * 1024 * 1024 } },
      )
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MediaLimitError);
    expect(error).toMatchObject({
      kind: 'memory',
      message: 'ffmpeg ran out of memory under its limit of 300 MB of address space',
    });
  });

  it('lets the same run through with the default limit for this machine', async () => {
    const input = await mediaFixture('short-4s');
    await runner.run(
      tools.ffmpegPath,
      [
        '-hide_banner',
        '-nostdin',
        '-loglevel',
        'error',
        '-i',
        input,
        '-c:v',
        'libx264',
        '-preset',
        'ultrafast',
        '-f',
        'null',
        '-',
      ],
      {
        timeoutMs: 60_000,
        resources: { cpuSeconds: 600, addressSpaceBytes: defaultAddressSpaceBytes(os.availableParallelism()) },
      },
    );
  });

  it('refuses limits it cannot apply: a runner built without prlimit', async () => {
    await expect(
      new ChildProcessRunner().run('/bin/true', [], { resources: { cpuSeconds: 1, addressSpaceBytes: null } }),
    ).rejects.toThrow('this runner cannot apply CPU and memory limits: it was built without prlimit');
  });
});

describe('a worker killed outright', () => {
  it("takes its confined runs with it (setpriv's parent-death signal)", async () => {
    const seconds = `${Math.floor(1000 + Math.random() * 1e6)}`;
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(root, 'tests/support/confined-sleeper.ts'), seconds],
      { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = new Promise((resolve) => child.once('exit', resolve));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('started')) resolve();
      });
      child.once('exit', () => reject(new Error('the sleeper exited early')));
    });
    expect(await processesWith(`sleep\u0000${seconds}`)).toHaveLength(1);
    child.kill('SIGKILL');
    await exited;
    expect(await timeUntilGone(`sleep\u0000${seconds}`, 2_000)).toBeLessThan(2_000);
  });
});
