/**
 * Ringing the event bell (webhooks/event-bell.ts listens): a NOTIFY in the caller's transaction,
 * so the ring is heard when (and only if) that transaction commits, in every process listening.
 */
import { sql } from 'drizzle-orm';
import type { Database } from '../database.js';

export const EVENTS_CHANNEL = 'reelin_events';

/**
 * What a ring announces: new events (for the dispatcher), new due deliveries (test events, for the
 * scheduler), or deleted videos (for workers running media jobs, jobs/deleted-video-watch.ts).
 */
export type RungBell = 'events' | 'deliveries' | 'videos';

/**
 * Rings the bell from inside `tx`: listeners hear it when `tx` commits, never if it rolls back
 * (PostgreSQL folds equal rings of one transaction into one).
 */
export async function ringEventBell(tx: Database, ring: RungBell): Promise<void> {
  await tx.execute(sql`select pg_notify(${EVENTS_CHANNEL}, ${ring})`);
}
