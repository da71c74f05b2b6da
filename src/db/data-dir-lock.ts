/**
 * An exclusive lock file for the embedded database's folder: PGlite is a single-process database,
 * and two processes opening the same folder would corrupt it.
 *
 * Hand-written rather than proper-lockfile because that library decides staleness by mtime, so a
 * restart after `kill -9` would wait for the lock to age out; here the lock names its owner's pid,
 * and a lock whose process is gone is taken over at once.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

interface LockOwner {
  pid: number;
  hostname: string;
  token: string;
}

export interface DataDirLock {
  readonly path: string;
  release(): Promise<void>;
}

export class DataDirLockedError extends Error {
  override readonly name = 'DataDirLockedError';
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readOwner(lockPath: string): Promise<LockOwner | null> {
  try {
    return JSON.parse(await fs.readFile(lockPath, 'utf8')) as LockOwner;
  } catch {
    return null;
  }
}

async function tryCreate(lockPath: string, owner: LockOwner): Promise<boolean> {
  try {
    await fs.writeFile(lockPath, JSON.stringify(owner), { flag: 'wx' });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/** Takes the lock at `lockPath` or throws DataDirLockedError naming the process that holds it. */
export async function acquireDataDirLock(lockPath: string): Promise<DataDirLock> {
  await fs.mkdir(path.dirname(lockPath), { recursive: true });
  const me: LockOwner = { pid: process.pid, hostname: os.hostname(), token: randomUUID() };
  for (let attempt = 0; attempt < 3; attempt += 1) {
    if (await tryCreate(lockPath, me)) {
      // Two processes that both found the same stale lock may both have replaced it; the one
      // whose token is still in the file after a short pause is the owner.
      await sleep(50);
      const owner = await readOwner(lockPath);
      if (owner?.token === me.token) return { path: lockPath, release: () => releaseLock(lockPath, me.token) };
      continue;
    }
    const owner = await readOwner(lockPath);
    if (owner && owner.hostname === me.hostname && isProcessAlive(owner.pid) && owner.pid !== me.pid) {
      throw new DataDirLockedError(
        `the data folder is in use by process ${owner.pid} (lock file ${lockPath}); stop that process or set REELIN_DATA_DIR to another folder`,
      );
    }
    if (owner && owner.hostname !== me.hostname) {
      throw new DataDirLockedError(
        `the data folder is locked by host ${owner.hostname} (lock file ${lockPath}); the embedded database can be opened by one process at a time`,
      );
    }
    await fs.rm(lockPath, { force: true });
  }
  throw new DataDirLockedError(
    `could not take the lock ${lockPath}: another process is starting on the same data folder`,
  );
}

async function releaseLock(lockPath: string, token: string): Promise<void> {
  const owner = await readOwner(lockPath);
  if (owner?.token === token) await fs.rm(lockPath, { force: true });
}
