/**
 * Small helpers for the benchmark's child processes: waiting for an exit, stopping one by its id
 * (politely, then by force), and keeping the tail of its output for error messages.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { Readable } from 'node:stream';

export type ExitStatus = { code: number | null; signal: NodeJS.Signals | null };

/** Resolves when the process has exited (at once if it already has). */
export async function exited(child: ChildProcess): Promise<ExitStatus> {
  if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, signal: child.signalCode };
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  return { code, signal };
}

export function describeExit({ code, signal }: ExitStatus): string {
  return signal === null ? `exit code ${code}` : `signal ${signal}`;
}

/**
 * Sends `signal` and waits up to `graceMs`, then SIGKILLs. With `group` the signal goes to the
 * process group the child leads (spawned `detached`), reaching a wrapper's own children too.
 */
export async function stopChild(
  child: ChildProcess,
  options: { signal?: NodeJS.Signals; graceMs?: number; group?: boolean } = {},
): Promise<ExitStatus> {
  const { signal = 'SIGTERM', graceMs = 20_000, group = false } = options;
  const pid = child.pid;
  if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return exited(child);
  const send = (name: NodeJS.Signals) => {
    try {
      process.kill(group ? -pid : pid, name);
    } catch {
      // Already gone.
    }
  };
  send(signal);
  const timer = setTimeout(() => send('SIGKILL'), graceMs);
  try {
    return await exited(child);
  } finally {
    clearTimeout(timer);
  }
}

/** Keeps the last `maxChars` characters a stream produced. */
export function keepTail(stream: Readable | null, maxChars = 4000): () => string {
  let tail = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (text: string) => {
    tail = (tail + text).slice(-maxChars);
  });
  return () => tail;
}
