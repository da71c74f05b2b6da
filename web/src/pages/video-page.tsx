/**
 * One video: its live state and stage timeline, metadata, quality, thumbnails, full frames, the web
 * video, derived videos (its clip), and what can be done with it. Each part is fetched only once the
 * ingestion says it exists; the live stream keeps the video itself current.
 */
import { useParams, Link } from 'react-router';
import type { Video } from '../api/client';
import { useDerivedVideos, useFullFrames, useThumbnails, useVideo, useWebVideo } from '../api/queries';
import { ErrorDisplay } from '../components/error-display';
import { PageTitle } from '../components/page-title';
import { formatBytes, formatDuration } from '../format/format';
import { useIsLive } from '../live/live-updates';
import { useTeamPath } from '../session/team';
import { FramesViewer, ThumbnailStrip } from '../videos/frames-viewer';
import { LiveState, summaryOf } from '../videos/live-state';
import { MetadataTable } from '../videos/metadata-table';
import { QualityBars } from '../videos/quality-bars';
import { Timeline } from '../videos/timeline';
import { DeleteVideo, DownloadPanel, FailedCopyActions, RenameForm } from '../videos/video-actions';
import styles from '../videos/video-sections.module.css';
import { sizeOf } from './videos-page';

function Section({ title, children, testId }: { title: string; children: React.ReactNode; testId?: string }) {
  return (
    <section className={styles.section} aria-label={title} data-testid={testId}>
      <h2>{title}</h2>
      {children}
    </section>
  );
}

function WebVideoPlayer({ video }: { video: Video }) {
  const webVideo = useWebVideo(video.id, video.ingestion.ingestionState.webVideoAvailable);
  if (!video.ingestion.ingestionState.webVideoAvailable) return <p>The web video is made by a full ingestion.</p>;
  if (webVideo.error !== null) return <ErrorDisplay error={webVideo.error} />;
  if (webVideo.data === undefined) return <p>Loading the web video…</p>;
  return (
    <video
      className={styles.player}
      controls
      preload="metadata"
      src={webVideo.data.presignedUrl}
      width={webVideo.data.width}
      height={webVideo.data.height}
      data-testid="web-video"
    >
      <track kind="captions" />
    </video>
  );
}

function Pictures({ video }: { video: Video }) {
  const state = video.ingestion.ingestionState;
  const thumbnails = useThumbnails(video.id, state.thumbnailsAvailable);
  const frames = useFullFrames(video.id, state.fullFramesAvailable);
  const strip = (thumbnails.data?.items ?? []).filter((item) => item.kind === 'THUMBNAIL');
  return (
    <>
      <Section title="Thumbnails">
        {!state.thumbnailsAvailable ? <p>Thumbnails are made by a full ingestion.</p> : null}
        {thumbnails.error === null ? null : <ErrorDisplay error={thumbnails.error} />}
        {strip.length > 0 ? <ThumbnailStrip items={strip} /> : null}
      </Section>
      <Section title="Full frames">
        {!state.fullFramesAvailable ? <p>Full frames are made by a full ingestion.</p> : null}
        {frames.error === null ? null : <ErrorDisplay error={frames.error} />}
        {frames.data === undefined ? null : <FramesViewer frames={frames.data.items} />}
      </Section>
    </>
  );
}

function Derived({ video, derived }: { video: Video; derived: Video[] }) {
  const teamPath = useTeamPath();
  const source = video.processing?.sourceVideo;
  return (
    <Section title="Derived videos" testId="derived">
      {source === undefined ? null : (
        <p>
          A clip of <Link to={teamPath(`/videos/${source.videoId}`)}>its master video</Link>, from{' '}
          {formatDuration(source.startPositionMilliseconds)} to {formatDuration(source.endPositionMilliseconds)}.
        </p>
      )}
      {derived.length === 0 ? (
        <p>No derived videos.</p>
      ) : (
        <ul>
          {derived.map((item) => (
            <li key={item.id}>
              <Link to={teamPath(`/videos/${item.id}`)}>{item.name}</Link> · {summaryOf(item)}
              {item.flags.isClip ? ' · clip' : ''}
            </li>
          ))}
        </ul>
      )}
    </Section>
  );
}

function VideoDetail({ video }: { video: Video }) {
  const derivedQuery = useDerivedVideos(video.id);
  const derived = derivedQuery.data?.items ?? [];
  const upload = video.upload?.uploadState;
  const ingestion = video.ingestion;
  return (
    <>
      <div className={styles.header}>
        <PageTitle>{video.name}</PageTitle>
        <LiveState video={video} />
      </div>
      <p className={styles.facts}>
        {formatBytes(sizeOf(video))} · {formatDuration(ingestion.metadata?.durationInMillis)}
        {video.flags.isClip ? ' · clip' : ''} · <code>{video.id}</code>
      </p>
      <div className={styles.columns}>
        <div>
          <Section title="Web video">
            <WebVideoPlayer video={video} />
          </Section>
          <Section title="Stages">
            <Timeline video={video} />
          </Section>
        </div>
        <div>
          <Section title="Actions">
            <RenameForm video={video} />
            {upload?.uploadStatus === 'FAILED' ? <FailedCopyActions video={video} /> : null}
            {upload?.uploadStatus === 'DONE' || video.processing?.processingState.processingStatus === 'DONE' ? (
              <DownloadPanel video={video} />
            ) : null}
            <DeleteVideo video={video} derived={derived} />
          </Section>
          <Derived video={video} derived={derived} />
        </div>
      </div>
      <Section title="Quality assessment">
        {ingestion.qualityAssessment === null ? (
          <p>The quality assessment is made by a full ingestion.</p>
        ) : (
          <QualityBars quality={ingestion.qualityAssessment} />
        )}
      </Section>
      <Section title="Metadata">
        {ingestion.metadata === null ? (
          <p>The metadata is measured once the copy is done.</p>
        ) : (
          <MetadataTable metadata={ingestion.metadata} />
        )}
        {(ingestion.ingestionState.unavailableFeatures ?? []).map((item) => (
          <p key={item.feature}>
            Not available: {item.feature} ({item.reason})
          </p>
        ))}
      </Section>
      <Pictures video={video} />
    </>
  );
}

export function VideoPage() {
  const { videoId = '' } = useParams();
  const teamPath = useTeamPath();
  const video = useVideo(videoId, useIsLive());
  return (
    <article>
      <p>
        <Link to={teamPath('/videos')}>← All videos</Link>
      </p>
      {video.error === null ? null : <ErrorDisplay error={video.error} title="The video could not be shown" />}
      {video.isPending ? <p>Loading the video…</p> : null}
      {video.data === undefined ? null : <VideoDetail video={video.data} />}
    </article>
  );
}
