/**
 * The copy job: copies the parts of an import not yet recorded, checkpointing as it goes, then
 * verifies the whole-file CRC32C (combined from the parts, no second read) and publishes the
 * file. It is idempotent: a run that finds the import ended does nothing, a run after a crash
 * continues from the recorded parts, and every transition is guarded by the state it expects.
 */
import { setTimeout as sleepTimer } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { CopyCheckpointer, ImportGoneError } from '../copy/checkpointer.js';
import { copyParts } from '../copy/copy-engine.js';
import { acquireHostLease, type HostLease } from '../copy/host-leases.js';
import type { PartCopyOptions } from '../copy/part-copier.js';
import { s3PartAuthorizer, storedS3Source } from '../copy/s3-source.js';
import { combinePartChecksums, formatCrc32c } from '../domain/crc32c-combine.js';
import { AppError, isAppError, toOperationError } from '../domain/errors.js';
import { countParts, remainingParts } from '../domain/part-plan.js';
import type { Database } from '../db/database.js';
import { recordEvent } from '../db/queries/events.queries.js';
import { insertIngestion } from '../db/queries/ingestion.queries.js';
import {
  deleteRecordedParts,
  findImportForCopy,
  listRecordedParts,
  markImportDone,
  markImportFailed,
  markImportStarted,
  recordParts,
  saveImportProgress,
  saveUploadState,
  type ImportForCopy,
  type RecordedPart,
} from '../db/queries/imports.queries.js';
import type { OutboundClient, PinnedPool } from '../net/outbound-client.js';
import { videoSourceKey, type BlobKey } from '../storage/blob-keys.js';
import { deleteVideoData } from '../services/video-deletion.js';
import type { BlobStore, BlobUpload } from '../storage/blob-store.js';
import { UploadLostError } from '../storage/blob-store.js';
import type { JobContext, JobHandler } from './catalog.js';
import type { JobQueue } from './job-queue.js';

export interface CopyJobDeps {
  db: Database;
  store: BlobStore;
  client: OutboundClient;
  queue: JobQueue;
  /** Aborted when this process shuts down: the copy stops and is queued again for any worker. */
  shutdownSignal: AbortSignal;
  copy: Config['copy'];
  /** Opens the sealed key pairs of S3 imports. */
  kek: Buffer;
  log: Logger;
  now?: () => Date;
}

interface CopyRun {
  deps: CopyJobDeps;
  now: () => Date;
  found: ImportForCopy;
  key: BlobKey;
  log: Logger;
  signal: AbortSignal;
  /** Names this run in the source host's lease (the job id). */
  holder: string;
}

export function createCopyVideoHandler(deps: CopyJobDeps): JobHandler<'copy-video'> {
  const now = deps.now ?? (() => new Date());
  return async ({ videoId }, context: JobContext) => {
    const log = deps.log.child({ videoId, jobId: context.jobId });
    const found = await findImportForCopy(deps.db, videoId);
    if (found === null || found.videoImport.status === 'DONE' || found.videoImport.status === 'FAILED') {
      log.info({ status: found?.videoImport.status ?? 'deleted' }, 'copy job has nothing to do');
      return;
    }
    if (found.videoImport.status === 'INITIAL') {
      await deps.db.transaction(async (tx) => {
        if (await markImportStarted(tx, videoId, now()))
          await recordEvent(tx, { teamId: found.teamId, videoId, type: 'video_in.started' });
      });
    }
    const signal = AbortSignal.any([context.signal, deps.shutdownSignal]);
    const run: CopyRun = {
      deps,
      now,
      found,
      key: videoSourceKey(found.teamId, videoId),
      log,
      signal,
      holder: context.jobId,
    };
    try {
      await runCopy(run);
    } catch (error) {
      await handleFailure(run, error);
    }
  };
}

async function handleFailure(run: CopyRun, error: unknown): Promise<void> {
  const { deps, found, log } = run;
  const videoId = found.videoImport.videoId;
  if (error instanceof ImportGoneError) {
    log.info('import was deleted while copying; removing its data');
    await deleteStoredData(run);
    return;
  }
  if (deps.shutdownSignal.aborted) {
    // Queued again rather than failed, so a deploy does not use up the job's retries.
    log.info('copy interrupted by shutdown; queued again to continue from the recorded parts');
    await deps.db.transaction((tx) => deps.queue.send(tx, 'copy-video', { videoId }));
    return;
  }
  // Another worker took the job over: leave everything to it.
  if (run.signal.aborted) throw error;
  const failure = toPermanentFailure(error);
  if (failure === null) throw error;
  log.warn({ code: failure.code, err: error }, 'copy failed');
  const marked = await deps.db.transaction(async (tx) => {
    if (!(await markImportFailed(tx, videoId, toOperationError(failure), run.now()))) return false;
    await recordEvent(tx, {
      teamId: found.teamId,
      videoId,
      type: 'video_in.failed',
      data: { errorCode: failure.code },
    });
    return true;
  });
  if (!marked) await deleteStoredData(run);
}

/** Storage faults a retry of the job will not cure. */
const storageFailureCodes = new Set(['EIO', 'EROFS', 'EACCES', 'EPERM', 'EFBIG', 'ENAMETOOLONG']);

/** The AppError a failure ends the import with, or null for failures worth a retry of the job (database down, bugs). */
function toPermanentFailure(error: unknown): AppError | null {
  if (isAppError(error)) return error;
  const code = (error as NodeJS.ErrnoException | null)?.code ?? '';
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new AppError(
      'INTERNAL_SERVER_ERROR',
      "the service's storage is full: free space, then restart the import",
      { cause: code },
      { cause: error },
    );
  }
  if (storageFailureCodes.has(code)) {
    return new AppError(
      'INTERNAL_SERVER_ERROR',
      `writing the file to the service's storage failed (${code}): the operator must check the storage, then restart the import`,
      { cause: code },
      { cause: error },
    );
  }
  return null;
}

async function deleteStoredData(run: CopyRun): Promise<void> {
  await deleteVideoData(run.deps.store, {
    teamId: run.found.teamId,
    videoId: run.found.videoImport.videoId,
    uploadState: run.found.videoImport.uploadState ?? null,
  });
}

async function runCopy(run: CopyRun): Promise<void> {
  const { deps, found, key } = run;
  const source = found.videoImport;
  let recorded = await listRecordedParts(deps.db, source.videoId);
  let remaining = remainingParts(
    source.totalBytes,
    source.partSizeBytes,
    recorded.map((part) => part.partIndex),
  );
  // A run that crashed after publishing the file but before marking the import DONE.
  if (remaining.length === 0 && (await deps.store.stat(key))?.sizeBytes === source.totalBytes) {
    await finish(run, recorded, null);
    return;
  }
  const opened = await openOrRestartUpload(run);
  if (opened.restarted) {
    recorded = [];
    remaining = remainingParts(source.totalBytes, source.partSizeBytes, []);
  }
  try {
    if (remaining.length > 0) {
      await copyUnderHostLease(run, opened.upload, remaining, recorded);
      recorded = await listRecordedParts(deps.db, source.videoId);
    }
    await finish(run, recorded, opened.upload);
  } finally {
    await opened.upload.close();
  }
}

/**
 * Copies the remaining parts with as many connections as the source host's ceiling grants (see
 * copy/host-leases.ts), and more as the lease grows, holding the lease until every connection is
 * closed.
 */
async function copyUnderHostLease(
  run: CopyRun,
  upload: BlobUpload,
  remaining: ReturnType<typeof remainingParts>,
  recorded: RecordedPart[],
): Promise<void> {
  const { deps, log } = run;
  const source = run.found.videoImport;
  const lease = await acquireHostLease(
    {
      db: deps.db,
      ceiling: deps.copy.sourceHostMaxConnections,
      log,
      sleep: (ms, abort) => sleepTimer(ms, undefined, { signal: abort }),
    },
    { url: source.fetchUrl, videoId: source.videoId, holder: run.holder, wanted: source.maxConnections },
    run.signal,
  );
  try {
    const target = deps.client.restore(source.fetchUrl, source.pinnedAddresses);
    await copyRemaining(run, upload, () => deps.client.openPool(target, 1), remaining, recorded, lease);
  } finally {
    // An unreleased lease expires by itself; the copy's own outcome matters more.
    await lease
      .release()
      .catch((error: unknown) =>
        log.warn({ err: error }, 'releasing the source host lease failed; it expires by itself'),
      );
  }
}

/** Opens the upload (continuing the recorded one); starts over when its data was lost. */
async function openOrRestartUpload(run: CopyRun): Promise<{ upload: BlobUpload; restarted: boolean }> {
  const { deps, found, key, log } = run;
  const source = found.videoImport;
  const state = source.uploadState ?? null;
  try {
    const upload = await deps.store.openUpload(key, source.totalBytes, state);
    if (state !== null) return { upload, restarted: false };
    // A new upload: no recorded part can refer to it.
    await deps.db.transaction(async (tx) => {
      await deleteRecordedParts(tx, source.videoId);
      await saveUploadState(tx, source.videoId, upload.state);
    });
    return { upload, restarted: true };
  } catch (error) {
    if (!(error instanceof UploadLostError)) throw error;
    log.warn({ err: error }, 'the partial upload is lost; copying every part again');
    await deps.store.abortUpload(key, state);
    const upload = await deps.store.openUpload(key, source.totalBytes, null);
    await deps.db.transaction(async (tx) => {
      await deleteRecordedParts(tx, source.videoId);
      await saveUploadState(tx, source.videoId, upload.state);
    });
    return { upload, restarted: true };
  }
}

async function copyRemaining(
  run: CopyRun,
  upload: BlobUpload,
  openConnection: () => PinnedPool,
  remaining: ReturnType<typeof remainingParts>,
  recorded: RecordedPart[],
  lease: HostLease,
): Promise<void> {
  const { deps, found, log, now } = run;
  const source = found.videoImport;
  const halt = new AbortController();
  const signal = AbortSignal.any([run.signal, halt.signal]);
  const checkpointer = new CopyCheckpointer({
    progressIntervalMs: deps.copy.progressIntervalMs,
    durableIntervalMs: deps.copy.checkpointIntervalMs,
    recordedBytes: recorded.reduce((sum, part) => sum + part.lengthBytes, 0),
    totalBytes: source.totalBytes,
    flush: () => upload.flush(),
    persist: (parts, progress) =>
      deps.db.transaction(async (tx) => {
        await recordParts(
          tx,
          source.videoId,
          parts.map((part) => ({
            partIndex: part.index,
            offsetBytes: part.offsetBytes,
            lengthBytes: part.lengthBytes,
            crc32c: part.crc32c,
            receipt: part.receipt,
          })),
        );
        return saveImportProgress(tx, source.videoId, { ...progress, now: now() });
      }),
    onStop: (reason) => halt.abort(reason),
    onError: (error) => log.warn({ err: error }, 'checkpoint failed; retrying at the next one'),
  });
  checkpointer.start();
  try {
    await copyParts(
      remaining,
      {
        openConnection,
        upload,
        source: { totalBytes: source.totalBytes, etag: source.etag, lastModified: source.lastModified },
        connections: lease.connections,
        grants: lease,
        attempts: deps.copy.partAttempts,
        backoff: { baseDelayMs: deps.copy.retryBaseDelayMs, maxDelayMs: deps.copy.retryMaxDelayMs },
        retryAfterMaxMs: deps.copy.retryAfterMaxMs,
        sleep: (ms, abort) => sleepTimer(ms, undefined, { signal: abort }),
        random: Math.random,
        now: Date.now,
        onBytes: (delta) => checkpointer.addBytes(delta),
        onPartCopied: (part) => checkpointer.addPart(part),
        onRetry: ({ part, attempt, delayMs, error }) =>
          log.info({ part: part.index, attempt, delayMs, code: error.code, reason: error.message }, 'retrying part'),
        ...sourceAccess(run),
      },
      signal,
    );
  } finally {
    await checkpointer.stop();
  }
  if (halt.signal.aborted) throw halt.signal.reason;
}

/** How part requests reach the source: as they are for an HTTPS URL; signed, with If-Match, for an S3 object. */
function sourceAccess(run: CopyRun): Pick<PartCopyOptions, 'condition' | 'authorize'> {
  const source = run.found.videoImport;
  if (source.sourceKind !== 's3') return {};
  const { location, credentials } = storedS3Source(source, run.deps.kek);
  return { condition: 'if-match', authorize: s3PartAuthorizer(source.fetchUrl, location.region, credentials) };
}

/** Verifies the parts cover the file and the checksum, publishes the file and marks the import DONE. */
async function finish(run: CopyRun, recorded: RecordedPart[], upload: BlobUpload | null): Promise<void> {
  const { deps, found, key, log } = run;
  const source = found.videoImport;
  const expectedParts = countParts(source.totalBytes, source.partSizeBytes);
  if (recorded.length !== expectedParts || recorded.some((part, index) => part.partIndex !== index)) {
    throw new Error(`import ${source.videoId}: ${recorded.length} of ${expectedParts} parts recorded after the copy`);
  }
  const crc32c = combinePartChecksums(recorded);
  if (source.expectedCrc32c !== null && crc32c !== source.expectedCrc32c && !source.skipChecksumValidation) {
    throw new AppError(
      'CHECKSUM_MISMATCH',
      `the copied file's CRC32C is ${crc32c} (0x${formatCrc32c(crc32c)}) but ${source.expectedCrc32c} (0x${formatCrc32c(source.expectedCrc32c)}) was expected: the source sent different bytes, or the expected checksum is wrong; restart with skipChecksumValidation=true to accept the copy`,
      {
        expectedCrc32c: source.expectedCrc32c,
        actualCrc32c: crc32c,
      },
    );
  }
  // Without an open upload the file was published by an earlier run (see runCopy).
  if (upload !== null) {
    await upload.complete(
      recorded.map((part) => ({
        index: part.partIndex,
        offsetBytes: part.offsetBytes,
        lengthBytes: part.lengthBytes,
        crc32c: part.crc32c,
        receipt: part.receipt,
      })),
      crc32c,
    );
  }
  const done = await deps.db.transaction(async (tx) => {
    if (
      !(await markImportDone(tx, source.videoId, {
        crc32c,
        storageKey: key,
        totalBytes: source.totalBytes,
        now: run.now(),
      }))
    )
      return false;
    await recordEvent(tx, { teamId: found.teamId, videoId: source.videoId, type: 'video_in.done' });
    await insertIngestion(tx, source.videoId, source.fullIngestion);
    await deps.queue.send(tx, 'ingest-video', { videoId: source.videoId }, { groupId: found.teamId });
    return true;
  });
  if (!done) throw new ImportGoneError('the import was deleted or abandoned before it could be completed');
  log.info({ crc32c: formatCrc32c(crc32c), totalBytes: source.totalBytes }, 'copy done');
}
