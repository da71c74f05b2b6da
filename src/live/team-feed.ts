/**
 * One team's feed in one API process: the one reader of the team's changes, fanning them out to
 * every stream of the team open on this process. It keeps the cursor (the last change it read);
 * on each wake-up it reads the team's changes after it in one query, loads the changed videos in
 * one more, builds each event's text once and writes it to every stream. Work runs one task at a
 * time (reads, and joins that catch a resuming stream up), so no stream sees a gap or a change twice
 * out of order. Changes of one video in a batch fold into one event carrying its latest state.
 */
import type { Logger } from 'pino';
import type { LiveChangeRow, LiveHorizon } from '../db/queries/live-changes.queries.js';
import type { VideoListView } from '../services/video.service.js';
import { eventFrame } from './sse-frames.js';

/** What a feed reads: the database behind small functions (db/queries/live-changes.queries.ts). */
export interface LiveChangeSource {
  horizon(): Promise<LiveHorizon>;
  changes(range: { teamId: string; afterSeq: number; throughSeq?: number; limit: number }): Promise<LiveChangeRow[]>;
  videos(teamId: string, videoIds: readonly string[]): Promise<VideoListView[]>;
}

/** A stream as a feed sees it: a place to write frames, and the cursor below which it has seen everything. */
export interface FeedSubscriber {
  /** Events up to this change were sent (or caught up); later ones only are written. */
  floor: number;
  readonly isClosed: boolean;
  send(frame: string): void;
}

export interface TeamFeedDeps {
  source: LiveChangeSource;
  /** The video's wire form, as GET /api/v1/videos/{videoId} presents it. */
  presentVideo: (view: VideoListView) => unknown;
  log: Logger;
  /** Changes read per query. */
  batchSize: number;
}

interface Frame {
  seq: number;
  text: string;
}

export class TeamFeed {
  /** The last change of the team this feed read; -1 until the first task reads the horizon. */
  private cursor = -1;
  private readonly subscribers = new Set<FeedSubscriber>();
  private tail: Promise<void> = Promise.resolve();
  private isReadQueued = false;
  private pendingJoins = 0;

  constructor(
    readonly teamId: string,
    private readonly deps: TeamFeedDeps,
  ) {}

  /** No stream left and none about to join: the feed may be dropped. */
  get isIdle(): boolean {
    return this.subscribers.size === 0 && this.pendingJoins === 0;
  }

  /**
   * Adds a stream: sends `ready` and, for a resumed stream, every change since `resumeFrom` (or
   * `reset` when that cursor is unknown or pruned), then it gets the live changes.
   */
  join(subscriber: FeedSubscriber, resumeFrom: number | null | 'unknown'): Promise<void> {
    this.pendingJoins += 1;
    return this.enqueue(async () => {
      try {
        if (subscriber.isClosed) return;
        const horizon = await this.deps.source.horizon();
        if (this.cursor < 0) this.cursor = horizon.latestSeq;
        const ready = { teamId: this.teamId };
        const isResumable =
          typeof resumeFrom === 'number' && resumeFrom >= horizon.prunedThroughSeq && resumeFrom <= horizon.latestSeq;
        if (resumeFrom === null || !isResumable) {
          subscriber.send(eventFrame(this.cursor, 'ready', ready));
          if (resumeFrom !== null) subscriber.send(eventFrame(this.cursor, 'reset', resetReason(resumeFrom)));
          subscriber.floor = this.cursor;
        } else {
          subscriber.send(eventFrame(resumeFrom, 'ready', ready));
          await this.catchUp(subscriber, resumeFrom);
        }
        if (!subscriber.isClosed) this.subscribers.add(subscriber);
      } finally {
        this.pendingJoins -= 1;
      }
    });
  }

  leave(subscriber: FeedSubscriber): void {
    this.subscribers.delete(subscriber);
  }

  /** Reads the team's new changes soon; wake-ups while a read waits fold into it. */
  wake(): void {
    if (this.isReadQueued) return;
    this.isReadQueued = true;
    void this.enqueue(async () => {
      this.isReadQueued = false;
      if (this.cursor < 0 || this.subscribers.size === 0) return;
      await this.readNew();
    });
  }

  private enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.tail.then(task);
    this.tail = run.catch((error: unknown) =>
      this.deps.log.warn({ err: error, teamId: this.teamId }, 'the live event feed could not read changes'),
    );
    return run;
  }

  private async readNew(): Promise<void> {
    for (;;) {
      const rows = await this.deps.source.changes({
        teamId: this.teamId,
        afterSeq: this.cursor,
        limit: this.deps.batchSize,
      });
      const last = rows.at(-1);
      if (last === undefined) return;
      this.cursor = last.seq;
      for (const frame of await this.framesOf(rows)) {
        for (const subscriber of this.subscribers) if (frame.seq > subscriber.floor) subscriber.send(frame.text);
      }
      if (rows.length < this.deps.batchSize) return;
    }
  }

  /** Sends one stream the changes after `from` up to the feed's cursor; live changes follow it. */
  private async catchUp(subscriber: FeedSubscriber, from: number): Promise<void> {
    subscriber.floor = Math.max(from, this.cursor);
    for (let after = from; after < this.cursor && !subscriber.isClosed;) {
      const rows = await this.deps.source.changes({
        teamId: this.teamId,
        afterSeq: after,
        throughSeq: this.cursor,
        limit: this.deps.batchSize,
      });
      const last = rows.at(-1);
      if (last === undefined) return;
      after = last.seq;
      for (const frame of await this.framesOf(rows)) subscriber.send(frame.text);
      if (rows.length < this.deps.batchSize) return;
    }
  }

  /** One event per changed object (its latest change), in the order of those changes. */
  private async framesOf(rows: readonly LiveChangeRow[]): Promise<Frame[]> {
    const latest = new Map<string, LiveChangeRow>();
    for (const row of rows) {
      const key = row.kind === 'webhook.delivery' ? `delivery:${row.deliveryId}` : `video:${row.videoId}`;
      // Re-inserting moves the key to the end: the map ends up ordered by each object's last change.
      latest.delete(key);
      latest.set(key, row);
    }
    const changed = [...latest.values()];
    const videoIds = changed.flatMap((row) => (row.kind === 'video' && row.videoId !== null ? [row.videoId] : []));
    const views = new Map(
      (await this.deps.source.videos(this.teamId, videoIds)).map((view) => [view.video.id, view] as const),
    );
    return changed.flatMap((row): Frame[] => {
      if (row.kind === 'video.deleted') return [frame(row.seq, 'video.deleted', { videoId: row.videoId })];
      if (row.kind === 'webhook.delivery')
        return [frame(row.seq, 'webhook.delivery', { webhookId: row.webhookId, webhookEventId: row.deliveryId })];
      const view = row.videoId === null ? undefined : views.get(row.videoId);
      // Gone since: its deletion is a later change, sent with it.
      return view === undefined ? [] : [frame(row.seq, 'video', this.deps.presentVideo(view))];
    });
  }
}

function frame(seq: number, event: string, data: unknown): Frame {
  return { seq, text: eventFrame(seq, event, data) };
}

function resetReason(resumeFrom: number | 'unknown'): { reason: string } {
  return {
    reason:
      resumeFrom === 'unknown'
        ? 'Last-Event-ID is not a cursor of this service: refetch what you show'
        : `changes after ${resumeFrom} are no longer kept (or never were): refetch what you show`,
  };
}
