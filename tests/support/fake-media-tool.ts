/**
 * Stand-ins for ffmpeg and ffprobe, for the tests of the media path's limits, kill and per-team
 * ceiling: a shell script set as REELIN_FFMPEG_PATH or REELIN_FFPROBE_PATH that answers the
 * start-up questions (`-version`, `-filters`, `-encoders`) with the real binary's answers, records
 * every other run (its pid, which leads its process group, its child's pid and its arguments), and
 * then either hangs ignoring SIGTERM (`hang`: a run only SIGKILL ends) or waits for a gate file and
 * then becomes the real binary (`gate`).
 *
 * Also a runner that records every command the service runs, around the real, confined one.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { findConfinement } from '../../src/media/ffmpeg-tools.js';
import {
  ChildProcessRunner,
  type ProcessRunner,
  type RunOptions,
  type RunResult,
} from '../../src/media/process-runner.js';

const execFileAsync = promisify(execFile);

export interface FakeRun {
  pid: number;
  /** The pid of the `sleep` it started (hang mode), a second process of its group. */
  childPid: number | null;
  args: string;
}

export interface FakeTool {
  /** The script, to set as REELIN_FFMPEG_PATH / REELIN_FFPROBE_PATH. */
  path: string;
  /** The runs so far, in the order they started. */
  runs(): Promise<FakeRun[]>;
  /** Lets every waiting and every later run of a `gate` tool go on as the real binary. */
  openGate(): Promise<void>;
}

/** The real binary's absolute path, from PATH. */
export async function realBinary(name: 'ffmpeg' | 'ffprobe'): Promise<string> {
  const { stdout } = await execFileAsync('sh', ['-c', `command -v ${name}`]);
  return stdout.trim();
}

export async function writeFakeTool(options: {
  dir: string;
  name: 'ffmpeg' | 'ffprobe';
  behaviour: 'hang' | 'gate';
}): Promise<FakeTool> {
  const real = await realBinary(options.name);
  const runsDir = path.join(options.dir, `${options.name}-runs`);
  const gate = path.join(options.dir, `${options.name}-gate`);
  await fs.mkdir(runsDir, { recursive: true });
  const script = path.join(options.dir, options.name);
  const work =
    options.behaviour === 'hang'
      ? // SIGTERM ignored here and, inherited, in the sleep: only SIGKILL of the group ends them.
        [`trap '' TERM`, 'sleep 100000 &', `echo $! > "${runsDir}/$$.child"`, 'wait', 'wait']
      : [`while [ ! -e "${gate}" ]; do sleep 0.05; done`, `exec "${real}" "$@"`];
  await fs.writeFile(
    script,
    [
      '#!/bin/sh',
      // Start-up's questions get the real answers.
      `if [ "$#" -eq 2 ] && [ "$1" = "-hide_banner" ]; then case "$2" in -version|-filters|-encoders) exec "${real}" "$@";; esac; fi`,
      `printf '%s\\n' "$*" > "${runsDir}/$$.args"`,
      ...work,
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  return {
    path: script,
    runs: async () => {
      const names = (await fs.readdir(runsDir)).filter((name) => name.endsWith('.args'));
      const runs = await Promise.all(
        names.map(async (name) => {
          const pid = Number(name.slice(0, -'.args'.length));
          const [args, child, stat] = await Promise.all([
            fs.readFile(path.join(runsDir, name), 'utf8'),
            fs.readFile(path.join(runsDir, `${pid}.child`), 'utf8').catch(() => null),
            fs.stat(path.join(runsDir, name)),
          ]);
          return {
            pid,
            childPid: child === null ? null : Number(child.trim()),
            args: args.trim(),
            startedMs: stat.mtimeMs,
          };
        }),
      );
      return runs.sort((a, b) => a.startedMs - b.startedMs).map(({ startedMs: _startedMs, ...run }) => run);
    },
    openGate: () => fs.writeFile(gate, ''),
  };
}

/** Whether a process runs (exists and is not a zombie waiting to be reaped). */
export async function isRunning(pid: number): Promise<boolean> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  return stat !== null && !/^\d+ \(.*\) [ZX] /.test(stat);
}

export interface RecordedCommand {
  binary: string;
  args: readonly string[];
}

/** The service's own confined runner, recording every command it is asked to run. */
export class RecordingRunner implements ProcessRunner {
  readonly commands: RecordedCommand[] = [];

  private constructor(private readonly inner: ChildProcessRunner) {}

  static async create(): Promise<RecordingRunner> {
    return new RecordingRunner(new ChildProcessRunner(await findConfinement(process.env.PATH ?? '')));
  }

  run(binary: string, args: readonly string[], options?: RunOptions): Promise<RunResult> {
    this.commands.push({ binary, args });
    return this.inner.run(binary, args, options);
  }

  /** The commands whose arguments mention `text` (a video's id is in its stored file's path or key). */
  commandsAbout(text: string): RecordedCommand[] {
    return this.commands.filter((command) => command.args.some((arg) => arg.includes(text)));
  }

  killAll(): void {
    this.inner.killAll();
  }
}
