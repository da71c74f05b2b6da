/**
 * The team's videos, a page at a time, filtered by project, status and name (kept in the URL so a
 * reload or a shared link shows the same page). Each row's live state follows the event stream.
 */
import { useState, type FormEvent } from 'react';
import { Link, useSearchParams } from 'react-router';
import type { Video } from '../api/client';
import { useProjects, useVideoList, type VideoListQuery } from '../api/queries';
import { ErrorDisplay } from '../components/error-display';
import { PageTitle } from '../components/page-title';
import { formatBytes, formatDuration } from '../format/format';
import { useIsLive } from '../live/live-updates';
import { useSelectedTeamId, useTeamPath } from '../session/team';
import { LiveState } from '../videos/live-state';
import { Poster } from '../videos/poster';
import styles from './videos-page.module.css';

const PAGE_SIZE = 20;

/** Statuses a person filters by, each one of the API's two status filters. */
const statusFilters = {
  'copy-running': { label: 'Copy running', query: { uploadStatus: 'IN_PROGRESS' } },
  'copy-failed': { label: 'Copy failed', query: { uploadStatus: 'FAILED' } },
  'copy-done': { label: 'Copied', query: { uploadStatus: 'DONE' } },
  ingesting: { label: 'Ingesting', query: { ingestionStatus: 'IN_PROGRESS' } },
  ingested: { label: 'Ingested', query: { ingestionStatus: 'DONE' } },
  'ingestion-failed': { label: 'Ingestion failed', query: { ingestionStatus: 'FAILED' } },
} as const satisfies Record<string, { label: string; query: VideoListQuery }>;

type StatusFilter = keyof typeof statusFilters;

function isStatusFilter(value: string | null): value is StatusFilter {
  return value !== null && Object.hasOwn(statusFilters, value);
}

export function sizeOf(video: Video): number | null {
  return (
    video.upload?.file.size ??
    video.masterVideo?.videoFile.size ??
    video.ingestion.metadata?.size ??
    video.upload?.uploadState.totalBytes ??
    null
  );
}

function VideoRow({ video }: { video: Video }) {
  const teamPath = useTeamPath();
  return (
    <tr data-testid="video-row" data-video-id={video.id}>
      <td className={styles.posterCell}>
        <Poster video={video} />
      </td>
      <td>
        <Link to={teamPath(`/videos/${video.id}`)} className={styles.name}>
          {video.name}
        </Link>
        {video.flags.isClip ? <span className={styles.badge}>clip</span> : null}
      </td>
      <td className={styles.number}>{formatBytes(sizeOf(video))}</td>
      <td className={styles.number}>{formatDuration(video.ingestion.metadata?.durationInMillis)}</td>
      <td className={styles.state}>
        <LiveState video={video} />
      </td>
    </tr>
  );
}

function EmptyState({ filtered, onClear }: { filtered: boolean; onClear: () => void }) {
  const teamPath = useTeamPath();
  if (filtered)
    return (
      <div className={styles.empty}>
        <p>No video matches these filters.</p>
        <button type="button" onClick={onClear}>
          Clear the filters
        </button>
      </div>
    );
  return (
    <div className={styles.empty}>
      <p>This team has no videos yet.</p>
      <p>
        <Link to={teamPath('/import')}>Import a video</Link> from an HTTPS URL or an S3 bucket: it is copied here, and
        with full ingestion it gets thumbnails, frames, a web video and a quality assessment.
      </p>
    </div>
  );
}

export function VideosPage() {
  const [params, setParams] = useSearchParams();
  const teamId = useSelectedTeamId();
  const projects = useProjects(teamId);
  const pageNumber = Math.max(0, Number.parseInt(params.get('page') ?? '0', 10) || 0);
  const projectId = params.get('project') ?? '';
  const status = params.get('status');
  const nameContains = params.get('q') ?? '';
  const [nameDraft, setNameDraft] = useState(nameContains);

  const query: VideoListQuery = {
    pageNumber,
    pageSize: PAGE_SIZE,
    sortBy: 'createdAt',
    sortDirection: 'DESC',
    ...(teamId === undefined ? {} : { teamId }),
    ...(projectId === '' ? {} : { projectId }),
    ...(isStatusFilter(status) ? statusFilters[status].query : {}),
    ...(nameContains === '' ? {} : { nameContains }),
  };
  const list = useVideoList(query, useIsLive());
  const items = list.data?.items ?? [];

  /** Changes some filters and goes back to the first page; the team stays. */
  function update(changes: Record<string, string>) {
    const next = new URLSearchParams(params);
    for (const [key, value] of Object.entries(changes)) {
      if (value === '') next.delete(key);
      else next.set(key, value);
    }
    if (!('page' in changes)) next.delete('page');
    setParams(next);
  }

  function search(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    update({ q: nameDraft.trim() });
  }

  const filtered = projectId !== '' || isStatusFilter(status) || nameContains !== '';
  const totalPages = list.data?.totalPages ?? 0;

  return (
    <section>
      <div className={styles.heading}>
        <PageTitle>Videos</PageTitle>
        {list.data === undefined ? null : (
          <span className={styles.count} data-testid="video-count">
            {list.data.totalElements} {list.data.totalElements === 1 ? 'video' : 'videos'}
          </span>
        )}
      </div>
      <div className={styles.filters}>
        <label>
          <span>Project</span>
          <select value={projectId} onChange={(event) => update({ project: event.target.value })}>
            <option value="">All projects</option>
            {(projects.data?.items ?? []).map((project) => (
              <option key={project.id} value={project.id}>
                {project.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          <span>Status</span>
          <select
            value={isStatusFilter(status) ? status : ''}
            onChange={(event) => update({ status: event.target.value })}
          >
            <option value="">Any status</option>
            {Object.entries(statusFilters).map(([value, filter]) => (
              <option key={value} value={value}>
                {filter.label}
              </option>
            ))}
          </select>
        </label>
        <form role="search" onSubmit={search} className={styles.search}>
          <label>
            <span>Name contains</span>
            <input type="search" value={nameDraft} onChange={(event) => setNameDraft(event.target.value)} />
          </label>
          <button type="submit">Search</button>
        </form>
      </div>
      {list.error === null ? null : <ErrorDisplay error={list.error} title="The videos could not be listed" />}
      {list.isPending ? <p aria-live="polite">Loading the videos…</p> : null}
      {list.data !== undefined && items.length === 0 ? (
        <EmptyState
          filtered={filtered}
          onClear={() => {
            setNameDraft('');
            update({ project: '', status: '', q: '' });
          }}
        />
      ) : null}
      {items.length > 0 ? (
        <div className={styles.tableWrap}>
          <table className={styles.table} data-testid="video-list">
            <thead>
              <tr>
                <th scope="col">
                  <span className="visually-hidden">Poster</span>
                </th>
                <th scope="col">Name</th>
                <th scope="col" className={styles.number}>
                  Size
                </th>
                <th scope="col" className={styles.number}>
                  Duration
                </th>
                <th scope="col">State</th>
              </tr>
            </thead>
            <tbody>
              {items.map((video) => (
                <VideoRow key={video.id} video={video} />
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {totalPages > 1 ? (
        <nav className={styles.pager} aria-label="Pages">
          <button type="button" disabled={pageNumber === 0} onClick={() => update({ page: String(pageNumber - 1) })}>
            Previous
          </button>
          <span>
            Page {pageNumber + 1} of {totalPages}
          </span>
          <button
            type="button"
            disabled={pageNumber + 1 >= totalPages}
            onClick={() => update({ page: String(pageNumber + 1) })}
          >
            Next
          </button>
        </nav>
      ) : null}
    </section>
  );
}
