import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DataDirLockedError } from '../../src/db/data-dir-lock.js';
import {
  assertMigrated,
  migrateDatabase,
  openDatabase,
  openPglite,
  type DatabaseConnection,
} from '../../src/db/database.js';
import { getOrCreateSecret } from '../../src/db/queries/secrets.queries.js';
import { backends, createTestDatabase, type Backend, type TestDatabase } from '../support/test-database.js';

let tempDir: string;
let folderCounter = 0;
let shippedMigrations: number;

beforeAll(async () => {
  tempDir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-database-'));
  const journal = JSON.parse(
    await fs.readFile(new URL('../../drizzle/meta/_journal.json', import.meta.url), 'utf8'),
  ) as { entries: unknown[] };
  shippedMigrations = journal.entries.length;
});

afterAll(async () => {
  await fs.rm(tempDir, { recursive: true, force: true });
});

function newFolder(): string {
  folderCounter += 1;
  return path.join(tempDir, `db-${folderCounter}`);
}

async function appliedMigrations(connection: DatabaseConnection): Promise<number> {
  const result = (await connection.db.execute(
    sql`select count(*)::int as count from drizzle.__drizzle_migrations`,
  )) as unknown as { rows: { count: number }[] };
  return Number(result.rows[0]?.count);
}

describe.each(backends)('database on %s', (backend: Backend) => {
  const databases: TestDatabase[] = [];
  const connections: DatabaseConnection[] = [];

  afterEach(async () => {
    for (const connection of connections.splice(0)) await connection.close();
    for (const database of databases.splice(0)) await database.drop();
  });

  async function freshDatabase(): Promise<TestDatabase> {
    const database = await createTestDatabase(backend, newFolder());
    databases.push(database);
    return database;
  }

  async function connect(database: TestDatabase): Promise<DatabaseConnection> {
    const connection = await openDatabase(database.config);
    connections.push(connection);
    return connection;
  }

  it('migrates a fresh database, after which assertMigrated passes', async () => {
    const connection = await connect(await freshDatabase());
    expect(connection.kind).toBe(backend);
    await migrateDatabase(connection);
    await expect(assertMigrated(connection)).resolves.toBeUndefined();
    expect(await appliedMigrations(connection)).toBe(shippedMigrations);
  });

  it('tells the user to run `reelin migrate` when the database is not migrated', async () => {
    const connection = await connect(await freshDatabase());
    await expect(assertMigrated(connection)).rejects.toThrow(
      `the database has 0 of this version's ${shippedMigrations} migrations applied: run \`reelin migrate\` first`,
    );
  });

  it('migrates a second time as a no-op that keeps the data', async () => {
    const connection = await connect(await freshDatabase());
    await migrateDatabase(connection);
    const secret = await getOrCreateSecret(connection.db, 'test-secret', () => 'kept');
    await migrateDatabase(connection);
    expect(await appliedMigrations(connection)).toBe(shippedMigrations);
    expect(await getOrCreateSecret(connection.db, 'test-secret', () => 'replaced')).toBe(secret);
    expect(secret).toBe('kept');
    await expect(assertMigrated(connection)).resolves.toBeUndefined();
  });

  it.runIf(backend === 'postgres')(
    'runs two concurrent migrations on two connections, both succeeding once',
    async () => {
      const database = await freshDatabase();
      const [first, second] = [await connect(database), await connect(database)];
      await expect(Promise.all([migrateDatabase(first), migrateDatabase(second)])).resolves.toEqual([
        undefined,
        undefined,
      ]);
      expect(await appliedMigrations(first)).toBe(shippedMigrations);
      await expect(assertMigrated(first)).resolves.toBeUndefined();
      await expect(assertMigrated(second)).resolves.toBeUndefined();
    },
  );
});

describe('openPglite', () => {
  let holder: ChildProcess | undefined;

  afterEach(async () => {
    if (holder && holder.exitCode === null && holder.signalCode === null) {
      const exited = once(holder, 'exit');
      holder.kill('SIGKILL');
      await exited;
    }
    holder = undefined;
  });

  it('refuses a folder whose lock a live process holds, without touching the folder', async () => {
    const dataDir = newFolder();
    const lockPath = `${dataDir}.lock`;
    holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 60_000)'], { stdio: 'ignore' });
    await once(holder, 'spawn');
    const pid = holder.pid;
    await fs.writeFile(lockPath, JSON.stringify({ pid, hostname: os.hostname(), token: 'live-holder' }));

    const opening = openPglite(dataDir);
    await expect(opening).rejects.toBeInstanceOf(DataDirLockedError);
    await expect(opening).rejects.toThrow(`the data folder is in use by process ${pid}`);
    expect(JSON.parse(await fs.readFile(lockPath, 'utf8'))).toEqual({
      pid,
      hostname: os.hostname(),
      token: 'live-holder',
    });
    await expect(fs.stat(dataDir)).rejects.toThrow(/ENOENT/);
  });

  it('holds the folder lock while open and releases it on close', async () => {
    const dataDir = newFolder();
    const connection = await openPglite(dataDir);
    try {
      expect(JSON.parse(await fs.readFile(`${dataDir}.lock`, 'utf8'))).toMatchObject({
        pid: process.pid,
        hostname: os.hostname(),
      });
    } finally {
      await connection.close();
    }
    await expect(fs.stat(`${dataDir}.lock`)).rejects.toThrow(/ENOENT/);
  });
});
