/**
 * Sign-in with an API key. The key is checked with GET /api/v1/account and kept in sessionStorage
 * only when valid; it is never put in the URL (the form posts nowhere) and never logged.
 */
import { useState, type FormEvent } from 'react';
import { Navigate, useLocation, useNavigate } from 'react-router';
import { ErrorDisplay } from '../components/error-display';
import { PageTitle } from '../components/page-title';
import { useSession } from '../session/session';
import styles from './sign-in-page.module.css';

function backPath(state: unknown): string {
  const back = (state as { back?: unknown } | null)?.back;
  // Only a path of this application (never another origin) is a place to come back to.
  return typeof back === 'string' && back.startsWith('/') && !back.startsWith('//') ? back : '/videos';
}

export function SignInPage() {
  const { apiKey, signIn } = useSession();
  const location = useLocation();
  const navigate = useNavigate();
  const [candidate, setCandidate] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  if (apiKey !== null) return <Navigate to={backPath(location.state)} replace />;

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(candidate.trim());
      void navigate(backPath(location.state), { replace: true });
    } catch (caught) {
      setError(caught);
      setBusy(false);
    }
  }

  return (
    <main className={styles.page}>
      <form className={styles.card} onSubmit={(event) => void submit(event)} method="post" action="#">
        <PageTitle>Sign in to Reelin</PageTitle>
        <p className={styles.hint}>Use an API key of your team. It stays in this browser tab until you sign out.</p>
        <label className={styles.field}>
          <span>API key</span>
          <input
            type="password"
            name="apiKey"
            autoComplete="current-password"
            required
            value={candidate}
            onChange={(event) => setCandidate(event.target.value)}
          />
        </label>
        {error === null ? null : <ErrorDisplay error={error} title="Sign-in failed" />}
        <button type="submit" className="primary" disabled={busy || candidate.trim() === ''}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
