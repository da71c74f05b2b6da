/**
 * Leases of connections to a source host, shared by every worker through the database. Times come
 * from the database's clock, so workers on machines whose clocks disagree still agree on expiry.
 */
import { and, eq, gt, lte, sql, sum } from 'drizzle-orm';
import type { NewHostLease } from '../../copy/host-leases.js';
import type { Database } from '../database.js';
import { hostLeases } from '../schema.js';

/**
 * First key of the two-key advisory lock: its own key space, apart from the one-key locks
 * (migrations, signing keys), so a host's hash can never collide with them.
 */
const HOST_LEASE_LOCK_CLASS = 730_551;

/**
 * Serialises lease changes for `host` until the transaction ends, across PostgreSQL sessions. On
 * PGlite (one session) the lock is granted at once and the transaction alone serialises.
 */
export async function lockHostForLeases(tx: Database, host: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(${HOST_LEASE_LOCK_CLASS}::int, hashtext(${host}))`);
}

/** Connections held by unexpired leases on `host`. */
export async function sumLiveHostConnections(tx: Database, host: string): Promise<number> {
  const [row] = await tx
    .select({ total: sum(hostLeases.connections).mapWith(Number) })
    .from(hostLeases)
    .where(and(eq(hostLeases.host, host), gt(hostLeases.expiresAt, sql`clock_timestamp()`)));
  return row?.total ?? 0;
}

/** Removes leases of dead holders on `host` (past their expiry). */
export async function deleteExpiredHostLeases(tx: Database, host: string): Promise<number> {
  const deleted = await tx
    .delete(hostLeases)
    .where(and(eq(hostLeases.host, host), lte(hostLeases.expiresAt, sql`clock_timestamp()`)))
    .returning({ id: hostLeases.id });
  return deleted.length;
}

/** Inserts a lease valid for `ttlMs` from now; returns its id. */
export async function insertHostLease(tx: Database, lease: NewHostLease): Promise<string> {
  const [row] = await tx
    .insert(hostLeases)
    .values({
      host: lease.host,
      videoId: lease.videoId,
      holder: lease.holder,
      connections: lease.connections,
      expiresAt: sql`clock_timestamp() + ${lease.ttlMs} * interval '1 millisecond'`,
    })
    .returning({ id: hostLeases.id });
  if (!row) throw new Error('inserting a host lease returned no row');
  return row.id;
}

/**
 * Extends a live lease to `ttlMs` from now, setting its connections too when given (a lease that
 * grew); false when it expired (and may have been removed).
 */
export async function renewHostLease(
  db: Database,
  leaseId: string,
  ttlMs: number,
  connections?: number,
): Promise<boolean> {
  const renewed = await db
    .update(hostLeases)
    .set({
      expiresAt: sql`clock_timestamp() + ${ttlMs} * interval '1 millisecond'`,
      ...(connections === undefined ? {} : { connections }),
    })
    .where(and(eq(hostLeases.id, leaseId), gt(hostLeases.expiresAt, sql`clock_timestamp()`)))
    .returning({ id: hostLeases.id });
  return renewed.length === 1;
}

/** The connections of a live lease, or null when it expired or is gone. */
export async function liveHostLeaseConnections(tx: Database, leaseId: string): Promise<number | null> {
  const [row] = await tx
    .select({ connections: hostLeases.connections })
    .from(hostLeases)
    .where(and(eq(hostLeases.id, leaseId), gt(hostLeases.expiresAt, sql`clock_timestamp()`)));
  return row?.connections ?? null;
}

export async function deleteHostLease(db: Database, leaseId: string): Promise<void> {
  await db.delete(hostLeases).where(eq(hostLeases.id, leaseId));
}
