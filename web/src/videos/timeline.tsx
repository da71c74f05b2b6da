/** The video's stages in order (copy, ingestion, clip), each with its status and when it last changed. */
import type { Video } from '../api/client';
import { formatTime } from '../format/format';
import styles from './video-sections.module.css';

interface Stage {
  name: string;
  status: string;
  percentage: number;
  at: string;
}

function stagesOf(video: Video): Stage[] {
  const stages: Stage[] = [{ name: 'Created', status: 'DONE', percentage: 100, at: video.createdAt }];
  const upload = video.upload?.uploadState;
  if (upload !== undefined)
    stages.push({
      name: 'Copy',
      status: upload.uploadStatus,
      percentage: upload.progressPercentage,
      at: upload.updatedAt,
    });
  const processing = video.processing?.processingState;
  if (processing !== undefined)
    stages.push({
      name: 'Clip',
      status: processing.processingStatus,
      percentage: processing.progressPercentage,
      at: processing.updatedAt,
    });
  const ingestion = video.ingestion.ingestionState;
  stages.push({
    name: 'Ingestion',
    status: ingestion.ingestionStatus,
    percentage: ingestion.progressPercentage,
    at: ingestion.updatedAt,
  });
  return stages;
}

export function Timeline({ video }: { video: Video }) {
  return (
    <ol className={styles.timeline} aria-label="Stages" data-testid="timeline">
      {stagesOf(video).map((stage) => (
        <li key={stage.name} data-status={stage.status}>
          <span className={styles.stageName}>{stage.name}</span>
          <span className={styles.stageStatus}>
            {stage.status}
            {stage.status === 'IN_PROGRESS' ? ` ${stage.percentage}%` : ''}
          </span>
          <time dateTime={stage.at}>{formatTime(stage.at)}</time>
        </li>
      ))}
    </ol>
  );
}
