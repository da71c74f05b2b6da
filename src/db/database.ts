/**
 * Opening the database: PGlite (embedded, one process, locked folder) or PostgreSQL (shared by any
 * number of API and worker processes). Both give the same Drizzle API and run the same migrations.
 */
import fs from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/node-postgres';
import { migrate as migratePostgres } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import type { DatabaseConfig } from '../config/config.js';
import { acquireDataDirLock, type DataDirLock } from './data-dir-lock.js';
import * as schema from './schema.js';

/** The Drizzle database, or a transaction of it: query functions accept either. */
export type Database = PgDatabase<PgQueryResultHKT, typeof schema>;

export type DatabaseConnection =
  | { kind: 'pglite'; db: Database; pglite: PGlite; close(): Promise<void> }
  | { kind: 'postgres'; db: Database; pool: pg.Pool; url: string; close(): Promise<void> };

const migrationsFolder = fileURLToPath(new URL('../../drizzle', import.meta.url));

/** Every migration shipped with this version, from drizzle-kit's journal. */
async function shippedMigrationCount(): Promise<number> {
  const journal = JSON.parse(await fs.readFile(`${migrationsFolder}/meta/_journal.json`, 'utf8')) as {
    entries: unknown[];
  };
  return journal.entries.length;
}

/**
 * Opens the configured database. `onIdleError` hears about pooled PostgreSQL connections that
 * broke while idle (a server restart, a network cut): the pool replaces them, so they are reported,
 * not fatal.
 */
export async function openDatabase(
  config: DatabaseConfig,
  onIdleError: (error: Error) => void = () => undefined,
): Promise<DatabaseConnection> {
  if (config.kind === 'pglite') return openPglite(config.dataDir);
  const pool = new pg.Pool({ connectionString: config.url, max: 20, idleTimeoutMillis: 30_000 });
  pool.on('error', onIdleError);
  try {
    await pool.query('select 1');
  } catch (error) {
    await pool.end();
    throw new Error(`cannot connect to the PostgreSQL database at DATABASE_URL: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const db = drizzlePostgres(pool, { schema }) as unknown as Database;
  return { kind: 'postgres', db, pool, url: config.url, close: () => pool.end() };
}

/** Opens PGlite on `dataDir` (or in memory for `memory://`), holding the folder's lock. */
export async function openPglite(dataDir: string): Promise<DatabaseConnection> {
  let lock: DataDirLock | null = null;
  if (!dataDir.startsWith('memory://')) {
    lock = await acquireDataDirLock(`${dataDir}.lock`);
    await fs.mkdir(dataDir, { recursive: true });
  }
  try {
    // PostgreSQL's default 128 MB of shared buffers costs the embedded build about 650 MB of
    // memory; the embedded database serves one process, and 16 MB keeps it near 150 MB.
    const pglite = await PGlite.create(dataDir, { postgresqlconf: 'shared_buffers = 16MB' });
    const db = drizzlePglite(pglite, { schema }) as unknown as Database;
    return {
      kind: 'pglite',
      db,
      pglite,
      close: async () => {
        await pglite.close();
        await lock?.release();
      },
    };
  } catch (error) {
    await lock?.release();
    throw error;
  }
}

/** Arbitrary constant naming the advisory lock that serialises migrations across processes. */
const MIGRATION_LOCK_KEY = 7_305_512_101;

/** Applies pending migrations; on PostgreSQL under an advisory lock so concurrent starts do not race. */
export async function migrateDatabase(connection: DatabaseConnection): Promise<void> {
  if (connection.kind === 'pglite') {
    await migratePglite(drizzlePglite(connection.pglite), { migrationsFolder });
    return;
  }
  const client = await connection.pool.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await migratePostgres(drizzlePostgres(client), { migrationsFolder });
    } finally {
      await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    client.release();
  }
}

/** Throws one clear sentence when the database lacks migrations this version needs. */
export async function assertMigrated(connection: DatabaseConnection): Promise<void> {
  const expected = await shippedMigrationCount();
  let applied = 0;
  try {
    const result = (await connection.db.execute(
      sql`select count(*)::int as count from drizzle.__drizzle_migrations`,
    )) as unknown as { rows: { count: number }[] };
    applied = Number(result.rows[0]?.count ?? 0);
  } catch {
    applied = 0;
  }
  if (applied < expected) {
    throw new Error(
      `the database has ${applied} of this version's ${expected} migrations applied: run \`reelin migrate\` first`,
    );
  }
}

/** A cheap round trip, for readiness checks. */
export async function pingDatabase(db: Database): Promise<void> {
  await db.execute(sql`select 1`);
}
