/**
 * The ingestion job: reads a stored video with ffprobe/ffmpeg (never copying it first) and records
 * what it finds and makes, stage by stage — metadata; with full ingestion also the scan type seen
 * in the pictures, a quality assessment, thumbnails with a poster and full frames, and a web video.
 * Each stage's results are saved as soon as they exist, so the API shows them while later stages
 * run. When a master's ingestion is done, its free clip is created and queued in the same
 * transaction.
 *
 * Idempotent: a run that finds the ingestion ended does nothing; a run after a crash redoes the
 * stages (their outputs go under deterministic keys, so nothing is left twice).
 *
 * Contained (docs/media-security.md): the run holds a slot of its team's media ceiling (else it is
 * queued again), stops when its video is deleted, and a full ingestion refuses media whose duration
 * is unknown or past the maximum once the metadata is read.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { chooseClipWindow } from '../domain/clip-window.js';
import { AppError } from '../domain/errors.js';
import { refuseDuration } from '../domain/media-limits.js';
import { fileStem } from '../domain/source-file.js';
import { fractionDone, planIngestion, type IngestionPlan, type IngestionStage } from '../domain/ingestion-plan.js';
import { createFreeClip } from '../db/queries/clips.queries.js';
import { recordEvent } from '../db/queries/events.queries.js';
import {
  findIngestionWork,
  markIngestionDone,
  markIngestionStarted,
  replaceArtifacts,
  saveIngestionProgress,
  type IngestionResults,
  type IngestionWork,
  type NewArtifact,
} from '../db/queries/ingestion.queries.js';
import type { StillImage } from '../media/ingestion-media.js';
import type { ProbedVideo, ScanType, VideoMetadata } from '../media/metadata.js';
import { toBlobKey, videoArtifactKey } from '../storage/blob-keys.js';
import type { JobContext, JobHandler } from './catalog.js';
import {
  failMediaOperation,
  mediaJobSignal,
  ProgressReporter,
  takeSlotOrDefer,
  withWorkDir,
  type MediaJobDeps,
} from './media-job-support.js';

export type IngestJobDeps = MediaJobDeps;

interface IngestRun {
  deps: IngestJobDeps;
  work: IngestionWork;
  input: string;
  workDir: string;
  plan: IngestionPlan;
  progress: ProgressReporter;
  signal: AbortSignal;
  now: () => Date;
}

export function eventStageOf(work: { video: { isClip: boolean } }): 'clip_ingestion' | 'video_in_ingestion' {
  return work.video.isClip ? 'clip_ingestion' : 'video_in_ingestion';
}

export function createIngestVideoHandler(deps: IngestJobDeps): JobHandler<'ingest-video'> {
  const now = deps.now ?? (() => new Date());
  return async ({ videoId }, context: JobContext) => {
    const log = deps.log.child({ videoId, jobId: context.jobId, job: 'ingest-video' });
    const work = await findIngestionWork(deps.db, videoId);
    if (work === null || work.ingestion.status === 'DONE' || work.ingestion.status === 'FAILED') {
      log.info({ status: work?.ingestion.status ?? 'deleted' }, 'ingestion job has nothing to do');
      return;
    }
    if (work.video.storageKey === null || work.video.fileSizeBytes === null)
      throw new Error(`video ${videoId} has no stored file to ingest`);
    const slot = await takeSlotOrDefer(
      deps,
      'ingest-video',
      { teamId: work.video.teamId, videoId, kind: 'ingestion', holder: context.jobId },
      log,
    );
    if (slot === null) return;
    const watched = deps.deletions.watch(videoId);
    try {
      await ingest({ deps, work, context, deleted: watched.signal, log, now });
    } finally {
      watched.release();
      await slot.release();
    }
  };
}

interface IngestRequest {
  deps: IngestJobDeps;
  work: IngestionWork;
  context: JobContext;
  /** Aborted when the video is deleted. */
  deleted: AbortSignal;
  log: Logger;
  now: () => Date;
}

async function ingest({ deps, work, context, deleted, log, now }: IngestRequest): Promise<void> {
  const videoId = work.video.id;
  const plan = planIngestion(work.ingestion.full, deps.media.unavailable);
  const stage = eventStageOf(work);
  await deps.db.transaction(async (tx) => {
    const unavailable = plan.skipped.map(({ feature, reason }) => ({ feature, reason }));
    if (await markIngestionStarted(tx, videoId, now(), unavailable))
      await recordEvent(tx, { teamId: work.video.teamId, videoId, type: `${stage}.started` });
  });
  const signal = mediaJobSignal(deps, context, deleted);
  try {
    const input = await deps.store.mediaSource(toBlobKey(work.video.storageKey ?? ''), 24 * 3600);
    const metadata = await withWorkDir(deps.workDir, `ingest-${videoId}-${randomUUID()}`, async (workDir) => {
      const progress = new ProgressReporter({
        intervalMs: deps.progressIntervalMs,
        now,
        save: (state) => saveIngestionProgress(deps.db, videoId, state, now()),
      });
      return runStages({ deps, work, input, workDir, plan, progress, signal, now });
    });
    await finish(deps, work, metadata, now);
    log.info({ stages: plan.stages.map((planned) => planned.stage), skipped: plan.skipped }, 'ingestion done');
  } catch (error) {
    await failMediaOperation({
      deps,
      log,
      now,
      error,
      signal,
      operation: { kind: 'ingestion', videoId, teamId: work.video.teamId, eventStage: stage },
    });
  }
}

/** Runs the planned stages in order; the metadata they found (null only if none ran). */
async function runStages(run: IngestRun): Promise<VideoMetadata | null> {
  const { deps, work, signal } = run;
  let probed: ProbedVideo | null = null;
  let heuristics: ScanType | null = null;
  for (const [index, { stage }] of run.plan.stages.entries()) {
    const report = (within: number) => run.progress.report(fractionDone(run.plan, index, within));
    report(0);
    if (stage === 'metadata') {
      probed = await deps.media.probe(run.input, work.video.fileSizeBytes ?? 0, signal);
      await save(run, { metadata: { ...probed.metadata }, videoMetadataAvailable: true });
      refuseUnboundedWork(run, probed);
      continue;
    }
    if (probed === null) throw new Error('the metadata stage must come first');
    const deinterlace = (heuristics ?? probed.metadata.scanning.metadata) !== 'PROGRESSIVE';
    await runStage(run, stage, probed, {
      deinterlace,
      report,
      setHeuristics: (found) => {
        heuristics = found;
      },
    });
  }
  await run.progress.flush();
  return probed?.metadata ?? null;
}

/**
 * A full ingestion's later stages take time that grows with the duration: media whose duration is
 * unknown or past the maximum is refused here, with its metadata recorded. Metadata-only
 * ingestion is bounded whatever the duration and goes on.
 */
function refuseUnboundedWork(run: IngestRun, probed: ProbedVideo): void {
  if (run.plan.stages.length <= 1) return;
  const durationMs = probed.metadata.durationInMillis;
  const refusal = refuseDuration(durationMs, run.deps.maxDurationMs);
  if (refusal !== null)
    throw new AppError('MEDIA_LIMIT_EXCEEDED', refusal, {
      limit: 'duration',
      durationMillis: durationMs,
      maxDurationMillis: run.deps.maxDurationMs,
    });
}

interface StageContext {
  deinterlace: boolean;
  report: (within: number) => void;
  setHeuristics: (found: ScanType) => void;
}

async function runStage(
  run: IngestRun,
  stage: Exclude<IngestionStage, 'metadata'>,
  probed: ProbedVideo,
  context: StageContext,
): Promise<void> {
  const { deps, signal } = run;
  switch (stage) {
    case 'scanType': {
      const found = await deps.media.analyzeScanType(run.input, probed, signal);
      context.setHeuristics(found);
      probed.metadata.scanning.heuristics = found;
      await save(run, { metadata: { ...probed.metadata } });
      return;
    }
    case 'qualityAssessment': {
      const assessment = await deps.media.assessQuality(
        run.input,
        probed,
        { deinterlace: context.deinterlace },
        signal,
      );
      await save(run, { qualityAssessment: { ...assessment } });
      return;
    }
    case 'stills': {
      const outputDir = path.join(run.workDir, 'stills');
      await fs.mkdir(outputDir, { recursive: true });
      const stills = await deps.media.extractStills(
        run.input,
        probed,
        { outputDir, deinterlace: context.deinterlace, onProgress: context.report },
        signal,
      );
      const thumbnails = await storeImages(run, 'thumbnails', stills.thumbnails);
      const fullFrames = await storeImages(run, 'frames', stills.fullFrames);
      const poster = await storeImages(run, 'poster', [stills.poster]);
      await deps.db.transaction(async (tx) => {
        await replaceArtifacts(tx, run.work.video.id, 'THUMBNAIL', thumbnails);
        await replaceArtifacts(tx, run.work.video.id, 'POSTER', poster);
        await replaceArtifacts(tx, run.work.video.id, 'FULL_FRAME', fullFrames);
      });
      await save(run, { thumbnailsAvailable: thumbnails.length > 0, fullFramesAvailable: fullFrames.length > 0 });
      return;
    }
    case 'webVideo': {
      const output = path.join(run.workDir, 'web.mp4');
      const size = await deps.media.encodeWebVideo(
        run.input,
        probed,
        { output, deinterlace: context.deinterlace, onProgress: context.report },
        signal,
      );
      const stored = await storeFile(run, 'web.mp4', output);
      await deps.db.transaction((tx) =>
        replaceArtifacts(tx, run.work.video.id, 'WEB_VIDEO', [
          {
            position: 0,
            timestampMillis: null,
            width: size.width,
            height: size.height,
            sizeBytes: stored.sizeBytes,
            mimeType: 'video/mp4',
            storageKey: stored.key,
          },
        ]),
      );
      await save(run, { webVideoAvailable: true });
      return;
    }
  }
}

async function save(run: IngestRun, results: IngestionResults): Promise<void> {
  await saveIngestionProgress(run.deps.db, run.work.video.id, results, run.now());
}

async function storeFile(run: IngestRun, name: string, localPath: string): Promise<{ key: string; sizeBytes: number }> {
  const key = videoArtifactKey(run.work.video.teamId, run.work.video.id, name);
  const { sizeBytes } = await run.deps.store.put(key, createReadStream(localPath), run.signal);
  return { key, sizeBytes };
}

async function storeImages(run: IngestRun, folder: string, images: readonly StillImage[]): Promise<NewArtifact[]> {
  const artifacts: NewArtifact[] = [];
  for (const [position, image] of images.entries()) {
    const name = `${folder}/${String(position).padStart(4, '0')}${path.extname(image.path)}`;
    const stored = await storeFile(run, name, image.path);
    artifacts.push({
      position,
      timestampMillis: image.timestampMillis,
      width: image.width,
      height: image.height,
      sizeBytes: stored.sizeBytes,
      mimeType: image.mimeType,
      storageKey: stored.key,
    });
  }
  return artifacts;
}

/** Marks the ingestion DONE; for a master of a team that wants clips, creates and queues its free clip. */
async function finish(
  deps: IngestJobDeps,
  found: IngestionWork,
  metadata: VideoMetadata | null,
  now: () => Date,
): Promise<void> {
  const { video } = found;
  await deps.db.transaction(async (tx) => {
    if (!(await markIngestionDone(tx, video.id, now()))) return;
    await recordEvent(tx, { teamId: video.teamId, videoId: video.id, type: `${eventStageOf(found)}.done` });
    if (video.isClip || !found.freeClipEnabled || deps.media.clipFormat === null) return;
    // A clip needs a trustworthy duration: none for media a full ingestion would refuse.
    const durationMs = metadata?.durationInMillis ?? null;
    if (durationMs === null || refuseDuration(durationMs, deps.maxDurationMs) !== null) return;
    const window = chooseClipWindow(durationMs, metadata?.averageFrameRate?.frameRate);
    const format = deps.media.clipFormat;
    const clipId = await createFreeClip(tx, {
      master: video,
      name: `${video.name} (clip)`.slice(0, 255),
      fileName: `${fileStem(video.fileName)}-clip.${format.extension}`.slice(0, 255),
      mimeType: format.mimeType,
      containerName: format.containerName,
      // Down to the millisecond, so the window's first frame (at or after the start) stays in it.
      startPositionMillis: Math.floor(window.startMs),
      endPositionMillis: Math.round(window.endMs),
    });
    if (clipId !== null) await deps.queue.send(tx, 'cut-clip', { videoId: clipId }, { groupId: video.teamId });
  });
}
