/** A routed page that is not built yet (Webhooks, Team): says so instead of showing nothing. */
import { PageTitle } from '../components/page-title';

export function PlaceholderPage({ title }: { title: string }) {
  return (
    <section>
      <PageTitle>{title}</PageTitle>
      <p>This page is not built yet.</p>
    </section>
  );
}
