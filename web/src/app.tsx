/**
 * The application's routes (react-router in library mode). Every page but sign-in sits behind
 * RequireSession and inside the Layout; each section has one page module under pages/.
 */
import { Navigate, Route, Routes } from 'react-router';
import { Layout } from './components/layout';
import { RequireSession } from './components/require-session';
import { ImportPage } from './pages/import-page';
import { NotFoundPage } from './pages/not-found-page';
import { SignInPage } from './pages/sign-in-page';
import { TeamPage } from './pages/team-page';
import { VideoPage } from './pages/video-page';
import { VideosPage } from './pages/videos-page';
import { WebhooksPage } from './pages/webhooks-page';

export function App() {
  return (
    <Routes>
      <Route path="/sign-in" element={<SignInPage />} />
      <Route element={<RequireSession />}>
        <Route element={<Layout />}>
          <Route index element={<Navigate to="/videos" replace />} />
          <Route path="/videos" element={<VideosPage />} />
          <Route path="/videos/:videoId" element={<VideoPage />} />
          <Route path="/import" element={<ImportPage />} />
          <Route path="/webhooks/*" element={<WebhooksPage />} />
          <Route path="/team/*" element={<TeamPage />} />
          <Route path="*" element={<NotFoundPage />} />
        </Route>
      </Route>
    </Routes>
  );
}
