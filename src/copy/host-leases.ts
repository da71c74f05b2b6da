/**
 * The per-source-host connection ceiling, shared by every worker process. A copy takes a lease of
 * connections on its source's `host:port` before it opens its pool: as many as it asked for, or
 * what the ceiling leaves free after the live leases of other copies, or, when nothing is free,
 * it waits (polling with backoff, abortable) until something is. The grant is decided under a
 * per-host lock in one transaction, so concurrent copies on any number of workers never hand out
 * more than the ceiling together.
 *
 * A lease lives in the database with an expiry the holder renews while it copies; a holder that
 * dies (SIGKILL, lost machine) stops renewing and its connections free themselves when the lease
 * expires, well within the time the queue takes to hand its job to another worker.
 *
 * A copy granted fewer connections than it asked for grows its lease at each renewal, under the
 * same lock, by what others have freed since (never past the ceiling, never past what it asked
 * for), and its copy opens a request lane for each added connection. Growth takes only free
 * connections, never a share of another copy's; a copy still waiting for its first connection
 * competes for freed ones on equal terms.
 */
import type { Logger } from 'pino';
import { backoffDelayMs, type BackoffPolicy } from '../domain/retry.js';

/** How often a holder renews its lease. */
export const HOST_LEASE_RENEW_INTERVAL_MS = 5_000;
/** A lease not renewed for this long belongs to a dead holder: three missed renewals. */
export const HOST_LEASE_TTL_MS = 3 * HOST_LEASE_RENEW_INTERVAL_MS;

/**
 * Connections a copy may open: what it wants, capped by what the ceiling leaves after the
 * connections others hold; 0 means wait. A ceiling of 0 means no ceiling.
 */
export function grantableConnections(wanted: number, ceiling: number, heldByOthers: number): number {
  if (ceiling === 0) return wanted;
  return Math.max(0, Math.min(wanted, ceiling - heldByOthers));
}

/** The delay before the `attempt`-th (from 0) look for free connections: doubling, capped, jittered down by up to half. */
export function leaseWaitDelayMs(attempt: number, options: BackoffPolicy, random: () => number): number {
  // The copy's own equal-jitter backoff, counted from 0 here and with the jitter taken downwards.
  return backoffDelayMs(attempt + 1, options, 1 - random());
}

/** The key a ceiling counts under: the URL's host and port (443 when the URL leaves it out). */
export function sourceHostKey(url: string): string {
  const parsed = new URL(url);
  const port = parsed.port !== '' ? parsed.port : parsed.protocol === 'http:' ? '80' : '443';
  return `${parsed.hostname.toLowerCase()}:${port}`;
}

export interface HostLease {
  /** Connections granted so far (at least 1); grows when others free some and the copy wanted more. */
  readonly connections: number;
  /** Calls `listener` with the new total each time the lease grows; returns the unsubscribe. */
  onGrow(listener: (connections: number) => void): () => void;
  /** Stops renewing and frees the connections; safe to call more than once. */
  release(): Promise<void>;
}

/** A lease row as the ledger inserts it. */
export interface NewHostLease {
  host: string;
  videoId: string;
  holder: string;
  connections: number;
  ttlMs: number;
}

/**
 * The leases as every worker sees them (the database, whose clock decides expiry). Each call on
 * its own is one statement; `underHostLock` runs several in one transaction holding the host's lock.
 */
export interface HostLeaseEntries {
  /** Connections held by unexpired leases on `host`. */
  sumLiveConnections(host: string): Promise<number>;
  /** Removes leases of dead holders on `host` (past their expiry); resolves with how many. */
  deleteExpired(host: string): Promise<number>;
  /** Inserts a lease valid for `ttlMs` from now; resolves with its id. */
  insert(lease: NewHostLease): Promise<string>;
  /** Extends a live lease to `ttlMs` from now (with new connections when given); false when it expired. */
  renew(leaseId: string, ttlMs: number, connections?: number): Promise<boolean>;
  /** The connections of a live lease, or null when it expired or is gone. */
  liveConnections(leaseId: string): Promise<number | null>;
  delete(leaseId: string): Promise<void>;
}

export interface HostLeaseLedger extends HostLeaseEntries {
  /** Runs `work` in one transaction holding `host`'s lease lock, so its reads and writes see no other copy's. */
  underHostLock<T>(host: string, work: (entries: HostLeaseEntries) => Promise<T>): Promise<T>;
}

export interface HostLeaseOptions {
  ledger: HostLeaseLedger;
  /** Connections all copies together may hold per host; 0: no ceiling (no lease is taken). */
  ceiling: number;
  log: Logger;
  renewIntervalMs?: number;
  ttlMs?: number;
  /** Backoff while waiting for free connections. */
  waitBaseDelayMs?: number;
  waitMaxDelayMs?: number;
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  random?: () => number;
}

export interface LeaseRequest {
  /** The source URL the copy fetches. */
  url: string;
  videoId: string;
  /** Names the holder in the lease row (the job id). */
  holder: string;
  /** Connections the copy would like (its maxConnections). */
  wanted: number;
}

/** Takes a lease of connections to `request.url`'s host, waiting while none are free; rejects when `signal` aborts. */
export async function acquireHostLease(
  options: HostLeaseOptions,
  request: LeaseRequest,
  signal: AbortSignal,
): Promise<HostLease> {
  if (options.ceiling === 0)
    return { connections: request.wanted, onGrow: () => () => undefined, release: async () => undefined };
  const host = sourceHostKey(request.url);
  const ttlMs = options.ttlMs ?? HOST_LEASE_TTL_MS;
  const random = options.random ?? Math.random;
  const log = options.log.child({ sourceHost: host });
  for (let attempt = 0; ; attempt += 1) {
    signal.throwIfAborted();
    const granted = await tryTakeLease(options.ledger, {
      host,
      videoId: request.videoId,
      holder: request.holder,
      wanted: request.wanted,
      ceiling: options.ceiling,
      ttlMs,
    });
    if (granted !== null) {
      log.info(
        { connections: granted.connections, wanted: request.wanted, ceiling: options.ceiling },
        'source host connections leased',
      );
      return startRenewing(
        options,
        {
          ...granted,
          host,
          videoId: request.videoId,
          holder: request.holder,
          wanted: request.wanted,
          ceiling: options.ceiling,
          ttlMs,
        },
        log,
      );
    }
    if (attempt === 0)
      log.info({ ceiling: options.ceiling }, 'every connection to the source host is in use; waiting for one to free');
    await options.sleep(
      leaseWaitDelayMs(
        attempt,
        { baseDelayMs: options.waitBaseDelayMs ?? 200, maxDelayMs: options.waitMaxDelayMs ?? 5_000 },
        random,
      ),
      signal,
    );
  }
}

interface TakeRequest {
  host: string;
  videoId: string;
  holder: string;
  wanted: number;
  ceiling: number;
  ttlMs: number;
}

/** One try, in one transaction under the host's lock: the lease taken, or null when nothing is free. */
async function tryTakeLease(
  ledger: HostLeaseLedger,
  request: TakeRequest,
): Promise<{ id: string; connections: number } | null> {
  return ledger.underHostLock(request.host, async (entries) => {
    await entries.deleteExpired(request.host);
    const connections = grantableConnections(
      request.wanted,
      request.ceiling,
      await entries.sumLiveConnections(request.host),
    );
    if (connections === 0) return null;
    const id = await entries.insert({
      host: request.host,
      videoId: request.videoId,
      holder: request.holder,
      connections,
      ttlMs: request.ttlMs,
    });
    return { id, connections };
  });
}

interface HeldLease extends TakeRequest {
  id: string;
  connections: number;
}

/**
 * One try to grow a lease, in one transaction under the host's lock: its connections after (the
 * same when nothing was free), or null when it had expired.
 */
async function tryGrowLease(ledger: HostLeaseLedger, lease: HeldLease): Promise<number | null> {
  return ledger.underHostLock(lease.host, async (entries) => {
    await entries.deleteExpired(lease.host);
    const mine = await entries.liveConnections(lease.id);
    if (mine === null) return null;
    const heldByOthers = (await entries.sumLiveConnections(lease.host)) - mine;
    const connections = Math.max(mine, grantableConnections(lease.wanted, lease.ceiling, heldByOthers));
    return (await entries.renew(lease.id, lease.ttlMs, connections)) ? connections : null;
  });
}

function startRenewing(options: HostLeaseOptions, taken: HeldLease, log: Logger): HostLease {
  const held = { ...taken };
  const listeners = new Set<(connections: number) => void>();
  let released = false;
  let renewing: Promise<void> = Promise.resolve();
  const renew = async (): Promise<void> => {
    if (held.connections < held.wanted) {
      const grown = await tryGrowLease(options.ledger, held);
      if (grown !== null) {
        if (grown > held.connections && !released) {
          log.info(
            { connections: grown, before: held.connections, wanted: held.wanted, ceiling: held.ceiling },
            'source host lease grew',
          );
          held.connections = grown;
          for (const listener of listeners) listener(grown);
        }
        return;
      }
    } else if (await options.ledger.renew(held.id, held.ttlMs)) {
      return;
    }
    if (released) return;
    // Only a process stalled for a whole TTL gets here; its pool is open, so it takes its
    // connections back at once, over the ceiling for a moment rather than starving its copy.
    log.warn({ connections: held.connections }, 'the source host lease expired before it was renewed; taking it again');
    held.id = await options.ledger.insert({
      host: held.host,
      videoId: held.videoId,
      holder: held.holder,
      connections: held.connections,
      ttlMs: held.ttlMs,
    });
  };
  const timer = setInterval(() => {
    renewing = renewing
      .then(renew)
      .catch((error: unknown) =>
        log.warn({ err: error }, 'renewing the source host lease failed; retrying at the next renewal'),
      );
  }, options.renewIntervalMs ?? HOST_LEASE_RENEW_INTERVAL_MS);
  timer.unref();
  return {
    get connections() {
      return held.connections;
    },
    onGrow(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async release() {
      if (released) return;
      released = true;
      listeners.clear();
      clearInterval(timer);
      await renewing;
      await options.ledger.delete(held.id);
    },
  };
}
