/**
 * A process that runs one confined `sleep` through the media runner and waits, for the test that
 * kills it outright (SIGKILL) and expects the sleep to die with it (setpriv's parent-death signal).
 * Usage: `tsx tests/support/confined-sleeper.ts <seconds>`; prints `started <pid>` once the sleep runs.
 */
import { readdir, readFile } from 'node:fs/promises';
import { findConfinement } from '../../src/media/ffmpeg-tools.js';
import { ChildProcessRunner } from '../../src/media/process-runner.js';
import { until } from './wait.js';

const seconds = process.argv[2] ?? '1000';
const runner = new ChildProcessRunner(await findConfinement(process.env.PATH ?? ''));
const running = runner.run('/bin/sleep', [seconds], { resources: { cpuSeconds: 3600, addressSpaceBytes: null } });
running.catch(() => undefined);

/** The pid whose command line is the sleep itself, or null while prlimit and setpriv still run. */
async function sleepPid(): Promise<number | null> {
  // prlimit and setpriv each exec the next program in the same process: once its command line is
  // the sleep's own, setpriv has set the parent-death signal.
  const wanted = `/bin/sleep\u0000${seconds}\u0000`;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    if ((await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')) === wanted) return Number(entry);
  }
  return null;
}

const pid = await until(`/bin/sleep ${seconds} to run`, sleepPid, (found) => found !== null);
console.log(`started ${pid}`);
await running;
