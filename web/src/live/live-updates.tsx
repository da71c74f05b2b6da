/**
 * Keeps the cached server state current from the live event stream: a `video` event replaces that
 * video in the cache (its page and every list page holding it), a new video or a status change
 * refetches the lists, `video.deleted` drops it, `webhook.delivery` refetches the delivery logs and
 * `reset` refetches everything. While no stream is connected (the service lacks it, or it is
 * reconnecting), pages with work in progress refresh on a slow timer instead (see useVideoList).
 */
import { useQueryClient, type QueryClient } from '@tanstack/react-query';
import { createContext, useContext, useEffect, useState, type ReactNode } from 'react';
import type { Video } from '../api/client';
import { queryKeys } from '../api/queries';
import { useSession } from '../session/session';
import { useSelectedTeamId } from '../session/team';
import { followLiveEvents, type LiveEvent, type LiveStatus } from './event-stream';

interface VideoPage {
  items: Video[];
}

const LiveStatusContext = createContext<LiveStatus>('connecting');

function statusesOf(video: Video): string {
  return [
    video.upload?.uploadState.uploadStatus,
    video.ingestion.ingestionState.ingestionStatus,
    video.processing?.processingState.processingStatus,
  ].join('/');
}

/** Puts `video` in every cached list page that holds it; true when one did. */
function replaceInLists(queryClient: QueryClient, video: Video): boolean {
  let found = false;
  queryClient.setQueriesData<VideoPage>({ queryKey: queryKeys.videoLists }, (page) => {
    if (page === undefined || !page.items.some((item) => item.id === video.id)) return page;
    found = true;
    return { ...page, items: page.items.map((item) => (item.id === video.id ? video : item)) };
  });
  return found;
}

export function applyLiveEvent(queryClient: QueryClient, event: LiveEvent): void {
  switch (event.type) {
    case 'video': {
      const video = event.data as Video;
      const previous = queryClient.getQueryData<Video>(queryKeys.video(video.id));
      queryClient.setQueryData(queryKeys.video(video.id), video);
      const inLists = replaceInLists(queryClient, video);
      // A new video, or one whose status changed, may enter or leave a filtered page.
      if (!inLists || previous === undefined || statusesOf(previous) !== statusesOf(video))
        void queryClient.invalidateQueries({ queryKey: queryKeys.videoLists });
      if (video.processing !== null)
        void queryClient.invalidateQueries({ queryKey: queryKeys.derived(video.processing.sourceVideo.videoId) });
      break;
    }
    case 'video.deleted': {
      const { videoId } = event.data as { videoId: string };
      queryClient.removeQueries({ queryKey: queryKeys.video(videoId) });
      void queryClient.invalidateQueries({ queryKey: queryKeys.videoLists });
      void queryClient.invalidateQueries({ queryKey: ['videos', 'derived'] });
      break;
    }
    case 'webhook.delivery':
      void queryClient.invalidateQueries({ queryKey: queryKeys.webhooks });
      break;
    case 'reset':
      void queryClient.invalidateQueries();
      break;
    default:
      break;
  }
}

export function LiveUpdatesProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const { apiKey, signOut } = useSession();
  const teamId = useSelectedTeamId();
  const [status, setStatus] = useState<LiveStatus>('connecting');

  useEffect(() => {
    if (apiKey === null) return undefined;
    const stop = new AbortController();
    void followLiveEvents({
      apiKey,
      teamId,
      signal: stop.signal,
      onEvent: (event) => applyLiveEvent(queryClient, event),
      onStatus: (next) => {
        setStatus(next);
        // The key was revoked while the page was open: the session is over.
        if (next === 'unauthorized') signOut();
      },
    });
    return () => stop.abort();
  }, [apiKey, teamId, queryClient, signOut]);

  return <LiveStatusContext.Provider value={status}>{children}</LiveStatusContext.Provider>;
}

export function useLiveStatus(): LiveStatus {
  return useContext(LiveStatusContext);
}

/** Whether the event stream is connected, so cached state is kept current without asking again. */
export function useIsLive(): boolean {
  return useContext(LiveStatusContext) === 'connected';
}
