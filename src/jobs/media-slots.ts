/**
 * The per-team ceiling of running ingestions and clips, across every worker, so one team cannot
 * occupy every media slot while other teams' videos wait. Two layers hold it:
 *
 * 1. The queue's claim. Ingestion and clip jobs are sent in their team's group, and workers claim
 *    them with pg-boss's `groupConcurrency` (chosen over a lease-and-wait of its own, as the copy's
 *    per-host ceiling does, because a job past the ceiling then simply stays queued: it holds no
 *    worker slot, uses no retry and costs no polling, and the claim goes to another team's job).
 * 2. A slot of the team, taken here by the claimed job before it starts. pg-boss counts per queue
 *    and two workers claiming at the same instant can both see room, so the slot is the exact
 *    count: ingestions and clips together, decided under the team's lock in one transaction. A job
 *    that finds no slot (a race, or its team's slots are taken by the other kind of job) is called
 *    off and queued again a few seconds later as a new job, so it uses no retry, and its worker
 *    moves on.
 *
 * A slot lives in the database with an expiry its holder renews while it works; a holder that
 * dies stops renewing and its slot frees itself within the TTL.
 */
import type { Logger } from 'pino';
import type { Database } from '../db/database.js';
import {
  countLiveMediaSlots,
  deleteExpiredMediaSlots,
  deleteMediaSlot,
  insertMediaSlot,
  lockTeamForMediaSlots,
  renewMediaSlot,
} from '../db/queries/media-slots.queries.js';

/** How often a holder renews its slot. */
export const MEDIA_SLOT_RENEW_INTERVAL_MS = 5_000;
/** A slot not renewed for this long belongs to a dead holder: three missed renewals. */
export const MEDIA_SLOT_TTL_MS = 3 * MEDIA_SLOT_RENEW_INTERVAL_MS;

export interface TeamMediaSlot {
  /** Stops renewing and frees the slot; safe to call more than once. */
  release(): Promise<void>;
}

export interface MediaSlotOptions {
  db: Database;
  /** Ingestions and clips one team may run at once on every worker together; 0: no ceiling. */
  ceiling: number;
  log: Logger;
  renewIntervalMs?: number;
  ttlMs?: number;
}

export interface MediaSlotRequest {
  teamId: string;
  videoId: string;
  kind: 'ingestion' | 'clip';
  /** The job id, recorded with the slot. */
  holder: string;
}

const noSlotNeeded: TeamMediaSlot = { release: async () => undefined };

/** Takes one of the team's slots, or resolves null when all are taken (the caller defers its job). */
export async function takeTeamMediaSlot(
  options: MediaSlotOptions,
  request: MediaSlotRequest,
): Promise<TeamMediaSlot | null> {
  if (options.ceiling === 0) return noSlotNeeded;
  const ttlMs = options.ttlMs ?? MEDIA_SLOT_TTL_MS;
  const slotId = await options.db.transaction(async (tx) => {
    await lockTeamForMediaSlots(tx, request.teamId);
    await deleteExpiredMediaSlots(tx, request.teamId);
    if ((await countLiveMediaSlots(tx, request.teamId)) >= options.ceiling) return null;
    return insertMediaSlot(tx, { ...request, ttlMs });
  });
  return slotId === null ? null : keepRenewing(options, request, slotId, ttlMs);
}

function keepRenewing(
  options: MediaSlotOptions,
  request: MediaSlotRequest,
  firstId: string,
  ttlMs: number,
): TeamMediaSlot {
  let slotId = firstId;
  let released = false;
  let renewing: Promise<void> = Promise.resolve();
  const renew = async (): Promise<void> => {
    if (released || (await renewMediaSlot(options.db, slotId, ttlMs))) return;
    // Only a process stalled for a whole TTL gets here; its work runs on, so it takes its slot
    // back at once, over the ceiling for a moment rather than stopping work under way.
    options.log.warn(
      { teamId: request.teamId, videoId: request.videoId },
      'the team media slot expired before it was renewed; taking it again',
    );
    slotId = await insertMediaSlot(options.db, { ...request, ttlMs });
  };
  const timer = setInterval(() => {
    renewing = renewing
      .then(renew)
      .catch((error: unknown) =>
        options.log.warn({ err: error }, 'renewing the team media slot failed; retrying at the next renewal'),
      );
  }, options.renewIntervalMs ?? MEDIA_SLOT_RENEW_INTERVAL_MS);
  timer.unref();
  return {
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      await renewing;
      // A slot that cannot be deleted now frees itself when it expires.
      await deleteMediaSlot(options.db, slotId).catch((error: unknown) =>
        options.log.warn({ err: error }, 'could not free the team media slot; it expires on its own'),
      );
    },
  };
}

/** How long a job that found no slot waits before it is claimed again: 2 to 4 s, jittered so deferred jobs spread out. */
export function deferralDelaySeconds(random: () => number = Math.random): number {
  return 2 + Math.floor(random() * 3);
}
