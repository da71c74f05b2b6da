/** Imports a video from an HTTPS URL or an S3 object. */
import { PageTitle } from '../components/page-title';

export function ImportPage() {
  return (
    <section>
      <PageTitle>Import a video</PageTitle>
    </section>
  );
}
