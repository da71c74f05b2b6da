/**
 * One run of an import's copy: copies the parts not yet recorded, checkpointing as it goes, then
 * verifies the whole-file CRC32C (combined from the parts, no second read) and publishes the
 * file. It is idempotent: a run that finds the import ended does nothing, a run after a crash
 * continues from the recorded parts, and every transition is guarded by the state it expects.
 *
 * The import's records are reached through `CopyRecords` and the source host's connections through
 * a `HostLeaseLedger`; the copy job (jobs/copy-video.job.ts) wires both to the database and queue.
 */
import { setTimeout as sleepTimer } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { combinePartChecksums, formatCrc32c } from '../domain/crc32c-combine.js';
import { AppError, isAppError, toOperationError, type OperationError } from '../domain/errors.js';
import { countParts, remainingParts, type PartSpec, type RecordedPart } from '../domain/part-plan.js';
import type { OutboundClient, PinnedPool } from '../net/outbound-client.js';
import { videoSourceKey, type BlobKey } from '../storage/blob-keys.js';
import type { BlobStore, BlobUpload } from '../storage/blob-store.js';
import { UploadLostError } from '../storage/blob-store.js';
import { deleteVideoData } from '../storage/video-data.js';
import { CopyCheckpointer, ImportGoneError, type CopyProgress } from './checkpointer.js';
import { copyParts } from './copy-engine.js';
import { acquireHostLease, type HostLease, type HostLeaseLedger } from './host-leases.js';
import type { PartCopyOptions } from './part-copier.js';
import { s3PartAuthorizer, storedS3Source, type StoredS3Source } from './s3-source.js';

/** The import as the copy reads it. */
export interface CopyImport extends StoredS3Source {
  videoId: string;
  status: 'INITIAL' | 'IN_PROGRESS' | 'DONE' | 'FAILED';
  sourceKind: 'https' | 's3';
  /** The URL the parts are fetched from, and the addresses its host was pinned to when checked. */
  fetchUrl: string;
  pinnedAddresses: string[];
  totalBytes: number;
  partSizeBytes: number;
  etag: string | null;
  lastModified: string | null;
  expectedCrc32c: number | null;
  skipChecksumValidation: boolean;
  maxConnections: number;
  fullIngestion: boolean;
  uploadState: Record<string, unknown> | null;
}

export interface FoundImport {
  videoImport: CopyImport;
  teamId: string;
}

/**
 * The import's records. Every change is one transaction guarded by the state it expects, and
 * the events and follow-up jobs it causes are recorded in that same transaction.
 */
export interface CopyRecords {
  find(videoId: string): Promise<FoundImport | null>;
  /** INITIAL -> IN_PROGRESS with its `video_in.started` event; nothing when it is not INITIAL. */
  markStarted(found: FoundImport, now: Date): Promise<void>;
  listParts(videoId: string): Promise<RecordedPart[]>;
  /** A new upload: forgets every recorded part (none can refer to it) and saves its state. */
  startUpload(videoId: string, uploadState: Record<string, unknown>): Promise<void>;
  /** Records parts (possibly none) and progress; false when the import is no longer IN_PROGRESS. */
  checkpoint(videoId: string, parts: readonly RecordedPart[], progress: CopyProgress, now: Date): Promise<boolean>;
  /**
   * IN_PROGRESS -> DONE, publishing the file, with its `video_in.done` event, its ingestion and
   * the ingestion's job; false when it was not IN_PROGRESS.
   */
  markDone(found: FoundImport, result: { crc32c: number; storageKey: BlobKey; now: Date }): Promise<boolean>;
  /** INITIAL or IN_PROGRESS -> FAILED with its `video_in.failed` event; false when it had ended or is gone. */
  markFailed(found: FoundImport, error: OperationError, now: Date): Promise<boolean>;
  /** Queues the copy again (any worker continues it from the recorded parts). */
  requeue(videoId: string): Promise<void>;
}

export interface CopyRunDeps {
  records: CopyRecords;
  leases: HostLeaseLedger;
  store: BlobStore;
  client: OutboundClient;
  /** Aborted when this process shuts down: the copy stops and is queued again for any worker. */
  shutdownSignal: AbortSignal;
  copy: Config['copy'];
  /** Opens the sealed key pairs of S3 imports. */
  kek: Buffer;
  log: Logger;
  now?: () => Date;
}

export interface CopyRequest {
  videoId: string;
  /** Names this run in the source host's lease and the logs (the job id). */
  holder: string;
  /** Aborted when the run must stop (its job was taken over or timed out). */
  signal: AbortSignal;
}

interface CopyRun {
  deps: CopyRunDeps;
  now: () => Date;
  found: FoundImport;
  key: BlobKey;
  log: Logger;
  signal: AbortSignal;
  holder: string;
  /** When each step of this run ended (performance.now() ms), for the log's account of where time went. */
  marks: Map<string, number>;
}

/** Notes the end of a step (the first time only: the first byte, not every byte). */
function mark(run: CopyRun, step: string): void {
  if (!run.marks.has(step)) run.marks.set(step, performance.now());
}

/** Milliseconds each step took, from the job's start, in the order the steps ended. */
function stepDurations(run: CopyRun): Record<string, number> {
  const durations: Record<string, number> = {};
  let previous: number | undefined;
  for (const [step, at] of run.marks) {
    if (previous !== undefined) durations[step] = Math.round((at - previous) * 10) / 10;
    previous = at;
  }
  return durations;
}

/**
 * Copies the import `request.videoId` to its end (DONE, or FAILED with a permanent failure);
 * rejects with failures worth a retry of the job, and when another worker took the job over.
 */
export async function copyImport(deps: CopyRunDeps, request: CopyRequest): Promise<void> {
  const now = deps.now ?? (() => new Date());
  const { videoId } = request;
  const log = deps.log.child({ videoId, jobId: request.holder });
  const found = await deps.records.find(videoId);
  if (found === null || found.videoImport.status === 'DONE' || found.videoImport.status === 'FAILED') {
    log.info({ status: found?.videoImport.status ?? 'deleted' }, 'copy job has nothing to do');
    return;
  }
  const marks = new Map([['jobStart', performance.now()]]);
  if (found.videoImport.status === 'INITIAL') await deps.records.markStarted(found, now());
  const run: CopyRun = {
    deps,
    now,
    found,
    key: videoSourceKey(found.teamId, videoId),
    log,
    signal: AbortSignal.any([request.signal, deps.shutdownSignal]),
    holder: request.holder,
    marks,
  };
  try {
    await runCopy(run);
  } catch (error) {
    await handleFailure(run, error);
  }
}

async function handleFailure(run: CopyRun, error: unknown): Promise<void> {
  const { deps, found, log } = run;
  if (error instanceof ImportGoneError) {
    log.info('import was deleted while copying; removing its data');
    await deleteStoredData(run);
    return;
  }
  if (deps.shutdownSignal.aborted) {
    // Queued again rather than failed, so a deploy does not use up the job's retries.
    log.info('copy interrupted by shutdown; queued again to continue from the recorded parts');
    await deps.records.requeue(found.videoImport.videoId);
    return;
  }
  // Another worker took the job over: leave everything to it.
  if (run.signal.aborted) throw error;
  const failure = toPermanentFailure(error);
  if (failure === null) throw error;
  log.warn({ code: failure.code, err: error }, 'copy failed');
  if (!(await deps.records.markFailed(found, toOperationError(failure), run.now()))) await deleteStoredData(run);
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
  // Without an upload no part can be recorded (a new upload forgets them): one query fewer before
  // a new copy's first request.
  let recorded = source.uploadState === null ? [] : await deps.records.listParts(source.videoId);
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
  mark(run, 'uploadOpened');
  if (opened.restarted) {
    recorded = [];
    remaining = remainingParts(source.totalBytes, source.partSizeBytes, []);
  }
  try {
    if (remaining.length > 0) {
      // The parts this run recorded, kept as it recorded them: no query between the last byte and DONE.
      const added = await copyUnderHostLease(run, opened.upload, remaining, recorded);
      recorded = [...recorded, ...added].sort((a, b) => a.partIndex - b.partIndex);
    }
    await finish(run, recorded, opened.upload);
  } finally {
    await opened.upload.close();
  }
}

/**
 * Copies the remaining parts with as many connections as the source host's ceiling grants (see
 * host-leases.ts), and more as the lease grows, holding the lease until every connection is closed.
 */
async function copyUnderHostLease(
  run: CopyRun,
  upload: BlobUpload,
  remaining: PartSpec[],
  recorded: RecordedPart[],
): Promise<RecordedPart[]> {
  const { deps, log } = run;
  const source = run.found.videoImport;
  const lease = await acquireHostLease(
    {
      ledger: deps.leases,
      ceiling: deps.copy.sourceHostMaxConnections,
      log,
      sleep: (ms, abort) => sleepTimer(ms, undefined, { signal: abort }),
    },
    { url: source.fetchUrl, videoId: source.videoId, holder: run.holder, wanted: source.maxConnections },
    run.signal,
  );
  try {
    mark(run, 'leased');
    const target = deps.client.restore(source.fetchUrl, source.pinnedAddresses);
    return await copyRemaining(run, upload, () => deps.client.openPool(target, 1), remaining, recorded, lease);
  } finally {
    // An unreleased lease expires by itself; the copy's own outcome matters more.
    await lease
      .release()
      .catch((error: unknown) =>
        log.warn({ err: error }, 'releasing the source host lease failed; it expires by itself'),
      );
    mark(run, 'leaseReleased');
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
    await deps.records.startUpload(source.videoId, upload.state);
    return { upload, restarted: true };
  } catch (error) {
    if (!(error instanceof UploadLostError)) throw error;
    log.warn({ err: error }, 'the partial upload is lost; copying every part again');
    await deps.store.abortUpload(key, state);
    const upload = await deps.store.openUpload(key, source.totalBytes, null);
    await deps.records.startUpload(source.videoId, upload.state);
    return { upload, restarted: true };
  }
}

async function copyRemaining(
  run: CopyRun,
  upload: BlobUpload,
  openConnection: () => PinnedPool,
  remaining: PartSpec[],
  recorded: RecordedPart[],
  lease: HostLease,
): Promise<RecordedPart[]> {
  const { deps, found, log, now } = run;
  const source = found.videoImport;
  const added: RecordedPart[] = [];
  const halt = new AbortController();
  const signal = AbortSignal.any([run.signal, halt.signal]);
  const checkpointer = new CopyCheckpointer({
    progressIntervalMs: deps.copy.progressIntervalMs,
    durableIntervalMs: deps.copy.checkpointIntervalMs,
    recordedBytes: recorded.reduce((sum, part) => sum + part.lengthBytes, 0),
    totalBytes: source.totalBytes,
    flush: () => upload.flush(),
    persist: async (parts, progress) => {
      const batch = parts.map((part) => ({
        partIndex: part.index,
        offsetBytes: part.offsetBytes,
        lengthBytes: part.lengthBytes,
        crc32c: part.crc32c,
        receipt: part.receipt,
      }));
      const accepted = await deps.records.checkpoint(source.videoId, batch, progress, now());
      if (accepted) added.push(...batch);
      return accepted;
    },
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
        onBytes: (delta) => {
          mark(run, 'firstByte');
          checkpointer.addBytes(delta);
        },
        onPartCopied: (part) => checkpointer.addPart(part),
        onRetry: ({ part, attempt, delayMs, error }) =>
          log.info({ part: part.index, attempt, delayMs, code: error.code, reason: error.message }, 'retrying part'),
        ...sourceAccess(run),
      },
      signal,
    );
    mark(run, 'lastPartStored');
  } finally {
    await checkpointer.stop();
    mark(run, 'lastCheckpoint');
  }
  if (halt.signal.aborted) throw halt.signal.reason;
  return added;
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
  mark(run, 'completed');
  if (!(await deps.records.markDone(found, { crc32c, storageKey: key, now: run.now() })))
    throw new ImportGoneError('the import was deleted or abandoned before it could be completed');
  mark(run, 'markedDone');
  log.info({ crc32c: formatCrc32c(crc32c), totalBytes: source.totalBytes, stepsMs: stepDurations(run) }, 'copy done');
}
