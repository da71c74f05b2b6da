/**
 * Webhook rules from the contract: limits and the payload shape.
 */

/** At most this many active webhooks per team. */
export const MAX_ACTIVE_WEBHOOKS_PER_TEAM = 10;
/** At most this many test events per team in any 24 hours. */
export const MAX_TEST_EVENTS_PER_DAY = 1000;
/** The log keeps this many characters of a response body. */
export const RESPONSE_BODY_CHARS = 100;

/** The body POSTed to a webhook's URL, exactly the contract's fields. */
export interface WebhookPayload {
  id: string;
  webhookId: string;
  eventType: string;
  occurredAt: string;
  test: boolean;
  attemptCount: number;
  data: { type: 'VIDEO'; videoId: string };
}

export function buildPayload(
  delivery: { id: string; webhookId: string; eventType: string; occurredAt: Date; test: boolean; videoId: string },
  attemptCount: number,
): WebhookPayload {
  return {
    id: delivery.id,
    webhookId: delivery.webhookId,
    eventType: delivery.eventType,
    occurredAt: delivery.occurredAt.toISOString(),
    test: delivery.test,
    attemptCount,
    data: { type: 'VIDEO', videoId: delivery.videoId },
  };
}

/** Standard Webhooks secrets: `whsec_` and the base64 of 24 to 64 random bytes. */
export const standardWebhooksSecretPattern = /^whsec_[A-Za-z0-9+/]{32,88}={0,2}$/;
