/**
 * Databases for tests: PGlite always, and PostgreSQL when TEST_DATABASE_URL is set, each test file
 * getting a fresh database of its own (dropped afterwards).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { DatabaseConfig } from '../../src/config/config.js';

export type Backend = 'pglite' | 'postgres';

const postgresUrl = process.env.TEST_DATABASE_URL;

/** The backends database tests run on here. */
export const backends: Backend[] = postgresUrl ? ['pglite', 'postgres'] : ['pglite'];

export interface TestDatabase {
  config: DatabaseConfig;
  drop(): Promise<void>;
}

export interface PostgresTestDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A fresh, empty database. PGlite databases live in `dataDir` (the caller removes it). */
export async function createTestDatabase(backend: Backend, dataDir: string): Promise<TestDatabase> {
  if (backend === 'pglite') return { config: { kind: 'pglite', dataDir }, drop: async () => undefined };
  const { url, drop } = await createPostgresTestDatabase();
  return { config: { kind: 'postgres', url }, drop };
}

/** A fresh, empty database on the TEST_DATABASE_URL server (tests whose processes share one PostgreSQL). */
export async function createPostgresTestDatabase(): Promise<PostgresTestDatabase> {
  if (!postgresUrl) throw new Error('TEST_DATABASE_URL is not set');
  const name = `reelin_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: postgresUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(postgresUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: postgresUrl });
      await client.connect();
      try {
        await client.query(`drop database if exists ${name} with (force)`);
      } finally {
        await client.end();
      }
    },
  };
}
