/**
 * The service's key-encryption key: every secret kept at rest is sealed under it (domain/secret-box.ts),
 * the webhook signing keys and secrets, the S3 key pairs of imports and the download-link key
 * (secrets-at-rest.ts). The webhook worker and the S3 copy take it from here, through app.ts.
 *
 * Where it comes from when the operator did not set REELIN_WEBHOOK_KEY_ENCRYPTION_KEY:
 * - embedded database: a random key in a file of the data folder (mode 0600), outside the database
 *   folder, so a copy of the database alone does not reveal the signing keys;
 * - PostgreSQL: a random key in `server_secrets`, shared by every process. That protects nothing
 *   against someone who can read the database, so it comes with a warning to set the variable.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Database } from '../db/database.js';
import { getOrCreateSecret } from '../db/queries/secrets.queries.js';

export const KEY_FILE_NAME = 'webhook-key-encryption.key';

export interface ResolvedKeyEncryptionKey {
  kek: Buffer;
  /** A sentence to log as a warning, or null when the key was configured. */
  warning: string | null;
}

export async function resolveKeyEncryptionKey(options: {
  configured: Buffer | null;
  databaseKind: 'pglite' | 'postgres';
  dataDir: string;
  db: Database;
}): Promise<ResolvedKeyEncryptionKey> {
  if (options.configured !== null) return { kek: options.configured, warning: null };
  if (options.databaseKind === 'postgres') {
    const value = await getOrCreateSecret(options.db, 'webhook-key-encryption-key', () =>
      randomBytes(32).toString('base64'),
    );
    return {
      kek: Buffer.from(value, 'base64'),
      warning:
        'REELIN_WEBHOOK_KEY_ENCRYPTION_KEY is not set: the webhook signing keys are encrypted under a key kept in the same database; set it (openssl rand -base64 32) so a database leak does not reveal them',
    };
  }
  const file = path.join(options.dataDir, KEY_FILE_NAME);
  await fs.mkdir(options.dataDir, { recursive: true });
  try {
    await fs.writeFile(file, `${randomBytes(32).toString('base64')}\n`, { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const kek = Buffer.from((await fs.readFile(file, 'utf8')).trim(), 'base64');
  if (kek.length !== 32)
    throw new Error(
      `${file} does not hold a 32-byte base64 key: restore it from a backup or set REELIN_WEBHOOK_KEY_ENCRYPTION_KEY`,
    );
  return {
    kek,
    warning: `REELIN_WEBHOOK_KEY_ENCRYPTION_KEY is not set: the webhook signing keys are encrypted under the key in ${KEY_FILE_NAME} in the data folder; back it up with the data folder`,
  };
}
