/** The signed-in frame: navigation (Videos, Import, Webhooks, Team), the team switcher and sign-out. */
import { NavLink, Outlet, useNavigate } from 'react-router';
import { LiveUpdatesProvider, useLiveStatus } from '../live/live-updates';
import { useSession } from '../session/session';
import { useTeamPath } from '../session/team';
import { TeamSwitcher } from './team-switcher';
import styles from './layout.module.css';

const sections = [
  { path: '/videos', label: 'Videos' },
  { path: '/import', label: 'Import' },
  { path: '/webhooks', label: 'Webhooks' },
  { path: '/team', label: 'Team' },
] as const;

const liveLabels = {
  connecting: 'Connecting…',
  connected: 'Live',
  reconnecting: 'Reconnecting…',
  unavailable: 'Not live: refreshing',
  unauthorized: 'Signed out',
} as const;

function LiveIndicator() {
  const status = useLiveStatus();
  return (
    <span className={styles.live} data-status={status} data-testid="live-status" role="status">
      {liveLabels[status]}
    </span>
  );
}

export function Layout() {
  return (
    <LiveUpdatesProvider>
      <Frame />
    </LiveUpdatesProvider>
  );
}

function Frame() {
  const { signOut } = useSession();
  const teamPath = useTeamPath();
  const navigate = useNavigate();
  return (
    <div className={styles.shell}>
      <header className={styles.header}>
        <a className={styles.skip} href="#main">
          Skip to content
        </a>
        <span className={styles.brand}>Reelin</span>
        <nav aria-label="Main" className={styles.nav}>
          {sections.map((section) => (
            <NavLink
              key={section.path}
              to={teamPath(section.path)}
              className={({ isActive }) => (isActive ? `${styles.link} ${styles.active}` : styles.link)}
            >
              {section.label}
            </NavLink>
          ))}
        </nav>
        <div className={styles.tools}>
          <LiveIndicator />
          <TeamSwitcher />
          <button
            type="button"
            onClick={() => {
              signOut();
              void navigate('/sign-in');
            }}
          >
            Sign out
          </button>
        </div>
      </header>
      <main id="main" className={styles.main} tabIndex={-1}>
        <Outlet />
      </main>
    </div>
  );
}
