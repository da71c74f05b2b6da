/** One video. */
import { PageTitle } from '../components/page-title';

export function VideoPage() {
  return (
    <section>
      <PageTitle>Video</PageTitle>
    </section>
  );
}
