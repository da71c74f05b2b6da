/** The team's videos. */
import { PageTitle } from '../components/page-title';

export function VideosPage() {
  return (
    <section>
      <PageTitle>Videos</PageTitle>
    </section>
  );
}
