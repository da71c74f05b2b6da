/**
 * Failed queries on the real databases, logged by the service's logger: the log keeps the SQL but
 * never the values it carried (a webhook's secret, a date, a key hash), whichever database failed.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateDatabase, openDatabase, type DatabaseConnection } from '../../src/db/database.js';
import { listDeliveryViews } from '../../src/db/queries/webhook-deliveries.queries.js';
import { insertWebhook } from '../../src/db/queries/webhooks.queries.js';
import { insertAccount, insertApiKey } from '../../src/db/queries/tenancy.queries.js';
import { createLogger } from '../../src/logging.js';
import { backends, createTestDatabase, type Backend, type TestDatabase } from '../support/test-database.js';

const SECRET = 'whsec_QJ8m3yQ2n7c0k5LrX1pZ4a9sT6vB2wE8dF0gH3jK5lM=';
const KEY_HASH = 'c0ffee'.repeat(10) + 'beef';

describe.each(backends)('logging failed queries on %s', (backend: Backend) => {
  let dir: string;
  let database: TestDatabase;
  let connection: DatabaseConnection;
  let teamId: string;
  let userId: string;
  const lines: string[] = [];
  const log = createLogger({
    level: 'info',
    role: 'serve',
    destination: { write: (line: string) => void lines.push(line) },
  });

  async function logFailure(run: () => Promise<unknown>): Promise<Record<string, any>> {
    const error = await run().then(
      () => null,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(Error);
    lines.length = 0;
    log.error({ err: error }, 'unexpected error');
    expect(lines).toHaveLength(1);
    return JSON.parse(lines[0] ?? '{}') as Record<string, any>;
  }

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-log-scrub-'));
    database = await createTestDatabase(backend, path.join(dir, 'db'));
    connection = await openDatabase(database.config);
    await migrateDatabase(connection);
    ({ teamId, userId } = await insertAccount(connection.db, {
      email: 'log@example.com',
      userName: 'Log',
      teamName: 'Log team',
      projectName: 'Default',
    }));
  });
  afterAll(async () => {
    await connection?.close();
    await database?.drop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('logs an INSERT refused for a NUL character without its parameters (the webhook secret among them)', async () => {
    const entry = await logFailure(() =>
      insertWebhook(connection.db, {
        teamId,
        name: 'a\u0000b',
        url: 'https://hooks.example.com/x',
        rateLimitPerSecond: 10,
        maxTotalRetryDelayMinutes: 180,
        eventTypes: ['video_in.done'],
        active: true,
        sealedSecret: SECRET,
      }),
    );
    const text = JSON.stringify(entry);
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(teamId);
    expect(text).not.toContain('"params"');
    expect(entry.err.type).toBe('DrizzleQueryError');
    expect(entry.err.message).toMatch(
      /^Failed query: insert into "webhooks" \(.*\) values \(default, \$1, \$2, .* returning .*: invalid byte sequence for encoding "\[redacted\]": 0x00$/,
    );
    expect(entry.err.query).toMatch(/^insert into "webhooks"/);
  });

  it('logs a date the database cannot store without the date', async () => {
    const entry = await logFailure(() =>
      listDeliveryViews(
        connection.db,
        {
          teamId,
          webhookId: undefined,
          successfulMode: 'INCLUDE',
          testMode: 'INCLUDE',
          occurredAtFrom: new Date('0000-01-01T00:00:00Z'),
          occurredAtUntil: undefined,
        },
        { pageNumber: 0, pageSize: 10, sortBy: 'createdAt', sortDirection: 'ASC' },
      ),
    );
    const text = JSON.stringify(entry);
    expect(text).not.toContain('0000-01-01');
    expect(text).not.toContain(teamId);
    expect(entry.err.message).toMatch(
      /^Failed query: select .* from "webhook_deliveries" .*: date\/time field value out of range: "\[redacted\]"$/,
    );
  });

  it('logs a unique violation without the duplicated value PostgreSQL quotes in its detail', async () => {
    await insertApiKey(connection.db, { userId, name: 'first', description: null, keyHash: KEY_HASH, keyHint: 'eef' });
    const entry = await logFailure(() =>
      insertApiKey(connection.db, { userId, name: 'second', description: null, keyHash: KEY_HASH, keyHint: 'eef' }),
    );
    const text = JSON.stringify(entry);
    expect(text).not.toContain(KEY_HASH);
    expect(text).not.toContain('detail');
    expect(entry.err.message).toMatch(
      /^Failed query: insert into "api_keys" .*: duplicate key value violates unique constraint "\[redacted\]"$/,
    );
  });
});
