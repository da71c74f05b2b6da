/** Webhooks: list, create, edit, (de)activate, test, delivery logs, signing keys. Placeholder until built. */
import { PlaceholderPage } from './placeholder-page';

export function WebhooksPage() {
  return <PlaceholderPage title="Webhooks" />;
}
