/**
 * The dead letter of the copy job: its retries ran out (its workers kept dying, or the database
 * kept failing under it). The import is marked FAILED so the user sees it and can restart it;
 * the parts copied so far are kept for that restart.
 */
import type { Logger } from 'pino';
import type { Database } from '../db/database.js';
import { recordEvent } from '../db/queries/events.queries.js';
import { findImportForCopy, markImportFailed } from '../db/queries/imports.queries.js';
import { jobPolicies, type JobHandler } from './catalog.js';

export function createCopyVideoExhaustedHandler(deps: {
  db: Database;
  log: Logger;
  now?: () => Date;
}): JobHandler<'copy-video-exhausted'> {
  const now = deps.now ?? (() => new Date());
  return async ({ videoId }) => {
    const found = await findImportForCopy(deps.db, videoId);
    if (found === null) return;
    const failed = await deps.db.transaction(async (tx) => {
      const error = {
        code: 'COPY_INTERRUPTED' as const,
        message: `the copy was interrupted ${jobPolicies['copy-video'].retryLimit + 1} times without finishing; restart it to continue from the parts already copied`,
        details: {},
      };
      if (!(await markImportFailed(tx, videoId, error, now()))) return false;
      await recordEvent(tx, {
        teamId: found.teamId,
        videoId,
        type: 'video_in.failed',
        data: { errorCode: error.code },
      });
      return true;
    });
    if (failed) deps.log.error({ videoId }, 'copy job exhausted its retries; import marked FAILED');
  };
}
