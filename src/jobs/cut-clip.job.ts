/**
 * The clip job: cuts a clip's window out of its master, frame-accurately, into a high-quality
 * intermediate file of its own; stores it with its CRC32C (computed while it streams into the
 * store, no second read); then, in one transaction, marks the processing DONE and queues the
 * clip's own full ingestion. Idempotent like every job: an ended processing is left alone.
 * Contained like the ingestion: it holds a slot of its team's media ceiling (else it is queued
 * again) and stops when the clip (or its master) is deleted.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { Transform } from 'node:stream';
import { crc32c } from '@node-rs/crc32';
import type { Logger } from 'pino';
import {
  findClipWork,
  markClipDone,
  markClipStarted,
  saveClipProgress,
  type ClipWork,
} from '../db/queries/clips.queries.js';
import { recordEvent } from '../db/queries/events.queries.js';
import { insertIngestion } from '../db/queries/ingestion.queries.js';
import { toBlobKey, videoSourceKey } from '../storage/blob-keys.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { JobContext, JobHandler } from './catalog.js';
import {
  failMediaOperation,
  mediaJobSignal,
  ProgressReporter,
  takeSlotOrDefer,
  withWorkDir,
  type MediaJobDeps,
} from './media-job-support.js';

export function createCutClipHandler(deps: MediaJobDeps): JobHandler<'cut-clip'> {
  const now = deps.now ?? (() => new Date());
  return async ({ videoId }, context: JobContext) => {
    const log = deps.log.child({ videoId, jobId: context.jobId, job: 'cut-clip' });
    const found = await findClipWork(deps.db, videoId);
    if (found === null || found.processing.status === 'DONE' || found.processing.status === 'FAILED') {
      log.info({ status: found?.processing.status ?? 'deleted' }, 'clip job has nothing to do');
      return;
    }
    const slot = await takeSlotOrDefer(
      deps,
      'cut-clip',
      { teamId: found.clip.teamId, videoId, kind: 'clip', holder: context.jobId },
      log,
    );
    if (slot === null) return;
    // Deleting the master deletes its clips with it; either one gone stops the cut.
    const watchedClip = deps.deletions.watch(videoId);
    const watchedMaster = deps.deletions.watch(found.master.id);
    try {
      await cut({
        deps,
        found,
        context,
        deleted: AbortSignal.any([watchedClip.signal, watchedMaster.signal]),
        log,
        now,
      });
    } finally {
      watchedClip.release();
      watchedMaster.release();
      await slot.release();
    }
  };
}

interface CutRequest {
  deps: MediaJobDeps;
  found: ClipWork;
  context: JobContext;
  /** Aborted when the clip or its master is deleted. */
  deleted: AbortSignal;
  log: Logger;
  now: () => Date;
}

async function cut({ deps, found, context, deleted, log, now }: CutRequest): Promise<void> {
  const { clip, master, processing } = found;
  const videoId = clip.id;
  await deps.db.transaction(async (tx) => {
    if (await markClipStarted(tx, videoId, now()))
      await recordEvent(tx, { teamId: clip.teamId, videoId, type: 'clip_processing.started' });
  });
  const signal = mediaJobSignal(deps, context, deleted);
  try {
    if (master.storageKey === null || master.fileSizeBytes === null)
      throw new Error(`master ${master.id} has no stored file`);
    const input = await deps.store.mediaSource(toBlobKey(master.storageKey), 24 * 3600);
    const stored = await withWorkDir(deps.workDir, `clip-${videoId}-${randomUUID()}`, async (workDir) => {
      const progress = new ProgressReporter({
        intervalMs: deps.progressIntervalMs,
        now,
        save: (state) => saveClipProgress(deps.db, videoId, state, now()),
      });
      // Probing first is part of cutting: the cut needs the frame rate, audio and pixel facts.
      const probed = await deps.media.probe(input, master.fileSizeBytes ?? 0, signal);
      const output = path.join(workDir, `clip${path.extname(clip.fileName)}`);
      await deps.media.cutClip(
        input,
        probed,
        {
          output,
          startMs: processing.startPositionMillis,
          endMs: processing.endPositionMillis,
          onProgress: (fraction) => progress.report(fraction),
        },
        signal,
      );
      await progress.flush();
      return storeWithChecksum(deps.store, videoSourceKey(clip.teamId, clip.id), output, signal);
    });
    await deps.db.transaction(async (tx) => {
      if (!(await markClipDone(tx, videoId, stored, now()))) return;
      await recordEvent(tx, { teamId: clip.teamId, videoId, type: 'clip_processing.done' });
      await insertIngestion(tx, videoId, true);
      await deps.queue.send(tx, 'ingest-video', { videoId }, { groupId: clip.teamId });
    });
    log.info({ sizeBytes: stored.sizeBytes }, 'clip cut');
  } catch (error) {
    await failMediaOperation({
      deps,
      log,
      now,
      error,
      signal,
      operation: { kind: 'clip', videoId, teamId: clip.teamId, eventStage: 'clip_processing' },
    });
  }
}

async function storeWithChecksum(
  store: BlobStore,
  key: ReturnType<typeof videoSourceKey>,
  localPath: string,
  signal: AbortSignal,
): Promise<{ storageKey: string; sizeBytes: number; crc32c: number }> {
  let checksum = 0;
  const observer = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      checksum = crc32c(chunk, checksum);
      callback(null, chunk);
    },
  });
  const { sizeBytes } = await store.put(key, createReadStream(localPath).pipe(observer), signal);
  return { storageKey: key, sizeBytes, crc32c: checksum >>> 0 };
}
