/**
 * TenancyService.authenticate remembers the owners of valid API keys for API_KEY_CACHE_TTL_MS (the
 * lookup was a database round trip of every request): within that time a key answers without the
 * database, after it the database decides again; unknown keys are never remembered.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateDatabase, openDatabase, type DatabaseConnection } from '../../src/db/database.js';
import { findActiveApiKeyOwner, insertApiKey } from '../../src/db/queries/tenancy.queries.js';
import { apiKeys, teams } from '../../src/db/schema.js';
import { bootstrapAdmin } from '../../src/services/bootstrap.service.js';
import {
  API_KEY_CACHE_TTL_MS,
  TenancyService,
  generateApiKey,
  hashApiKey,
} from '../../src/services/tenancy.service.js';
import { backends, createTestDatabase, type Backend } from '../support/test-database.js';

const ADMIN_KEY = 'rln_cache_test_key_0123456789abcdefghijklmnopqrstuvwx';

let tempDir: string;

beforeAll(async () => {
  tempDir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-key-cache-'));
});

afterAll(async () => {
  await fs.rm(tempDir, { recursive: true, force: true });
});

describe.each(backends)('API key cache on %s', (backend: Backend) => {
  let connection: DatabaseConnection;
  let drop: () => Promise<void>;
  let userId: string;

  beforeAll(async () => {
    const database = await createTestDatabase(backend, path.join(tempDir, backend));
    drop = database.drop;
    connection = await openDatabase(database.config);
    await migrateDatabase(connection);
    await bootstrapAdmin(connection.db, { email: 'admin@example.com', apiKey: ADMIN_KEY });
    userId = (await findActiveApiKeyOwner(connection.db, hashApiKey(ADMIN_KEY)))!.userId;
  });

  afterAll(async () => {
    await connection?.close();
    await drop?.();
  });

  async function newKey(): Promise<{ key: string; id: string }> {
    const key = generateApiKey();
    const id = await insertApiKey(connection.db, {
      userId,
      name: 'cache test',
      description: null,
      keyHash: hashApiKey(key),
      keyHint: key.slice(-3),
    });
    return { key, id };
  }

  async function setActive(id: string, active: boolean): Promise<void> {
    await connection.db.update(apiKeys).set({ active }).where(eq(apiKeys.id, id));
  }

  async function outcome(tenancy: TenancyService, key: string): Promise<string> {
    try {
      const principal = await tenancy.authenticate(key);
      return `${principal.userId}/${principal.apiKeyId}`;
    } catch (error) {
      return (error as { code?: string }).code ?? String(error);
    }
  }

  it('answers a remembered key without the database until the time is up, then asks it again', async () => {
    let now = 1_000_000;
    const tenancy = new TenancyService(connection.db, () => now);
    const { key, id } = await newKey();
    expect(await outcome(tenancy, key)).toBe(`${userId}/${id}`);
    await setActive(id, false);
    now += API_KEY_CACHE_TTL_MS;
    expect(await outcome(tenancy, key)).toBe(`${userId}/${id}`);
    now += 1;
    expect(await outcome(tenancy, key)).toBe('INVALID_API_KEY');
    await setActive(id, true);
    expect(await outcome(tenancy, key)).toBe(`${userId}/${id}`);
  });

  it('remembers the key by its trimmed value, as it is looked up', async () => {
    let now = 0;
    const tenancy = new TenancyService(connection.db, () => now);
    const { key, id } = await newKey();
    expect(await outcome(tenancy, `  ${key} `)).toBe(`${userId}/${id}`);
    await setActive(id, false);
    now += 10;
    expect(await outcome(tenancy, key)).toBe(`${userId}/${id}`);
  });

  it('never remembers an unknown or inactive key: it works as soon as it is created or activated', async () => {
    const tenancy = new TenancyService(connection.db, () => 0);
    const key = generateApiKey();
    expect(await outcome(tenancy, key)).toBe('INVALID_API_KEY');
    const id = await insertApiKey(connection.db, {
      userId,
      name: 'created after a miss',
      description: null,
      keyHash: hashApiKey(key),
      keyHint: key.slice(-3),
    });
    expect(await outcome(tenancy, key)).toBe(`${userId}/${id}`);
    const inactive = await newKey();
    await setActive(inactive.id, false);
    expect(await outcome(tenancy, inactive.key)).toBe('INVALID_API_KEY');
    await setActive(inactive.id, true);
    expect(await outcome(tenancy, inactive.key)).toBe(`${userId}/${inactive.id}`);
  });

  it('refuses a missing key before any lookup', async () => {
    const tenancy = new TenancyService(connection.db);
    expect([await outcome(tenancy, ''), await outcome(tenancy, '   ')]).toEqual(['MISSING_API_KEY', 'MISSING_API_KEY']);
  });

  it("remembers a caller's teams for an operation by id until the time is up, and forgets them when a team's settings change", async () => {
    let now = 1_000_000;
    const tenancy = new TenancyService(connection.db, () => now);
    const principal = { userId, apiKeyId: 'unused' };
    const [team] = (await tenancy.resolveScope(principal, undefined)).teams;
    expect(team?.apiEnabled).toBe(true);
    const apiEnabled = async () =>
      (await tenancy.resolveScope(principal, undefined)).teams.map((row) => row.apiEnabled);
    try {
      await connection.db.update(teams).set({ apiEnabled: false }).where(eq(teams.id, team!.id));
      now += API_KEY_CACHE_TTL_MS;
      expect(await apiEnabled()).toEqual([true]);
      now += 1;
      expect(await apiEnabled()).toEqual([false]);

      await connection.db.update(teams).set({ apiEnabled: true }).where(eq(teams.id, team!.id));
      expect(await apiEnabled()).toEqual([false]);
      await tenancy.updateSettings(team!, { freeClipEnabled: team!.freeClipEnabled });
      expect(await apiEnabled()).toEqual([true]);
    } finally {
      await connection.db.update(teams).set({ apiEnabled: true }).where(eq(teams.id, team!.id));
    }
  });
});
