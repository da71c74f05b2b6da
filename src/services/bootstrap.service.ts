/**
 * First-start set-up: an admin user with a default team, a default project and one API key. The
 * key is printed once (only its hash is stored); REELIN_ADMIN_API_KEY supplies it instead, for
 * automation, and is registered (or re-activated) on every start so the automation's key always works.
 */
import type { Database } from '../db/database.js';
import {
  activateApiKeyByHash,
  countUsers,
  findFirstUserId,
  findUserByEmail,
  insertAccount,
  insertApiKey,
} from '../db/queries/tenancy.queries.js';
import { generateApiKey, hashApiKey } from './tenancy.service.js';

export interface BootstrapResult {
  /** The new key, when one was generated now: show it to the operator once. */
  generatedApiKey: string | null;
}

/** PostgreSQL's unique_violation: another process made the same first-start insert first. */
function isUniqueViolation(error: unknown): boolean {
  for (let current: unknown = error; current instanceof Error; current = current.cause) {
    if ((current as { code?: unknown }).code === '23505') return true;
  }
  return false;
}

export async function bootstrapAdmin(
  db: Database,
  admin: { email: string; apiKey: string | null },
): Promise<BootstrapResult> {
  try {
    return await bootstrapOnce(db, admin);
  } catch (error) {
    // Several API processes starting together on a new database: the losers see the winner's rows.
    if (!isUniqueViolation(error)) throw error;
    return bootstrapOnce(db, admin);
  }
}

async function bootstrapOnce(db: Database, admin: { email: string; apiKey: string | null }): Promise<BootstrapResult> {
  return db.transaction(async (tx) => {
    const isFirstStart = (await countUsers(tx)) === 0;
    // The configured admin, else (the e-mail setting changed) the first user, else a new account.
    let userId = (await findUserByEmail(tx, admin.email))?.id ?? (await findFirstUserId(tx));
    if (userId === null) {
      userId = (
        await insertAccount(tx, {
          email: admin.email,
          userName: 'Admin',
          teamName: 'Default team',
          projectName: 'Default project',
        })
      ).userId;
    }
    if (admin.apiKey !== null) {
      const keyHash = hashApiKey(admin.apiKey);
      if (!(await activateApiKeyByHash(tx, keyHash))) {
        await insertApiKey(tx, {
          userId,
          name: 'REELIN_ADMIN_API_KEY',
          description: 'registered from the environment at start',
          keyHash,
          keyHint: admin.apiKey.slice(-3),
        });
      }
      return { generatedApiKey: null };
    }
    if (!isFirstStart) return { generatedApiKey: null };
    const apiKey = generateApiKey();
    await insertApiKey(tx, {
      userId,
      name: 'admin',
      description: 'created at first start',
      keyHash: hashApiKey(apiKey),
      keyHint: apiKey.slice(-3),
    });
    return { generatedApiKey: apiKey };
  });
}
