/** Chooses the team the pages act for; shown only when the account has more than one. */
import { useTeams } from '../api/queries';
import { useSelectedTeamId, useSelectTeam } from '../session/team';
import styles from './team-switcher.module.css';

export function TeamSwitcher() {
  const teams = useTeams();
  const selected = useSelectedTeamId();
  const selectTeam = useSelectTeam();
  const items = teams.data?.items ?? [];
  if (items.length < 2) return null;
  return (
    <label className={styles.switcher}>
      <span>Team</span>
      <select value={selected ?? ''} onChange={(event) => selectTeam(event.target.value || undefined)}>
        <option value="">Default team</option>
        {items.map((team) => (
          <option key={team.id} value={team.id}>
            {team.name}
          </option>
        ))}
      </select>
    </label>
  );
}
