/**
 * The change log of the live event stream (live_changes, written only by the triggers of
 * drizzle/0008_live_changes.sql at commit, in commit order), and its pruning.
 */
import { and, asc, eq, gt, lt, sql } from 'drizzle-orm';
import type { Database } from '../database.js';
import { liveChangePrunes, liveChanges } from '../schema.js';

/** The NOTIFY channel the triggers ring with the changed team's id as payload. */
export const LIVE_CHANNEL = 'reelin_live';

export type LiveChangeRow = Pick<
  typeof liveChanges.$inferSelect,
  'seq' | 'kind' | 'videoId' | 'webhookId' | 'deliveryId'
>;

/** The cursors a stream may resume from: above `prunedThroughSeq` and at most `latestSeq`. */
export interface LiveHorizon {
  /** The newest committed change of any team (or the pruning mark when the log is empty). */
  latestSeq: number;
  /** Changes up to this one were pruned: a cursor below it may have missed some. */
  prunedThroughSeq: number;
}

export async function readLiveHorizon(db: Database): Promise<LiveHorizon> {
  const [row] = await db
    .select({
      prunedThroughSeq: liveChangePrunes.prunedThroughSeq,
      latestSeq:
        sql<number>`greatest((select max(${liveChanges.seq}) from ${liveChanges}), ${liveChangePrunes.prunedThroughSeq})`.mapWith(
          Number,
        ),
    })
    .from(liveChangePrunes)
    .where(eq(liveChangePrunes.id, 1));
  if (row === undefined) throw new Error('live_change_prunes has no row: the database is not migrated');
  return row;
}

/** Up to `limit` changes of a team after `afterSeq` and at most `throughSeq`, oldest first. */
export async function listLiveChanges(
  db: Database,
  range: { teamId: string; afterSeq: number; throughSeq?: number; limit: number },
): Promise<LiveChangeRow[]> {
  const conditions = [eq(liveChanges.teamId, range.teamId), gt(liveChanges.seq, range.afterSeq)];
  if (range.throughSeq !== undefined) conditions.push(sql`${liveChanges.seq} <= ${range.throughSeq}`);
  return db
    .select({
      seq: liveChanges.seq,
      kind: liveChanges.kind,
      videoId: liveChanges.videoId,
      webhookId: liveChanges.webhookId,
      deliveryId: liveChanges.deliveryId,
    })
    .from(liveChanges)
    .where(and(...conditions))
    .orderBy(asc(liveChanges.seq))
    .limit(range.limit);
}

/** Deletes the changes recorded before `before` and raises the pruning mark past them; returns how many went. */
export async function pruneLiveChanges(db: Database, before: Date): Promise<number> {
  return db.transaction(async (tx) => {
    const gone = await tx
      .delete(liveChanges)
      .where(lt(liveChanges.createdAt, before))
      .returning({ seq: liveChanges.seq });
    if (gone.length === 0) return 0;
    const highest = gone.reduce((top, row) => Math.max(top, row.seq), 0);
    await tx
      .update(liveChangePrunes)
      .set({ prunedThroughSeq: sql`greatest(${liveChangePrunes.prunedThroughSeq}, ${highest})` })
      .where(eq(liveChangePrunes.id, 1));
    return gone.length;
  });
}
