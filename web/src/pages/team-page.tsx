/** Team and projects: the free-clip toggle, projects created, renamed, deleted. Placeholder until built. */
import { PlaceholderPage } from './placeholder-page';

export function TeamPage() {
  return <PlaceholderPage title="Team" />;
}
