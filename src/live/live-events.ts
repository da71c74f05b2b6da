/**
 * The live event stream of an API process (issue 16, `GET /api/v1/events/stream`).
 *
 * How it works across processes: every committed change a stream shows leaves a row in the
 * database's change log (live_changes, written by triggers at commit in commit order, see
 * drizzle/0008_live_changes.sql), and the trigger NOTIFYs `reelin_live` with the team's id. So a
 * worker in another process saving copy progress wakes every API process listening. Each API
 * process keeps one feed per team with streams open on it (team-feed.ts): one query per wake-up
 * for the team however many streams it has, then the same text written to each. A stream resumes
 * from its last event id through the same log; a cursor older than the retention gets `reset`.
 *
 * Why a log and not a `change_seq` column on videos: deletions and delivery attempts have no row
 * to carry one, and a column set when the write happens orders changes by start, not by commit, so
 * a reader could pass a change that commits late. The log's sequence is taken at commit under one
 * advisory lock, which makes "after cursor n" exact.
 */
import { PassThrough, type Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { LiveEventsConfig } from '../config/config.js';
import { AppError } from '../domain/errors.js';
import { heartbeatFrame, parseCursor, retryFrame } from './sse-frames.js';
import { TeamFeed, type FeedSubscriber, type LiveChangeSource, type TeamFeedDeps } from './team-feed.js';

/** A stream that cannot keep up (this much unsent) is ended; its client resumes from its last event id. */
const MAX_BUFFERED_BYTES = 1024 * 1024;
/** Changes a feed reads per query. */
const BATCH_SIZE = 500;
/**
 * How often every feed reads even without a notification: the backstop for one lost while a
 * listening connection was down (its return also wakes every feed).
 */
const BACKSTOP_POLL_MS = 5_000;
const PRUNE_INTERVAL_MS = 60_000;

export interface LiveEventsDeps {
  source: LiveChangeSource;
  presentVideo: TeamFeedDeps['presentVideo'];
  /** Starts listening for the change log's notifications (payload: a team id, or `missed`); returns the stop. */
  listen(onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  /** Deletes changes recorded before the date (they can no longer be resumed from). */
  prune(before: Date): Promise<number>;
  config: LiveEventsConfig;
  log: Logger;
}

export interface StreamRequest {
  apiKeyId: string;
  teamId: string;
  /** The `Last-Event-ID` header as sent, if any. */
  lastEventId: string | undefined;
}

class StreamSubscriber implements FeedSubscriber {
  floor = -1;
  readonly stream = new PassThrough();

  get isClosed(): boolean {
    return this.stream.writableEnded || this.stream.destroyed;
  }

  send(frame: string): void {
    if (this.isClosed) return;
    // A client that reads slower than its team changes would hold ever more memory here.
    if (this.stream.writableLength > MAX_BUFFERED_BYTES) this.stream.end();
    else this.stream.write(frame);
  }
}

export class LiveEvents {
  private readonly feeds = new Map<string, TeamFeed>();
  private readonly streamsPerKey = new Map<string, number>();
  private readonly streams = new Set<StreamSubscriber>();
  private readonly timers: NodeJS.Timeout[] = [];
  private stopListening: (() => Promise<void>) | null = null;
  private isClosing = false;

  constructor(private readonly deps: LiveEventsDeps) {}

  async start(): Promise<void> {
    this.stopListening = await this.deps.listen((payload) => this.heard(payload));
    const every = (ms: number, run: () => void) => {
      const timer = setInterval(run, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(this.deps.config.heartbeatMs, () => {
      for (const subscriber of this.streams) subscriber.send(heartbeatFrame);
    });
    every(BACKSTOP_POLL_MS, () => this.heard('missed'));
    every(Math.min(PRUNE_INTERVAL_MS, this.deps.config.retentionMs), () => this.prune());
  }

  /**
   * Opens a stream of `teamId`'s changes for the key, or throws TOO_MANY_REQUESTS past the key's
   * limit on this process. The stream starts with `retry`, then `ready` (see TeamFeed.join).
   */
  open(request: StreamRequest): Readable {
    if (this.isClosing) throw new AppError('SERVICE_UNAVAILABLE', 'the service is shutting down: connect again');
    const count = this.streamsPerKey.get(request.apiKeyId) ?? 0;
    if (count >= this.deps.config.streamsPerKey) {
      throw new AppError(
        'TOO_MANY_REQUESTS',
        `this API key already has ${count} event streams open on this server, the most it may: close one (a browser tab needs only one)`,
        { limit: this.deps.config.streamsPerKey },
      );
    }
    this.streamsPerKey.set(request.apiKeyId, count + 1);
    const subscriber = new StreamSubscriber();
    const feed = this.feedOf(request.teamId);
    this.streams.add(subscriber);
    subscriber.stream.once('close', () => this.closed(subscriber, feed, request.apiKeyId));
    subscriber.send(retryFrame);
    const resumeFrom =
      request.lastEventId === undefined ? null : (parseCursor(request.lastEventId.trim()) ?? 'unknown');
    feed
      .join(subscriber, resumeFrom)
      .catch((error: unknown) => {
        this.deps.log.warn({ err: error, teamId: request.teamId }, 'could not start an event stream');
        subscriber.stream.destroy();
      })
      .finally(() => this.dropIfIdle(feed));
    return subscriber.stream;
  }

  /** Ends every open stream (clients reconnect elsewhere with their last event id); new ones are refused. */
  closeAll(): void {
    this.isClosing = true;
    for (const subscriber of this.streams) subscriber.stream.end();
  }

  async stop(): Promise<void> {
    this.closeAll();
    for (const timer of this.timers.splice(0)) clearInterval(timer);
    await this.stopListening?.();
    this.stopListening = null;
  }

  /** Streams open on this process (for tests and the benchmark). */
  get openStreams(): number {
    return this.streams.size;
  }

  private feedOf(teamId: string): TeamFeed {
    let feed = this.feeds.get(teamId);
    if (feed === undefined) {
      feed = new TeamFeed(teamId, {
        source: this.deps.source,
        presentVideo: this.deps.presentVideo,
        log: this.deps.log,
        batchSize: BATCH_SIZE,
      });
      this.feeds.set(teamId, feed);
    }
    return feed;
  }

  private closed(subscriber: StreamSubscriber, feed: TeamFeed, apiKeyId: string): void {
    this.streams.delete(subscriber);
    feed.leave(subscriber);
    this.dropIfIdle(feed);
    const count = (this.streamsPerKey.get(apiKeyId) ?? 1) - 1;
    if (count > 0) this.streamsPerKey.set(apiKeyId, count);
    else this.streamsPerKey.delete(apiKeyId);
  }

  private dropIfIdle(feed: TeamFeed): void {
    if (feed.isIdle && this.feeds.get(feed.teamId) === feed) this.feeds.delete(feed.teamId);
  }

  private heard(payload: string): void {
    if (payload === 'missed') for (const feed of this.feeds.values()) feed.wake();
    else this.feeds.get(payload)?.wake();
  }

  private prune(): void {
    const before = new Date(Date.now() - this.deps.config.retentionMs);
    this.deps
      .prune(before)
      .catch((error: unknown) => this.deps.log.warn({ err: error }, 'could not prune the live change log'));
  }
}
