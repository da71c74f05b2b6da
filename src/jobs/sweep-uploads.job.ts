/**
 * The sweep of multipart uploads (S3): uploads live on in the bucket, costing storage, until they
 * are completed or aborted, and a crash, a deleted import or a lost database row can leave one
 * behind. The sweep lists the uploads under the store's prefix and aborts those no import needs:
 * unknown to every import (orphans), or owned by an import that is DONE, or by one that FAILED
 * longer ago than the retention. A FAILED import keeps its upload for the retention period because
 * a restart resumes from its recorded parts; past it, the upload is aborted and the import forgets
 * its upload and parts, so a later restart starts over. Uploads younger than the minimum age are
 * never touched: an import records its upload id only after S3 created it.
 *
 * The same sweep, with any storage, deletes the stored S3 key pairs of imports that FAILED longer
 * ago than the same retention: a restart is offered only within it, and a key pair nobody will use
 * again is a secret kept for nothing.
 *
 * One sweep runs at a time across the deployment (a singleton job); workers only ask for it.
 */
import type { Logger } from 'pino';
import type { Database } from '../db/database.js';
import {
  clearExpiredFailedImportCredentials,
  clearFailedImportUpload,
  findUploadOwners,
  type UploadOwner,
} from '../db/queries/upload-sweep.queries.js';
import type { BlobStore, PendingUpload } from '../storage/blob-store.js';
import type { JobHandler } from './catalog.js';

export interface SweepPolicy {
  /** Uploads younger than this are kept whatever the database says. */
  minAgeMs: number;
  /** How long after failing an import keeps its upload and its S3 source's key pair for a restart. */
  failedRetentionMs: number;
}

export interface SweepDeps {
  db: Database;
  store: BlobStore;
  policy: SweepPolicy;
  log: Logger;
  now?: () => Date;
}

export type SweepVerdict =
  | { action: 'keep'; reason: 'young' | 'in use' | 'failed within retention' }
  | { action: 'abort'; reason: 'orphaned' | 'import done' }
  | { action: 'abort and clear'; reason: 'failed past retention' };

/** What to do with one listed upload, given the import that records it (if any). */
export function judgeUpload(
  upload: Pick<PendingUpload, 'initiatedAt'>,
  owner: Pick<UploadOwner, 'status' | 'finishedAt'> | null,
  policy: SweepPolicy,
  now: Date,
): SweepVerdict {
  if (now.getTime() - upload.initiatedAt.getTime() < policy.minAgeMs) return { action: 'keep', reason: 'young' };
  if (owner === null) return { action: 'abort', reason: 'orphaned' };
  if (owner.status === 'INITIAL' || owner.status === 'IN_PROGRESS') return { action: 'keep', reason: 'in use' };
  if (owner.status === 'DONE') return { action: 'abort', reason: 'import done' };
  const failedAt = owner.finishedAt ?? upload.initiatedAt;
  if (now.getTime() - failedAt.getTime() < policy.failedRetentionMs)
    return { action: 'keep', reason: 'failed within retention' };
  return { action: 'abort and clear', reason: 'failed past retention' };
}

export interface SweepSummary {
  listed: number;
  aborted: number;
  /** FAILED imports whose upload state and parts were cleared. */
  cleared: number;
}

/** Uploads looked up in the database per query. */
const BATCH = 100;

export async function sweepUploads(deps: SweepDeps): Promise<SweepSummary> {
  const summary: SweepSummary = { listed: 0, aborted: 0, cleared: 0 };
  if (!deps.store.listUploads) return summary;
  const now = deps.now?.() ?? new Date();
  let batch: PendingUpload[] = [];
  for await (const upload of deps.store.listUploads()) {
    summary.listed += 1;
    batch.push(upload);
    if (batch.length === BATCH) {
      await sweepBatch(deps, batch, now, summary);
      batch = [];
    }
  }
  await sweepBatch(deps, batch, now, summary);
  if (summary.aborted > 0) deps.log.info(summary, 'upload sweep aborted unneeded multipart uploads');
  return summary;
}

async function sweepBatch(deps: SweepDeps, uploads: PendingUpload[], now: Date, summary: SweepSummary): Promise<void> {
  const owners = new Map(
    (
      await findUploadOwners(
        deps.db,
        uploads.map((upload) => upload.uploadId),
      )
    ).map((owner) => [owner.uploadId, owner]),
  );
  for (const upload of uploads) {
    const owner = owners.get(upload.uploadId) ?? null;
    const verdict = judgeUpload(upload, owner, deps.policy, now);
    if (verdict.action === 'keep') continue;
    await deps.store.abortUpload(upload.key, upload.state);
    summary.aborted += 1;
    deps.log.info(
      {
        key: upload.key,
        uploadId: upload.uploadId,
        initiatedAt: upload.initiatedAt,
        videoId: owner?.videoId ?? null,
        reason: verdict.reason,
      },
      'aborted a multipart upload',
    );
    if (verdict.action === 'abort and clear' && owner !== null) {
      if (await deps.db.transaction((tx) => clearFailedImportUpload(tx, owner.videoId, upload.uploadId)))
        summary.cleared += 1;
    }
  }
}

/** Deletes the S3 key pairs of FAILED imports past the retention; returns how many. */
export async function clearExpiredS3Credentials(
  deps: Pick<SweepDeps, 'db' | 'policy' | 'log' | 'now'>,
): Promise<number> {
  if (!Number.isFinite(deps.policy.failedRetentionMs)) return 0;
  const now = deps.now?.() ?? new Date();
  const cleared = await clearExpiredFailedImportCredentials(
    deps.db,
    new Date(now.getTime() - deps.policy.failedRetentionMs),
  );
  if (cleared.length > 0)
    deps.log.info(
      { videoIds: cleared },
      'deleted the S3 key pairs of imports that failed longer ago than the retention',
    );
  return cleared.length;
}

export function createSweepUploadsHandler(deps: SweepDeps): JobHandler<'sweep-uploads'> {
  return async () => {
    await clearExpiredS3Credentials(deps);
    await sweepUploads(deps);
  };
}
