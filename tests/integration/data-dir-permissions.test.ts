/**
 * The data folder is the service user's alone: created 0700 with 0600 files (umask 077 in the
 * process entry), and a looser folder, of an earlier version or of PGlite's world-writable initial
 * files, is tightened at start with a log line.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tightenDataDir } from '../../src/storage/data-dir-permissions.js';
import { callApi, startChildService, type ChildService } from '../support/child-service.js';
import { startOriginServer, type OriginServer } from '../support/origin-server.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import { until } from '../support/wait.js';

const API_KEY = 'rln_permissions_key_abcdefghijklmnopqrstuvwxyz012';

/**
 * Every entry under `dir` (the folder itself as '.') with its permission bits, symbolic links left
 * out, and entries a running service removed between the listing and the look (its work folders) too.
 */
async function modesUnder(dir: string): Promise<Map<string, number>> {
  const modes = new Map<string, number>([['.', (await fs.stat(dir)).mode & 0o777]]);
  for (const entry of await fs.readdir(dir, { recursive: true, withFileTypes: true })) {
    const full = path.join(entry.parentPath, entry.name);
    const stat = await fs.lstat(full).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return null;
      throw error;
    });
    if (stat !== null && !stat.isSymbolicLink()) modes.set(path.relative(dir, full), stat.mode & 0o777);
  }
  return modes;
}

/** The entries group or others may read, write or enter. */
function looseEntries(modes: Map<string, number>): string[] {
  return [...modes].filter(([, mode]) => (mode & 0o077) !== 0).map(([entry, mode]) => `${entry} ${mode.toString(8)}`);
}

describe('tightenDataDir', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-modes-'));
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('makes folders 0700 and files 0600, leaves tight entries and symbolic links alone, and reports what it changed', async () => {
    const data = path.join(dir, 'data');
    await fs.mkdir(path.join(data, 'db', 'base'), { recursive: true });
    await fs.writeFile(path.join(data, 'db', 'base', 'rel'), 'x');
    await fs.writeFile(path.join(data, 'key'), 'k');
    await fs.writeFile(path.join(data, 'tight'), 't');
    const outside = path.join(dir, 'outside');
    await fs.writeFile(outside, 'o');
    await fs.chmod(outside, 0o644);
    await fs.symlink(outside, path.join(data, 'link'));
    await fs.chmod(path.join(data, 'db', 'base', 'rel'), 0o666);
    await fs.chmod(path.join(data, 'key'), 0o644);
    await fs.chmod(path.join(data, 'tight'), 0o600);
    await fs.chmod(path.join(data, 'db', 'base'), 0o777);
    await fs.chmod(path.join(data, 'db'), 0o755);
    await fs.chmod(data, 0o755);

    const report = await tightenDataDir(data);
    expect({ ...report, examples: [...report.examples].sort() }).toEqual({
      tightened: 5,
      examples: ['.', 'db', 'db/base', 'db/base/rel', 'key'],
      failures: [],
    });
    expect(Object.fromEntries(await modesUnder(data))).toEqual({
      '.': 0o700,
      db: 0o700,
      'db/base': 0o700,
      'db/base/rel': 0o600,
      key: 0o600,
      tight: 0o600,
    });
    expect((await fs.stat(outside)).mode & 0o777).toBe(0o644);
    expect(await tightenDataDir(data)).toEqual({ tightened: 0, examples: [], failures: [] });
  });

  it('goes into a folder that is already 0700 only when asked to (the embedded database), not into every stored file', async () => {
    const data = path.join(dir, 'tight');
    await fs.mkdir(path.join(data, 'db', 'global'), { recursive: true });
    await fs.mkdir(path.join(data, 'storage', 'teams'), { recursive: true });
    await fs.writeFile(path.join(data, 'db', 'global', 'pg_control'), 'x');
    await fs.writeFile(path.join(data, 'storage', 'teams', 'old-file'), 'x');
    await fs.writeFile(path.join(data, 'lock'), 'x');
    for (const folder of ['', 'db', 'db/global', 'storage', 'storage/teams'])
      await fs.chmod(path.join(data, folder), 0o700);
    for (const file of ['db/global/pg_control', 'storage/teams/old-file', 'lock'])
      await fs.chmod(path.join(data, file), 0o666);

    expect(await tightenDataDir(data, { alwaysWalk: ['db'] })).toEqual({
      tightened: 2,
      examples: expect.arrayContaining(['lock', 'db/global/pg_control']),
      failures: [],
    });
    const modes = Object.fromEntries(await modesUnder(data));
    expect([modes.lock, modes['db/global/pg_control']]).toEqual([0o600, 0o600]);
    // Unreachable for others behind its 0700 folders, so left as it is rather than looked at on every start.
    expect(modes['storage/teams/old-file']).toBe(0o666);
    // A loosened folder is tightened with everything in it.
    await fs.chmod(path.join(data, 'storage'), 0o755);
    expect(await tightenDataDir(data, { alwaysWalk: ['db'] })).toEqual({
      tightened: 2,
      examples: ['storage', 'storage/teams/old-file'],
      failures: [],
    });
    expect(looseEntries(await modesUnder(data))).toEqual([]);
  });

  it('does nothing for a folder that does not exist, and refuses a file in its place', async () => {
    expect(await tightenDataDir(path.join(dir, 'missing'))).toEqual({ tightened: 0, examples: [], failures: [] });
    await fs.writeFile(path.join(dir, 'plain-file'), 'x');
    await expect(tightenDataDir(path.join(dir, 'plain-file'))).rejects.toThrow(
      `the data folder ${path.join(dir, 'plain-file')} is not a folder`,
    );
  });
});

describe('the data folder of the real service (reelin serve as a child process)', () => {
  let pki: TestPki;
  let origin: OriginServer;
  let workDir: string;
  let child: ChildService | null = null;

  beforeAll(async () => {
    pki = await createTestPki();
    origin = await startOriginServer({ pki });
    workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-data-modes-'));
  });
  afterAll(async () => {
    await child?.kill('SIGKILL');
    await origin?.close();
    await pki?.cleanup();
    await fs.rm(workDir, { recursive: true, force: true });
  });

  const environment = (dataDir: string) => ({
    REELIN_DATA_DIR: dataDir,
    REELIN_ADMIN_API_KEY: API_KEY,
    REELIN_ALLOW_PRIVATE_NETWORKS: '127.0.0.1/32',
    REELIN_ALLOWED_PORTS: String(origin.port),
    NODE_EXTRA_CA_CERTS: pki.caCertPath,
    REELIN_LOG_LEVEL: 'info',
    REELIN_SHUTDOWN_TIMEOUT_MS: '2000',
  });

  async function tightenedLines(logPath: string): Promise<{ tightened: number; examples: string[] }[]> {
    return (await fs.readFile(logPath, 'utf8'))
      .split('\n')
      .filter((line) => line.includes('"msg":"tightened the data folder'))
      .map((line) => JSON.parse(line) as { tightened: number; examples: string[] });
  }

  it("creates the folder 0700 with 0600 files, PGlite's and a copied file's included, and tightens a loosened one at the next start", async () => {
    const dataDir = path.join(workDir, 'data');
    child = await startChildService('serve', environment(dataDir), workDir);
    const body = randomBytes(30_000);
    origin.setFile('/modes.mov', { body });
    const created = await callApi(child.url ?? '', API_KEY, 'POST', '/api/v1/videos/in/https', {
      name: 'modes',
      url: origin.url('/modes.mov'),
    });
    expect(created.status).toBe(201);
    const statusPath = `/api/v1/videos/${created.body.videoId}/in/status`;
    const serviceUrl = child.url ?? '';
    const status = await until(
      `import ${created.body.videoId} to end`,
      async () => (await callApi(serviceUrl, API_KEY, 'GET', statusPath)).body.upload.uploadState.uploadStatus,
      (found) => found === 'DONE' || found === 'FAILED',
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    expect(status).toBe('DONE');
    const link = await callApi(child.url ?? '', API_KEY, 'POST', `/api/v1/videos/${created.body.videoId}/out/https`);
    expect(
      Buffer.from(await (await request(`${child.url}${link.body.presignedUrl}`)).body.arrayBuffer()).equals(body),
    ).toBe(true);

    const modes = await modesUnder(dataDir);
    expect(modes.get('.')).toBe(0o700);
    expect(modes.get('db')).toBe(0o700);
    expect(modes.get('storage')).toBe(0o700);
    expect(modes.get('webhook-key-encryption.key')).toBe(0o600);
    expect(modes.get('db/PG_VERSION')).toBe(0o600);
    const storedFile = [...modes.keys()].find(
      (entry) => entry.startsWith('storage/teams/') && entry.endsWith('/source'),
    );
    expect(storedFile && modes.get(storedFile)).toBe(0o600);
    expect(modes.size).toBeGreaterThan(900);
    expect(looseEntries(modes)).toEqual([]);
    // PGlite unpacks its initial database world-writable: the first start tightened it and said so.
    const [first] = await tightenedLines(child.logPath);
    expect(first?.tightened).toBeGreaterThan(900);
    expect(first?.examples).toContain('db/PG_VERSION');
    await child.kill('SIGTERM');

    // What an earlier version (or a careless copy) leaves: a world-readable folder.
    await fs.chmod(dataDir, 0o755);
    await fs.chmod(path.join(dataDir, 'storage'), 0o777);
    await fs.chmod(path.join(dataDir, 'webhook-key-encryption.key'), 0o644);
    await fs.chmod(path.join(dataDir, 'db', 'PG_VERSION'), 0o666);
    child = await startChildService('serve', environment(dataDir), workDir);
    const lines = await tightenedLines(child.logPath);
    expect(lines).toHaveLength(1);
    expect(lines[0]?.examples).toEqual(
      expect.arrayContaining(['.', 'storage', 'webhook-key-encryption.key', 'db/PG_VERSION']),
    );
    expect(looseEntries(await modesUnder(dataDir))).toEqual([]);
    await child.kill('SIGTERM');
    child = null;
  });
});
