/**
 * A process that runs one confined `sleep` through the media runner and waits, for the test that
 * kills it outright (SIGKILL) and expects the sleep to die with it (setpriv's parent-death signal).
 * Usage: `tsx tests/support/confined-sleeper.ts <seconds>`; prints `started <pid>` once the sleep runs.
 */
import { findConfinement } from '../../src/media/ffmpeg-tools.js';
import { ChildProcessRunner } from '../../src/media/process-runner.js';

const seconds = process.argv[2] ?? '1000';
const runner = new ChildProcessRunner(await findConfinement(process.env.PATH ?? ''));
const running = runner.run('/bin/sleep', [seconds], { resources: { cpuSeconds: 3600, addressSpaceBytes: null } });
running.catch(() => undefined);
// The sleep is the runner's only child; its pid is in /proc once it runs.
setTimeout(() => console.log('started'), 200);
await running;
