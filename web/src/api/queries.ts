/**
 * Server state through TanStack Query: one key per kind of answer, so the live event stream (and a
 * page after a change) updates or invalidates exactly what changed. Pages use these hooks; they
 * never call fetch themselves.
 */
import { useQuery } from '@tanstack/react-query';
import { useApi } from '../session/session';
import { call, type Video } from './client';
import type { operations } from './schema';

export type VideoListQuery = NonNullable<operations['getVideos']['parameters']['query']>;

export const queryKeys = {
  account: ['account'] as const,
  teams: ['teams'] as const,
  projects: (teamId: string | undefined) => ['projects', teamId ?? 'default'] as const,
  /** Every page of videos, any filter: invalidated together when a video appears, changes status or goes. */
  videoLists: ['videos', 'list'] as const,
  videoList: (query: VideoListQuery) => ['videos', 'list', query] as const,
  video: (videoId: string) => ['videos', 'one', videoId] as const,
  derived: (videoId: string) => ['videos', 'derived', videoId] as const,
  artifacts: (videoId: string, kind: 'thumbnails' | 'full-frames' | 'web-video') =>
    ['videos', 'artifacts', videoId, kind] as const,
  /** Everything about webhooks (lists, delivery logs): refetched when a delivery attempt is recorded. */
  webhooks: ['webhooks'] as const,
};

/** Signed links last this long; cached answers are refreshed well before they expire. */
const LINK_MINUTES = 60;
const LINK_STALE_MS = 30 * 60_000;

export function useAccount() {
  const api = useApi();
  return useQuery({
    queryKey: queryKeys.account,
    queryFn: () => call(api.GET('/api/v1/account')),
    staleTime: 60_000,
  });
}

export function useTeams() {
  const api = useApi();
  return useQuery({
    queryKey: queryKeys.teams,
    queryFn: () => call(api.GET('/api/v1/teams', { params: { query: { pageSize: 100 } } })),
    staleTime: 60_000,
  });
}

export function useProjects(teamId: string | undefined) {
  const api = useApi();
  return useQuery({
    queryKey: queryKeys.projects(teamId),
    queryFn: () =>
      call(
        api.GET('/api/v1/projects', {
          params: { query: { pageSize: 100, ...(teamId === undefined ? {} : { teamId }) } },
        }),
      ),
    staleTime: 30_000,
  });
}

/**
 * While the live stream is not connected (the service lacks it, or it is reconnecting), a page with
 * work in progress refreshes itself on this timer instead; one request for the page, never one per video.
 */
const FALLBACK_REFRESH_MS = 2_000;

/** `isLive`: the event stream is connected (useIsLive), so nothing needs refreshing on a timer. */
export function useVideoList(query: VideoListQuery, isLive: boolean) {
  const api = useApi();
  return useQuery({
    queryKey: queryKeys.videoList(query),
    queryFn: () => call(api.GET('/api/v1/videos', { params: { query } })),
    placeholderData: (previous) => previous,
    refetchInterval: (current) =>
      !isLive && (current.state.data?.items ?? []).some(isVideoBusy) ? FALLBACK_REFRESH_MS : false,
  });
}

export function useVideo(videoId: string, isLive: boolean) {
  const api = useApi();
  return useQuery({
    queryKey: queryKeys.video(videoId),
    queryFn: () => call(api.GET('/api/v1/videos/{videoId}', { params: { path: { videoId } } })),
    refetchInterval: (current) =>
      !isLive && current.state.data !== undefined && isVideoBusy(current.state.data) ? FALLBACK_REFRESH_MS : false,
  });
}

export function useDerivedVideos(videoId: string) {
  const api = useApi();
  return useQuery({
    queryKey: queryKeys.derived(videoId),
    queryFn: () =>
      call(api.GET('/api/v1/videos/{videoId}/derived', { params: { path: { videoId }, query: { pageSize: 100 } } })),
  });
}

export function useThumbnails(videoId: string, enabled: boolean) {
  const api = useApi();
  return useQuery({
    queryKey: queryKeys.artifacts(videoId, 'thumbnails'),
    queryFn: () =>
      call(
        api.GET('/api/v1/videos/{videoId}/thumbnails', {
          params: { path: { videoId }, query: { durationMinutes: LINK_MINUTES } },
        }),
      ),
    enabled,
    staleTime: LINK_STALE_MS,
  });
}

export function useFullFrames(videoId: string, enabled: boolean) {
  const api = useApi();
  return useQuery({
    queryKey: queryKeys.artifacts(videoId, 'full-frames'),
    queryFn: () =>
      call(
        api.GET('/api/v1/videos/{videoId}/full-frames', {
          params: { path: { videoId }, query: { durationMinutes: LINK_MINUTES } },
        }),
      ),
    enabled,
    staleTime: LINK_STALE_MS,
  });
}

export function useWebVideo(videoId: string, enabled: boolean) {
  const api = useApi();
  return useQuery({
    queryKey: queryKeys.artifacts(videoId, 'web-video'),
    queryFn: () =>
      call(
        api.POST('/api/v1/videos/{videoId}/web-video/out/https', {
          params: { path: { videoId }, query: { durationMinutes: LINK_MINUTES } },
        }),
      ),
    enabled,
    staleTime: LINK_STALE_MS,
  });
}

/**
 * Whether anything of the video is still moving: a copy or a cut not yet ended, or the ingestion
 * that follows every finished copy and cut (INITIAL until a worker takes it).
 */
export function isVideoBusy(video: Video): boolean {
  const running = (status: string | undefined) => status === 'INITIAL' || status === 'IN_PROGRESS';
  const upload = video.upload?.uploadState.uploadStatus;
  const processing = video.processing?.processingState.processingStatus;
  const sourceReady = upload === 'DONE' || processing === 'DONE';
  return (
    running(upload) || running(processing) || (sourceReady && running(video.ingestion.ingestionState.ingestionStatus))
  );
}
