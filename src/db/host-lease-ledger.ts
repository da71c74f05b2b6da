/**
 * The database side of the source host leases (copy/host-leases.ts): the ledger the copy takes its
 * connections from, over the lease queries, with the host's advisory lock held for the length of a
 * transaction.
 */
import type { HostLeaseEntries, HostLeaseLedger } from '../copy/host-leases.js';
import type { Database } from './database.js';
import {
  deleteExpiredHostLeases,
  deleteHostLease,
  insertHostLease,
  liveHostLeaseConnections,
  lockHostForLeases,
  renewHostLease,
  sumLiveHostConnections,
} from './queries/host-leases.queries.js';

function entriesOf(db: Database): HostLeaseEntries {
  return {
    sumLiveConnections: (host) => sumLiveHostConnections(db, host),
    deleteExpired: (host) => deleteExpiredHostLeases(db, host),
    insert: (lease) => insertHostLease(db, lease),
    renew: (leaseId, ttlMs, connections) => renewHostLease(db, leaseId, ttlMs, connections),
    liveConnections: (leaseId) => liveHostLeaseConnections(db, leaseId),
    delete: (leaseId) => deleteHostLease(db, leaseId),
  };
}

export function databaseHostLeaseLedger(db: Database): HostLeaseLedger {
  return {
    ...entriesOf(db),
    underHostLock: (host, work) =>
      db.transaction(async (tx) => {
        await lockHostForLeases(tx, host);
        return work(entriesOf(tx));
      }),
  };
}
