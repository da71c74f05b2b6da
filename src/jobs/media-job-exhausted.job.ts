/**
 * The dead letters of the ingestion and clip jobs: their retries ran out (their workers kept dying,
 * or the database or storage kept failing under them). The operation is marked FAILED, with its
 * event, so the user sees it instead of a status stuck IN_PROGRESS.
 */
import type { Logger } from 'pino';
import type { Database } from '../db/database.js';
import { findClipWork } from '../db/queries/clips.queries.js';
import { findIngestionWork } from '../db/queries/ingestion.queries.js';
import { jobPolicies, type JobHandler } from './catalog.js';
import { eventStageOf } from './ingest-video.job.js';
import { interruptedFailure, recordFailure } from './media-job-support.js';

interface ExhaustedDeps {
  db: Database;
  log: Logger;
  now?: () => Date;
}

export function createIngestVideoExhaustedHandler(deps: ExhaustedDeps): JobHandler<'ingest-video-exhausted'> {
  const now = deps.now ?? (() => new Date());
  return async ({ videoId }) => {
    const work = await findIngestionWork(deps.db, videoId);
    if (work === null) return;
    const failure = interruptedFailure('the ingestion', jobPolicies['ingest-video'].retryLimit + 1);
    const operation = {
      kind: 'ingestion',
      videoId,
      teamId: work.video.teamId,
      eventStage: eventStageOf(work),
    } as const;
    if (await recordFailure(deps.db, operation, failure, now()))
      deps.log.error({ videoId }, 'ingestion job exhausted its retries; ingestion marked FAILED');
  };
}

export function createCutClipExhaustedHandler(deps: ExhaustedDeps): JobHandler<'cut-clip-exhausted'> {
  const now = deps.now ?? (() => new Date());
  return async ({ videoId }) => {
    const work = await findClipWork(deps.db, videoId);
    if (work === null) return;
    const failure = interruptedFailure('cutting the clip', jobPolicies['cut-clip'].retryLimit + 1);
    const operation = { kind: 'clip', videoId, teamId: work.clip.teamId, eventStage: 'clip_processing' } as const;
    if (await recordFailure(deps.db, operation, failure, now()))
      deps.log.error({ videoId }, 'clip job exhausted its retries; clip marked FAILED');
  };
}
