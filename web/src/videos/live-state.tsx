/**
 * A video's live state in a line or two: the copy's progress bar (bytes of total, rate, time
 * left), the ingestion's or clip's stage, percentage and ETA, or a failure's code and message.
 */
import type { Video } from '../api/client';
import { formatBytes, formatRate, formatSeconds } from '../format/format';
import styles from './live-state.module.css';

interface Failure {
  stage: string;
  code: string;
  message: string;
}

function failureOf(video: Video): Failure | null {
  const upload = video.upload?.uploadState;
  if (upload?.uploadStatus === 'FAILED')
    return { stage: 'Copy', code: upload.error?.code ?? 'FAILED', message: upload.error?.message ?? 'the copy failed' };
  const ingestion = video.ingestion.ingestionState;
  if (ingestion.ingestionStatus === 'FAILED')
    return {
      stage: 'Ingestion',
      code: ingestion.error?.code ?? 'FAILED',
      message: ingestion.error?.message ?? 'the ingestion failed',
    };
  const processing = video.processing?.processingState;
  if (processing?.processingStatus === 'FAILED')
    return {
      stage: 'Clip',
      code: processing.error?.code ?? 'FAILED',
      message: processing.error?.message ?? 'the cut failed',
    };
  return null;
}

function CopyProgress({ upload }: { upload: NonNullable<Video['upload']>['uploadState'] }) {
  const total = upload.totalBytes ?? null;
  const copied = upload.bytesCopied ?? 0;
  const label = upload.uploadStatus === 'INITIAL' ? 'Copy waiting to start' : 'Copying';
  return (
    <div className={styles.progress} data-testid="copy-progress">
      <span className={styles.stage}>{label}</span>
      <progress
        max={total ?? 100}
        value={total === null ? upload.progressPercentage : copied}
        aria-label={`Copy progress, ${upload.progressPercentage}%`}
      />
      <span className={styles.figures}>
        <span data-testid="bytes-copied">{formatBytes(copied)}</span> of {formatBytes(total)} ·{' '}
        {formatRate(upload.bytesPerSecond)} · {formatSeconds(upload.etaSeconds)} left
      </span>
    </div>
  );
}

function StageProgress(props: { stage: string; status: string; percentage: number; etaSeconds: number | null }) {
  return (
    <div className={styles.progress} data-testid="stage-progress">
      <span className={styles.stage}>
        {props.stage} {props.status === 'INITIAL' ? 'waiting' : 'running'}
      </span>
      <progress max={100} value={props.percentage} aria-label={`${props.stage} progress, ${props.percentage}%`} />
      <span className={styles.figures}>
        {props.percentage}% · {props.etaSeconds === null ? 'ETA unknown' : `${formatSeconds(props.etaSeconds)} left`}
      </span>
    </div>
  );
}

/** The one-word summary of where a video is, as the list's status column shows it. */
export function summaryOf(video: Video): string {
  const upload = video.upload?.uploadState.uploadStatus;
  const ingestion = video.ingestion.ingestionState.ingestionStatus;
  const processing = video.processing?.processingState.processingStatus;
  if (failureOf(video) !== null) return 'Failed';
  if (upload === 'INITIAL' || upload === 'IN_PROGRESS') return 'Copying';
  if (ingestion === 'IN_PROGRESS') return 'Ingesting';
  if (processing === 'INITIAL' || processing === 'IN_PROGRESS') return 'Cutting';
  if (ingestion === 'DONE') return 'Ready';
  return video.processing === null ? 'Copied' : 'Cut';
}

export function LiveState({ video }: { video: Video }) {
  const failure = failureOf(video);
  if (failure !== null)
    return (
      <div className={styles.failure} data-testid="failure">
        <span className={styles.stage}>{failure.stage} failed</span> <code>{failure.code}</code>{' '}
        <span>{failure.message}</span>
      </div>
    );
  const upload = video.upload?.uploadState;
  if (upload !== undefined && (upload.uploadStatus === 'INITIAL' || upload.uploadStatus === 'IN_PROGRESS'))
    return <CopyProgress upload={upload} />;
  const ingestion = video.ingestion.ingestionState;
  if (ingestion.ingestionStatus === 'IN_PROGRESS')
    return (
      <StageProgress
        stage="Ingestion"
        status={ingestion.ingestionStatus}
        percentage={ingestion.progressPercentage}
        etaSeconds={ingestion.etaSeconds}
      />
    );
  const processing = video.processing?.processingState;
  if (
    processing !== undefined &&
    (processing.processingStatus === 'INITIAL' || processing.processingStatus === 'IN_PROGRESS')
  )
    return (
      <StageProgress
        stage="Clip"
        status={processing.processingStatus}
        percentage={processing.progressPercentage}
        etaSeconds={processing.etaSeconds}
      />
    );
  return (
    <span className={styles.done} data-testid="state-summary">
      {summaryOf(video)}
    </span>
  );
}
