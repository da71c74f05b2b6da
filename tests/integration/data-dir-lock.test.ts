import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { acquireDataDirLock, DataDirLockedError } from '../../src/db/data-dir-lock.js';

let tempDir: string;
let lockCounter = 0;
const children: ChildProcess[] = [];

beforeAll(async () => {
  tempDir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-lock-'));
});

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }
  }
});

afterAll(async () => {
  await fs.rm(tempDir, { recursive: true, force: true });
});

/** A lock path of its own for each test, in a folder that does not exist yet. */
function newLockPath(): string {
  lockCounter += 1;
  return path.join(tempDir, `data-${lockCounter}`, 'pglite.lock');
}

/** A live node process that writes `lockPath` naming itself, as another reelin process would. */
async function spawnLockHolder(lockPath: string): Promise<number> {
  const script = `
    const fs = require('node:fs');
    const os = require('node:os');
    fs.mkdirSync(require('node:path').dirname(process.argv[1]), { recursive: true });
    fs.writeFileSync(process.argv[1], JSON.stringify({ pid: process.pid, hostname: os.hostname(), token: 'held-by-child' }), { flag: 'wx' });
    process.stdout.write('ready\\n');
    setInterval(() => {}, 60_000);
  `;
  const child = spawn(process.execPath, ['-e', script, lockPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
  expect(chunk.toString()).toBe('ready\n');
  if (child.pid === undefined) throw new Error('the lock holder has no pid');
  return child.pid;
}

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  const [code] = (await once(child, 'exit')) as [number | null];
  expect(code).toBe(0);
  if (child.pid === undefined) throw new Error('the short-lived child has no pid');
  return child.pid;
}

async function readLock(lockPath: string): Promise<{ pid: number; hostname: string; token: string }> {
  return JSON.parse(await fs.readFile(lockPath, 'utf8')) as { pid: number; hostname: string; token: string };
}

async function exists(filePath: string): Promise<boolean> {
  return fs.stat(filePath).then(
    () => true,
    () => false,
  );
}

describe('acquireDataDirLock', () => {
  it('creates the lock file, with its folder, naming this process', async () => {
    const lockPath = newLockPath();
    const lock = await acquireDataDirLock(lockPath);
    expect(lock.path).toBe(lockPath);
    const owner = await readLock(lockPath);
    expect(owner.pid).toBe(process.pid);
    expect(owner.hostname).toBe(os.hostname());
    expect(owner.token).toMatch(/^[0-9a-f-]{36}$/);
    await lock.release();
  });

  it('throws DataDirLockedError naming the pid of a live process that holds the lock', async () => {
    const lockPath = newLockPath();
    const holderPid = await spawnLockHolder(lockPath);
    const before = await fs.readFile(lockPath, 'utf8');

    const acquiring = acquireDataDirLock(lockPath);
    await expect(acquiring).rejects.toBeInstanceOf(DataDirLockedError);
    await expect(acquiring).rejects.toThrow(
      `the data folder is in use by process ${holderPid} (lock file ${lockPath}); stop that process or set REELIN_DATA_DIR to another folder`,
    );
    expect(await fs.readFile(lockPath, 'utf8')).toBe(before);
  });

  it('throws DataDirLockedError for a lock held by another host, whatever its pid', async () => {
    const lockPath = newLockPath();
    await fs.mkdir(path.dirname(lockPath), { recursive: true });
    await fs.writeFile(
      lockPath,
      JSON.stringify({ pid: await deadPid(), hostname: 'another-host.example', token: 'remote' }),
    );

    await expect(acquireDataDirLock(lockPath)).rejects.toThrow(
      new DataDirLockedError(
        `the data folder is locked by host another-host.example (lock file ${lockPath}); the embedded database can be opened by one process at a time`,
      ),
    );
    expect((await readLock(lockPath)).token).toBe('remote');
  });

  it('takes over a lock naming a process that has exited', async () => {
    const lockPath = newLockPath();
    const pid = await deadPid();
    await fs.mkdir(path.dirname(lockPath), { recursive: true });
    await fs.writeFile(lockPath, JSON.stringify({ pid, hostname: os.hostname(), token: 'stale' }));

    const lock = await acquireDataDirLock(lockPath);
    const owner = await readLock(lockPath);
    expect(owner.pid).toBe(process.pid);
    expect(owner.token).not.toBe('stale');
    await lock.release();
  });

  it('takes over a lock file that is not valid JSON (a crash while writing it)', async () => {
    const lockPath = newLockPath();
    await fs.mkdir(path.dirname(lockPath), { recursive: true });
    await fs.writeFile(lockPath, '{"pid": 12');

    const lock = await acquireDataDirLock(lockPath);
    expect((await readLock(lockPath)).pid).toBe(process.pid);
    await lock.release();
  });

  it('removes the lock file on release, so the next acquire succeeds at once', async () => {
    const lockPath = newLockPath();
    const lock = await acquireDataDirLock(lockPath);
    await lock.release();
    expect(await exists(lockPath)).toBe(false);

    const again = await acquireDataDirLock(lockPath);
    expect((await readLock(lockPath)).pid).toBe(process.pid);
    await again.release();
    expect(await exists(lockPath)).toBe(false);
  });

  it('leaves the lock of an owner that took over in place on release', async () => {
    const lockPath = newLockPath();
    const lock = await acquireDataDirLock(lockPath);
    const takeover = JSON.stringify({ pid: process.pid + 1, hostname: os.hostname(), token: 'new-owner' });
    await fs.writeFile(lockPath, takeover);

    await lock.release();
    expect(await fs.readFile(lockPath, 'utf8')).toBe(takeover);
  });

  it('does not fail on release when the lock file is already gone', async () => {
    const lockPath = newLockPath();
    const lock = await acquireDataDirLock(lockPath);
    await fs.rm(lockPath);
    await expect(lock.release()).resolves.toBeUndefined();
    expect(await exists(lockPath)).toBe(false);
  });
});
