import { and, desc, eq, gt, isNull, lt, or, sql } from 'drizzle-orm';
import type { Database } from '../database.js';
import { webhookSigningKeys } from '../schema.js';

export type SigningKeyRow = typeof webhookSigningKeys.$inferSelect;

/** Arbitrary constant naming the advisory lock that serialises key creation and rotation. */
const SIGNING_KEY_LOCK = 7_305_512_404;

/** Takes the transaction-scoped lock under which keys are created or rotated. */
export async function lockSigningKeys(tx: Database): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(${SIGNING_KEY_LOCK})`);
}

/** The key new deliveries are signed with: the newest one without an expiry. */
export async function findActiveSigningKey(db: Database): Promise<SigningKeyRow | null> {
  const [row] = await db
    .select()
    .from(webhookSigningKeys)
    .where(isNull(webhookSigningKeys.expiresAt))
    .orderBy(desc(webhookSigningKeys.createdAt))
    .limit(1);
  return row ?? null;
}

export async function insertSigningKey(
  tx: Database,
  key: { publicKey: string; encryptedPrivateKey: string; encryptionKeyId: string },
): Promise<SigningKeyRow> {
  const [row] = await tx.insert(webhookSigningKeys).values(key).returning();
  if (!row) throw new Error('insert into webhook_signing_keys returned no row');
  return row;
}

/** Gives every active key an expiry (the start of a rotation). */
export async function expireActiveSigningKeys(tx: Database, expiresAt: Date): Promise<void> {
  await tx
    .update(webhookSigningKeys)
    .set({ expiresAt, updatedAt: sql`now()` })
    .where(isNull(webhookSigningKeys.expiresAt));
}

/** Keys receivers may still meet: the active one and those not yet expired, newest first. */
export async function listValidSigningKeys(db: Database, now: Date): Promise<SigningKeyRow[]> {
  return db
    .select()
    .from(webhookSigningKeys)
    .where(or(isNull(webhookSigningKeys.expiresAt), gt(webhookSigningKeys.expiresAt, now)))
    .orderBy(desc(webhookSigningKeys.createdAt));
}

export async function findValidSigningKey(db: Database, id: string, now: Date): Promise<SigningKeyRow | null> {
  const [row] = await db
    .select()
    .from(webhookSigningKeys)
    .where(
      and(
        eq(webhookSigningKeys.id, id),
        or(isNull(webhookSigningKeys.expiresAt), gt(webhookSigningKeys.expiresAt, now)),
      ),
    )
    .limit(1);
  return row ?? null;
}

/** Removes keys that expired before `before`; no delivery is signed with them any more. */
export async function deleteExpiredSigningKeys(db: Database, before: Date): Promise<void> {
  await db.delete(webhookSigningKeys).where(lt(webhookSigningKeys.expiresAt, before));
}
