/**
 * The team the pages act for. It lives in the URL (`?team=<id>`), so a link or a reload keeps it;
 * absent, the API's own default applies (the account's default team). Pages pass it as `teamId` to
 * lists and `selectTeamId` to creations, as the API names them.
 */
import { useCallback } from 'react';
import { useSearchParams } from 'react-router';

const teamParam = 'team';

export function useSelectedTeamId(): string | undefined {
  const [params] = useSearchParams();
  return params.get(teamParam) ?? undefined;
}

/** Changes the team: the current page again, for the other team (other filters are dropped). */
export function useSelectTeam(): (teamId: string | undefined) => void {
  const [, setParams] = useSearchParams();
  return useCallback(
    (teamId: string | undefined) => setParams(teamId === undefined ? {} : { [teamParam]: teamId }),
    [setParams],
  );
}

/** A path of the application that keeps the selected team. */
export function useTeamPath(): (path: string) => string {
  const teamId = useSelectedTeamId();
  return useCallback(
    (path: string) => {
      if (teamId === undefined) return path;
      const separator = path.includes('?') ? '&' : '?';
      return `${path}${separator}${teamParam}=${encodeURIComponent(teamId)}`;
    },
    [teamId],
  );
}
