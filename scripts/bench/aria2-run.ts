/**
 * One aria2c run, the reference: the same origin, file and connection count as a reelin run,
 * timed by GNU time (`%e %U %S %M`: wall seconds, user and system CPU seconds, peak RSS in KiB),
 * and its output file checked against the source like reelin's.
 */
import { execFile, spawn } from 'node:child_process';
import { settleDisk } from './proc-stats.js';
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { CleanupStack } from './cleanup.js';
import { describeExit, exited, keepTail, stopChild } from './child-process.js';
import { copyDeadline } from './reelin-run.js';
import { checkCopy, toRunResult, type CopyTarget, type RunResult } from './results.js';
import { checksumFile } from './source-file.js';

/** aria2c refuses `-x` above 16 connections per server. */
export const ARIA2_MAX_CONNECTIONS = 16;

export const GNU_TIME_PATH = '/usr/bin/time';

export interface Aria2Context {
  aria2cPath: string;
  caCertPath: string;
  cleanup: CleanupStack;
}

/** The first executable called `name` on PATH, or null. */
export async function findOnPath(name: string): Promise<string | null> {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter((entry) => entry !== '')) {
    const candidate = path.join(dir, name);
    if (
      await fs.access(candidate, constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return candidate;
  }
  return null;
}

export async function aria2Version(aria2cPath: string): Promise<string> {
  const { stdout } = await promisify(execFile)(aria2cPath, ['--version']);
  return stdout.split('\n')[0]?.trim() ?? 'unknown';
}

export async function runAria2(
  context: Aria2Context,
  target: CopyTarget,
  connections: number,
  attempt: number,
): Promise<RunResult> {
  const effectiveConnections = Math.min(connections, ARIA2_MAX_CONNECTIONS);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-bench-aria2-'));
  const removeDir = context.cleanup.add(`remove ${dir}`, () => fs.rm(dir, { recursive: true, force: true }));
  try {
    const timing = await timeAria2(context, target, effectiveConnections, dir);
    checkCopy(
      `aria2c's output (${effectiveConnections} connections)`,
      await checksumFile(path.join(dir, 'out.bin')),
      target,
    );
    return toRunResult({
      tool: 'aria2c',
      connections,
      effectiveConnections,
      target,
      attempt,
      hwmRssMb: null,
      idleRssMb: null,
      ...timing,
    });
  } finally {
    await removeDir();
  }
}

function aria2Arguments(context: Aria2Context, target: CopyTarget, connections: number, dir: string): string[] {
  return [
    `--ca-certificate=${context.caCertPath}`,
    '-x',
    String(connections),
    '-s',
    String(connections),
    '-k',
    '1M',
    '--file-allocation=none',
    '--allow-overwrite=true',
    '--auto-file-renaming=false',
    '--summary-interval=0',
    '-d',
    dir,
    '-o',
    'out.bin',
    target.url,
  ];
}

/** Runs aria2c under GNU time in its own process group, so a stop reaches both. */
async function timeAria2(
  context: Aria2Context,
  target: CopyTarget,
  connections: number,
  dir: string,
): Promise<{ seconds: number; cpuSeconds: number; peakRssMb: number }> {
  // GNU time writes its figures to a file so they cannot mix with aria2c's own output.
  const timeFile = path.join(dir, 'time.txt');
  await settleDisk();
  const child = spawn(
    GNU_TIME_PATH,
    ['-f', '%e %U %S %M', '-o', timeFile, context.aria2cPath, ...aria2Arguments(context, target, connections, dir)],
    {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const outputTail = keepTail(child.stdout);
  const errorTail = keepTail(child.stderr);
  const stop = context.cleanup.add(`stop aria2c (pid ${child.pid})`, async () => {
    await stopChild(child, { group: true, graceMs: 5_000 });
  });
  const timer = setTimeout(() => void stop(), copyDeadline(target.sizeBytes) - Date.now());
  try {
    const status = await exited(child);
    if (status.code !== 0) throw new Error(`aria2c failed (${describeExit(status)}):\n${outputTail()}${errorTail()}`);
  } finally {
    clearTimeout(timer);
    await stop();
  }
  return parseGnuTime(await fs.readFile(timeFile, 'utf8'));
}

/** The last line of the time file is the format's output (a failure adds a line before it). */
function parseGnuTime(text: string): { seconds: number; cpuSeconds: number; peakRssMb: number } {
  const line = text.trim().split('\n').at(-1) ?? '';
  const [seconds, user, system, maxRssKib] = line.split(' ').map(Number);
  if ([seconds, user, system, maxRssKib].some((value) => value === undefined || !Number.isFinite(value))) {
    throw new Error(`cannot read GNU time's output ${JSON.stringify(text)}`);
  }
  return { seconds: seconds!, cpuSeconds: user! + system!, peakRssMb: (maxRssKib! * 1024) / 1e6 };
}
