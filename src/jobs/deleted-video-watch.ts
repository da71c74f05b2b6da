/**
 * Stops the media work of a video that is deleted (or whose import is abandoned) while it runs,
 * whichever process deletes it: the API process that deletes is usually not the worker running
 * ffmpeg. Deleting rings the event bell (`videos`) in its transaction; every worker listens, and on
 * a ring checks in one query which of the videos its media jobs work on still exist, and aborts the
 * jobs of the ones gone (their ffmpeg process groups get SIGTERM, then SIGKILL a second later). A
 * short poll is the backstop for a ring missed while a listening connection was down.
 */
import type { Logger } from 'pino';
import type { Database } from '../db/database.js';
import type { BellRing, EventBell } from '../webhooks/event-bell.js';
import { findExistingVideoIds } from '../db/queries/videos.queries.js';

/** The reason a media job's signal aborts with when its video was deleted. */
export class VideoDeletedError extends Error {
  override readonly name = 'VideoDeletedError';
  constructor(readonly videoId: string) {
    super(`video ${videoId} was deleted while its media work ran`);
  }
}

export interface WatchedVideo {
  /** Aborted with a VideoDeletedError once the video no longer exists. */
  signal: AbortSignal;
  /** Stops watching (the job ended). */
  release(): void;
}

export interface DeletionWatch {
  watch(videoId: string): WatchedVideo;
}

export interface DeletedVideoWatchOptions {
  db: Database;
  bell: Pick<EventBell, 'onRing'> | null;
  /** The backstop poll while jobs are watched. */
  pollIntervalMs: number;
  log: Logger;
}

export class DeletedVideoWatch implements DeletionWatch {
  /** Controllers of running jobs, by video (a master and its clip may both run). */
  private readonly watched = new Map<string, Set<AbortController>>();
  private timer: NodeJS.Timeout | null = null;
  private stopListening: (() => void) | null = null;
  private checking: Promise<void> | null = null;
  private checkAgain = false;

  constructor(private readonly options: DeletedVideoWatchOptions) {}

  start(): void {
    this.stopListening =
      this.options.bell?.onRing((ring: BellRing) => {
        if (ring === 'videos' || ring === 'missed') this.check();
      }) ?? null;
  }

  stop(): void {
    this.stopListening?.();
    this.stopListening = null;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  watch(videoId: string): WatchedVideo {
    const controller = new AbortController();
    const controllers = this.watched.get(videoId) ?? new Set();
    controllers.add(controller);
    this.watched.set(videoId, controllers);
    if (this.timer === null) {
      this.timer = setInterval(() => this.check(), this.options.pollIntervalMs);
      this.timer.unref();
    }
    return {
      signal: controller.signal,
      release: () => {
        controllers.delete(controller);
        if (controllers.size === 0 && this.watched.get(videoId) === controllers) this.watched.delete(videoId);
        if (this.watched.size === 0 && this.timer !== null) {
          clearInterval(this.timer);
          this.timer = null;
        }
      },
    };
  }

  /** Looks now (once more after a look under way, so a ring during a look is not lost). */
  check(): void {
    if (this.checking !== null) {
      this.checkAgain = true;
      return;
    }
    this.checking = this.look()
      .catch((error: unknown) =>
        this.options.log.warn({ err: error }, 'could not check whether the videos of running media jobs still exist'),
      )
      .finally(() => {
        this.checking = null;
        if (this.checkAgain) {
          this.checkAgain = false;
          this.check();
        }
      });
  }

  /** Resolves once any look under way has ended (tests). */
  async settled(): Promise<void> {
    while (this.checking !== null) await this.checking;
  }

  private async look(): Promise<void> {
    const videoIds = [...this.watched.keys()];
    if (videoIds.length === 0) return;
    const existing = await findExistingVideoIds(this.options.db, videoIds);
    for (const videoId of videoIds) {
      if (existing.has(videoId)) continue;
      const controllers = this.watched.get(videoId);
      if (controllers === undefined) continue;
      this.options.log.info({ videoId, jobs: controllers.size }, 'video deleted while its media work ran; stopping it');
      for (const controller of controllers) controller.abort(new VideoDeletedError(videoId));
    }
  }
}
