/**
 * Server state through TanStack Query: one key per kind of answer, so the live event stream (and a
 * page after a change) updates or invalidates exactly what changed. Pages use these hooks; they
 * never call fetch themselves.
 */
import { useQuery } from '@tanstack/react-query';
import { useSession, useApi } from '../session/session';
import { call } from './client';

export const queryKeys = {
  account: ['account'] as const,
  teams: ['teams'] as const,
  projects: (teamId: string | undefined) => ['projects', teamId ?? 'default'] as const,
  /** Every page of videos, any filter: invalidated together when a video appears, changes status or goes. */
  videoLists: ['videos', 'list'] as const,
  videoList: (filter: object) => ['videos', 'list', filter] as const,
  video: (videoId: string) => ['videos', 'one', videoId] as const,
  derived: (videoId: string) => ['videos', 'derived', videoId] as const,
};

export function useAccount() {
  const api = useApi();
  const { apiKey } = useSession();
  return useQuery({
    queryKey: queryKeys.account,
    queryFn: () => call(api.GET('/api/v1/account')),
    enabled: apiKey !== null,
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
