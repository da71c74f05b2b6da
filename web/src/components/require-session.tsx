/** Routes behind it need a signed-in session; without one they go to the sign-in form (and come back after). */
import { Navigate, Outlet, useLocation } from 'react-router';
import { useSession } from '../session/session';

export function RequireSession() {
  const { apiKey } = useSession();
  const location = useLocation();
  if (apiKey === null) {
    const back = `${location.pathname}${location.search}`;
    return <Navigate to="/sign-in" replace state={{ back }} />;
  }
  return <Outlet />;
}
