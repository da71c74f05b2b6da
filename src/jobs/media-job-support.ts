/**
 * What the ingestion and clip jobs share: throttled progress with an ETA, a private working
 * folder per run, the team's media slot (media-slots.ts) and the watch on deletion
 * (deleted-video-watch.ts) each run holds, and the one way a media operation fails, with what
 * ffmpeg printed scrubbed of paths, URLs and credentials before the user sees it.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { isAppError, toOperationError, type OperationError } from '../domain/errors.js';
import { estimateRemainingSeconds, toPercentage } from '../domain/ingestion-plan.js';
import type { Database } from '../db/database.js';
import { markClipFailed } from '../db/queries/clips.queries.js';
import { recordEvent } from '../db/queries/events.queries.js';
import { markIngestionFailed } from '../db/queries/ingestion.queries.js';
import { NotAVideoError } from '../media/metadata.js';
import type { IngestionMedia } from '../media/ingestion-media.js';
import { UnsupportedMediaFormatError } from '../media/media-input.js';
import { scrubDetails, scrubMediaText, type KnownText } from '../media/output-scrubber.js';
import { MediaLimitError, MediaProcessError } from '../media/process-runner.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { JobName } from './catalog.js';
import { VideoDeletedError, type DeletionWatch } from './deleted-video-watch.js';
import type { JobQueue } from './job-queue.js';
import { deferralDelaySeconds, takeTeamMediaSlot, type MediaSlotRequest, type TeamMediaSlot } from './media-slots.js';

/** What the ingestion and clip jobs are built with. */
export interface MediaJobDeps {
  db: Database;
  store: BlobStore;
  queue: JobQueue;
  media: IngestionMedia;
  /** Where ffmpeg writes its outputs before they are stored; one fresh folder per run under it. */
  workDir: string;
  /** How often progress is written to the database while a step runs. */
  progressIntervalMs: number;
  /** Aborted when this process shuts down: running ffmpeg stops and the job is queued again for any worker. */
  shutdownSignal: AbortSignal;
  /** Tells a running job that its video was deleted. */
  deletions: DeletionWatch;
  /** Ingestions and clips one team may run at once on every worker together; 0: no ceiling. */
  jobsPerTeam: number;
  /** The longest media a full ingestion takes. */
  maxDurationMs: number;
  /** Local folders named in ffmpeg's output (the data folder), hidden from users as these labels. */
  hiddenPaths: readonly KnownText[];
  log: Logger;
  now?: () => Date;
}

/**
 * The signal a media job's work runs under: its own (the queue took it back), the process's
 * shutdown, or the deletion of its video.
 */
export function mediaJobSignal(
  deps: Pick<MediaJobDeps, 'shutdownSignal'>,
  context: { signal: AbortSignal },
  deleted: AbortSignal,
): AbortSignal {
  return AbortSignal.any([context.signal, deps.shutdownSignal, deleted]);
}

/**
 * Takes a slot of the team for the job (`request.holder` is its job id), or, when the team's slots
 * are all taken, calls the job off and queues it again a few seconds later (a new job: no retry is
 * used, and the attempt ends cancelled, not completed) and resolves null: the caller returns.
 */
export async function takeSlotOrDefer(
  deps: Pick<MediaJobDeps, 'db' | 'queue' | 'jobsPerTeam' | 'log'>,
  job: Extract<JobName, 'ingest-video' | 'cut-clip'>,
  request: MediaSlotRequest,
  log: Logger,
): Promise<TeamMediaSlot | null> {
  const slot = await takeTeamMediaSlot({ db: deps.db, ceiling: deps.jobsPerTeam, log: deps.log }, request);
  if (slot !== null) return slot;
  const startAfterSeconds = deferralDelaySeconds();
  await deps.db.transaction((tx) =>
    deps.queue.requeueLater(
      tx,
      job,
      request.holder,
      { videoId: request.videoId },
      { groupId: request.teamId, startAfterSeconds },
    ),
  );
  log.info(
    { ceiling: deps.jobsPerTeam, startAfterSeconds },
    'the team runs as much media work as it may at once; job queued again',
  );
  return null;
}

export interface ProgressState {
  progressPercentage: number;
  etaSeconds: number | null;
}

/**
 * Turns a stream of fractions into at most one database write per interval (the last value
 * wins), with the ETA extrapolated from the time spent so far.
 */
export class ProgressReporter {
  private readonly startedAtMs: number;
  private lastSavedAtMs = Number.NEGATIVE_INFINITY;
  private lastSavedPercentage = -1;
  private latest = 0;
  private inFlight: Promise<void> | null = null;
  private failure: unknown = null;

  constructor(
    private readonly options: { intervalMs: number; now: () => Date; save: (state: ProgressState) => Promise<unknown> },
  ) {
    this.startedAtMs = options.now().getTime();
  }

  report(fraction: number): void {
    this.latest = Math.max(this.latest, fraction);
    const nowMs = this.options.now().getTime();
    if (this.inFlight !== null || nowMs - this.lastSavedAtMs < this.options.intervalMs) return;
    const state = this.stateAt(nowMs);
    if (state.progressPercentage === this.lastSavedPercentage && state.etaSeconds === null) return;
    this.lastSavedAtMs = nowMs;
    this.lastSavedPercentage = state.progressPercentage;
    this.inFlight = this.options.save(state).then(
      () => {
        this.inFlight = null;
      },
      (error: unknown) => {
        this.inFlight = null;
        this.failure = error;
      },
    );
  }

  /** Waits for a write on its way and rethrows a write that failed. */
  async flush(): Promise<void> {
    await this.inFlight;
    if (this.failure !== null) throw this.failure;
  }

  private stateAt(nowMs: number): ProgressState {
    return {
      progressPercentage: toPercentage(this.latest, false),
      etaSeconds: estimateRemainingSeconds(nowMs - this.startedAtMs, this.latest),
    };
  }
}

/** Runs `work` in a fresh folder under `parent`, removed afterwards whatever happens. */
export async function withWorkDir<T>(parent: string, name: string, work: (dir: string) => Promise<T>): Promise<T> {
  const dir = path.join(parent, name);
  await fs.mkdir(dir, { recursive: true });
  try {
    return await work(dir);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** The last lines of ffmpeg's stderr: enough to see why, short enough for a status response. */
function tailLines(text: string, maxChars = 1200): string {
  const trimmed = text.trim();
  return trimmed.length <= maxChars ? trimmed : trimmed.slice(trimmed.length - maxChars).replace(/^[^\n]*\n/, '');
}

/**
 * The failure a user sees for an error of media work, or null when the error is not the media's
 * fault (the database or storage failed, the process is stopping): those are retried. Its message
 * and details are scrubbed (output-scrubber.ts): `hidden` names local folders to hide by label.
 */
export function describeMediaFailure(
  error: unknown,
  what: string,
  hidden: readonly KnownText[] = [],
): OperationError | null {
  const failure = describeUnscrubbed(error, what);
  return failure === null
    ? null
    : { ...failure, message: scrubMediaText(failure.message, hidden), details: scrubDetails(failure.details, hidden) };
}

function describeUnscrubbed(error: unknown, what: string): OperationError | null {
  if (error instanceof UnsupportedMediaFormatError) {
    return {
      code: 'UNSUPPORTED_MEDIA_FORMAT',
      message: error.message,
      details: { format: error.format, reason: error.reason },
    };
  }
  if (error instanceof NotAVideoError) {
    return {
      code: error.kind === 'NO_VIDEO_STREAM' ? 'NOT_A_VIDEO' : 'MEDIA_UNREADABLE',
      message: error.message,
      details: { kind: error.kind },
    };
  }
  if (error instanceof MediaLimitError) {
    return {
      code: 'MEDIA_LIMIT_EXCEEDED',
      message: `${what} was stopped: ${error.message}`,
      details: { limit: error.kind, stderrTail: tailLines(error.stderrTail) },
    };
  }
  if (error instanceof MediaProcessError) {
    return {
      code: 'MEDIA_PROCESSING_FAILED',
      message: `${what} failed: ${path.basename(error.binary)} ${error.signal ? `was killed by ${error.signal}` : `exited with code ${error.exitCode}`}; the file may be damaged or use a feature this ffmpeg cannot decode`,
      details: { exitCode: error.exitCode, signal: error.signal, stderrTail: tailLines(error.stderrTail) },
    };
  }
  if (isAppError(error)) return toOperationError(error);
  return null;
}

export interface FailedOperation {
  kind: 'ingestion' | 'clip';
  videoId: string;
  teamId: string;
  eventStage: 'video_in_ingestion' | 'clip_ingestion' | 'clip_processing';
}

/**
 * The one way a media job fails: a failure of the media itself is recorded (FAILED, with its
 * event, in one transaction) and the job ends. A job stopped by the process's shutdown is queued
 * again (a deploy must not use up its retries) and starts over on the next worker. Anything else
 * is rethrown so the queue retries it.
 */
export async function failMediaOperation(options: {
  deps: Pick<MediaJobDeps, 'db' | 'queue' | 'shutdownSignal' | 'hiddenPaths'>;
  log: Logger;
  now: () => Date;
  error: unknown;
  signal: AbortSignal;
  operation: FailedOperation;
}): Promise<void> {
  const { deps, error, operation } = options;
  if (deps.shutdownSignal.aborted) {
    options.log.info(`${operation.kind} interrupted by shutdown; queued again`);
    const job = operation.kind === 'clip' ? 'cut-clip' : 'ingest-video';
    await deps.db.transaction((tx) =>
      deps.queue.send(tx, job, { videoId: operation.videoId }, { groupId: operation.teamId }),
    );
    return;
  }
  if (options.signal.aborted && options.signal.reason instanceof VideoDeletedError) {
    // Nothing is left to record: the video and its operation are gone. The job ends.
    options.log.info(`${operation.kind} stopped: its video was deleted`);
    return;
  }
  if (options.signal.aborted) throw error;
  const failure = describeMediaFailure(
    error,
    operation.kind === 'clip' ? 'cutting the clip' : 'ingesting the video',
    deps.hiddenPaths,
  );
  if (failure === null) throw error;
  await recordFailure(deps.db, operation, failure, options.now());
  // The operator's log keeps the whole error; the user sees the scrubbed failure.
  options.log.warn({ code: failure.code, reason: failure.message, err: error }, `${operation.kind} failed`);
}

export async function recordFailure(
  db: Database,
  operation: FailedOperation,
  failure: OperationError,
  now: Date,
): Promise<boolean> {
  return db.transaction(async (tx) => {
    const marked =
      operation.kind === 'clip'
        ? await markClipFailed(tx, operation.videoId, failure, now)
        : await markIngestionFailed(tx, operation.videoId, failure, now);
    if (marked)
      await recordEvent(tx, {
        teamId: operation.teamId,
        videoId: operation.videoId,
        type: `${operation.eventStage}.failed`,
        data: { errorCode: failure.code },
      });
    return marked;
  });
}

/** The failure recorded when a media job's retries ran out. */
export function interruptedFailure(what: string, attempts: number): OperationError {
  return {
    code: 'MEDIA_JOB_INTERRUPTED',
    message: `${what} was interrupted ${attempts} times without finishing (its worker kept stopping or the database or storage kept failing); see the worker logs`,
    details: {},
  };
}
