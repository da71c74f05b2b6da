/**
 * Slots of the per-team ceiling of running media work, shared by every worker through the
 * database. Times come from the database's clock, so workers whose clocks disagree agree on expiry.
 */
import { and, count, eq, gt, lte, sql } from 'drizzle-orm';
import type { Database } from '../database.js';
import { mediaSlotLeases } from '../schema.js';

/** First key of the two-key advisory lock: a key space of its own (host leases use 730_551). */
const MEDIA_SLOT_LOCK_CLASS = 730_552;

/** Serialises slot changes of `teamId` until the transaction ends, across PostgreSQL sessions. */
export async function lockTeamForMediaSlots(tx: Database, teamId: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(${MEDIA_SLOT_LOCK_CLASS}::int, hashtext(${teamId}))`);
}

/** Live (unexpired) slots of `teamId`. */
export async function countLiveMediaSlots(tx: Database, teamId: string): Promise<number> {
  const [row] = await tx
    .select({ value: count() })
    .from(mediaSlotLeases)
    .where(and(eq(mediaSlotLeases.teamId, teamId), gt(mediaSlotLeases.expiresAt, sql`clock_timestamp()`)));
  return row?.value ?? 0;
}

/** Removes the slots of dead holders of `teamId` (past their expiry). */
export async function deleteExpiredMediaSlots(tx: Database, teamId: string): Promise<void> {
  await tx
    .delete(mediaSlotLeases)
    .where(and(eq(mediaSlotLeases.teamId, teamId), lte(mediaSlotLeases.expiresAt, sql`clock_timestamp()`)));
}

export interface NewMediaSlot {
  teamId: string;
  videoId: string;
  kind: 'ingestion' | 'clip';
  holder: string;
  ttlMs: number;
}

/** Inserts a slot valid for `ttlMs` from now; returns its id. */
export async function insertMediaSlot(tx: Database, slot: NewMediaSlot): Promise<string> {
  const [row] = await tx
    .insert(mediaSlotLeases)
    .values({
      teamId: slot.teamId,
      videoId: slot.videoId,
      kind: slot.kind,
      holder: slot.holder,
      expiresAt: sql`clock_timestamp() + ${slot.ttlMs} * interval '1 millisecond'`,
    })
    .returning({ id: mediaSlotLeases.id });
  if (!row) throw new Error('inserting a media slot returned no row');
  return row.id;
}

/** Extends a live slot to `ttlMs` from now; false when it expired (and may have been taken over). */
export async function renewMediaSlot(db: Database, slotId: string, ttlMs: number): Promise<boolean> {
  const renewed = await db
    .update(mediaSlotLeases)
    .set({ expiresAt: sql`clock_timestamp() + ${ttlMs} * interval '1 millisecond'` })
    .where(and(eq(mediaSlotLeases.id, slotId), gt(mediaSlotLeases.expiresAt, sql`clock_timestamp()`)))
    .returning({ id: mediaSlotLeases.id });
  return renewed.length === 1;
}

export async function deleteMediaSlot(db: Database, slotId: string): Promise<void> {
  await db.delete(mediaSlotLeases).where(eq(mediaSlotLeases.id, slotId));
}
