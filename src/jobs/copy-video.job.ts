/**
 * The copy job: hands the import to the copy (copy/copy-run.ts) with its records wired to the
 * database and the queue, and the source host's leases to the database's ledger.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { copyImport, type CopyRecords, type CopyRunDeps } from '../copy/copy-run.js';
import type { Database } from '../db/database.js';
import { databaseHostLeaseLedger } from '../db/host-lease-ledger.js';
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
} from '../db/queries/imports.queries.js';
import type { OutboundClient } from '../net/outbound-client.js';
import type { BlobStore } from '../storage/blob-store.js';
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

export function createCopyVideoHandler(deps: CopyJobDeps): JobHandler<'copy-video'> {
  const { db, queue, ...rest } = deps;
  const run: CopyRunDeps = { ...rest, records: databaseCopyRecords(db, queue), leases: databaseHostLeaseLedger(db) };
  return ({ videoId }, context: JobContext) =>
    copyImport(run, { videoId, holder: context.jobId, signal: context.signal });
}

/** The import's records in the database; the ingestion and a copy's next run go on the queue in the same transactions. */
function databaseCopyRecords(db: Database, queue: JobQueue): CopyRecords {
  return {
    find: (videoId) => findImportForCopy(db, videoId),
    markStarted: (found, now) =>
      db.transaction(async (tx) => {
        const videoId = found.videoImport.videoId;
        if (await markImportStarted(tx, videoId, now))
          await recordEvent(tx, { teamId: found.teamId, videoId, type: 'video_in.started' });
      }),
    listParts: (videoId) => listRecordedParts(db, videoId),
    startUpload: (videoId, uploadState) =>
      db.transaction(async (tx) => {
        await deleteRecordedParts(tx, videoId);
        await saveUploadState(tx, videoId, uploadState);
      }),
    checkpoint: (videoId, parts, progress, now) =>
      db.transaction(async (tx) => {
        await recordParts(tx, videoId, parts);
        return saveImportProgress(tx, videoId, { ...progress, now });
      }),
    markDone: (found, result) =>
      db.transaction(async (tx) => {
        const source = found.videoImport;
        if (!(await markImportDone(tx, source.videoId, { ...result, totalBytes: source.totalBytes }))) return false;
        await recordEvent(tx, { teamId: found.teamId, videoId: source.videoId, type: 'video_in.done' });
        await insertIngestion(tx, source.videoId, source.fullIngestion);
        await queue.send(tx, 'ingest-video', { videoId: source.videoId }, { groupId: found.teamId });
        return true;
      }),
    markFailed: (found, error, now) =>
      db.transaction(async (tx) => {
        const videoId = found.videoImport.videoId;
        if (!(await markImportFailed(tx, videoId, error, now))) return false;
        await recordEvent(tx, {
          teamId: found.teamId,
          videoId,
          type: 'video_in.failed',
          data: { errorCode: error.code },
        });
        return true;
      }),
    requeue: (videoId) => db.transaction((tx) => queue.send(tx, 'copy-video', { videoId })),
  };
}
