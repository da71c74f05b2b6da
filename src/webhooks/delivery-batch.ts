/**
 * One batch of a webhook's deliveries. It claims up to a batch of due deliveries (a lease, so a
 * dead worker's claims return), checks and pins the URL again, takes that many send slots from the
 * webhook's shared slot row (the rate limit across processes), sends each at its slot, and records
 * every attempt with the delivery's next state in one transaction.
 *
 * A claim is given back unattempted (released, its attempt count restored) when its slot falls too
 * late for the send to finish before the lease ends, when it wakes too far past its slot (the
 * process stalled: sending now would break the rate limit), or when the worker stops.
 */
import type { WebhookConfig } from '../config/config.js';
import type { AttemptResult, DeliveryRow } from '../db/queries/webhook-deliveries.queries.js';
import type { WebhookRow } from '../db/queries/webhooks.queries.js';
import { isAppError, type AppError } from '../domain/errors.js';
import {
  isSuccessfulStatus,
  planNextAttempt,
  slotIntervalMs,
  slotLatenessToleranceMs,
} from '../domain/webhook-schedule.js';
import { buildPayload } from '../domain/webhooks.js';
import type { SigningKey } from './signing.js';
import { openWebhookSecret, signatureHeaders } from './signing.js';
import { refusedOutcome, type SendOutcome } from './webhook-connection.js';

/** At most this many deliveries of one webhook are claimed (and in flight) at once per process. */
export const MAX_BATCH = 100;
/** At most this many connections to one webhook per process. */
export const MAX_CONNECTIONS = 32;
/** Margin on top of a batch's send time before its claims may be taken over by another worker. */
export const LEASE_MARGIN_MS = 5_000;
/** A send starts at least this long before its claim's lease ends, besides the send's own timeout. */
const LEASE_END_MARGIN_MS = 1_000;

/** A claimed delivery given back unattempted. */
export interface ReleasedClaim {
  deliveryId: string;
  attemptCount: number;
}

/** The outbox's deliveries as a batch uses them (webhook-deliveries.queries.ts over the database). */
export interface DeliveryOutbox {
  /** Claims up to `limit` due deliveries for `leaseMs`, counting the attempt. */
  claimDue(webhookId: string, limit: number, leaseMs: number): Promise<DeliveryRow[]>;
  /** Takes `count` consecutive send slots `intervalMs` apart; resolves with how many ms from now the first starts. */
  reserveSendSlots(webhookId: string, count: number, intervalMs: number): Promise<number>;
  recordResults(results: AttemptResult[]): Promise<void>;
  release(claims: ReleasedClaim[]): Promise<void>;
}

/** The way out to one webhook (webhook-connection.ts). */
export interface DeliveryConnection {
  /** Checks and pins `url` again; throws AppError when the policy refuses it now. */
  prepare(url: string, connections: number): Promise<void>;
  post(body: string, headers: Record<string, string>, stopSignal: AbortSignal): Promise<SendOutcome>;
}

export interface DeliveryBatchDeps {
  outbox: DeliveryOutbox;
  keys: { current(): Promise<SigningKey> };
  /** Opens the webhooks' sealed Standard Webhooks secrets. */
  kek: Buffer;
  config: Pick<WebhookConfig, 'timeoutMs' | 'retryBaseDelayMs' | 'retryMaxDelayMs'>;
  now: () => Date;
  /** Waits `ms`; resolves early, never rejects, when `signal` aborts. */
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  random: () => number;
}

/** Delivers one batch of `webhook`'s due deliveries; false when nothing was due. `signal` is the worker's stop. */
export async function deliverBatch(
  deps: DeliveryBatchDeps,
  webhook: WebhookRow,
  connection: DeliveryConnection,
  signal: AbortSignal,
): Promise<boolean> {
  const { outbox, config } = deps;
  const nowMs = () => deps.now().getTime();
  const batchSize = Math.min(webhook.rateLimitPerSecond, MAX_BATCH);
  const intervalMs = slotIntervalMs(webhook.rateLimitPerSecond);
  const lateToleranceMs = slotLatenessToleranceMs(webhook.rateLimitPerSecond);
  // Long enough for the batch's own slots twice over (other processes may hold earlier ones).
  const leaseMs = config.timeoutMs + LEASE_MARGIN_MS + 2 * batchSize * intervalMs;
  const claimedAt = nowMs();
  const claimed = await outbox.claimDue(webhook.id, batchSize, leaseMs);
  if (claimed.length === 0) return false;

  let refusal: AppError | null = null;
  try {
    await connection.prepare(webhook.url, Math.min(batchSize, MAX_CONNECTIONS));
  } catch (error) {
    if (!isAppError(error)) throw error;
    refusal = error;
  }
  // A refused URL sends nothing, so it takes no slots.
  const firstSlotAt =
    nowMs() + (refusal === null ? await outbox.reserveSendSlots(webhook.id, claimed.length, intervalMs) : 0);
  // A send must finish before the claim can pass to another worker.
  const latestStartAt = claimedAt + leaseMs - config.timeoutMs - LEASE_END_MARGIN_MS;
  const key = await deps.keys.current();

  const results: AttemptResult[] = [];
  const released: ReleasedClaim[] = [];
  await Promise.all(
    claimed.map(async (delivery, index) => {
      const slotAt = firstSlotAt + index * intervalMs;
      if (slotAt > latestStartAt) {
        released.push({ deliveryId: delivery.id, attemptCount: delivery.attemptCount });
        return;
      }
      await deps.sleep(slotAt - nowMs(), signal);
      if (refusal === null && nowMs() > slotAt + lateToleranceMs) {
        released.push({ deliveryId: delivery.id, attemptCount: delivery.attemptCount });
        return;
      }
      try {
        if (signal.aborted) throw signal.reason;
        const outcome =
          refusal !== null
            ? refusedOutcome(refusal, deps.now())
            : await send(deps, connection, webhook, delivery, key, signal);
        results.push(toResult(deps, delivery, outcome));
      } catch (error) {
        if (!signal.aborted) throw error;
        released.push({ deliveryId: delivery.id, attemptCount: delivery.attemptCount });
      }
    }),
  );
  await outbox.recordResults(results);
  await outbox.release(released);
  return true;
}

function send(
  deps: DeliveryBatchDeps,
  connection: DeliveryConnection,
  webhook: WebhookRow,
  delivery: DeliveryRow,
  key: SigningKey,
  signal: AbortSignal,
): Promise<SendOutcome> {
  const body = JSON.stringify(buildPayload(delivery, delivery.attemptCount));
  const headers = {
    'content-type': 'application/json',
    'user-agent': 'reelin-webhooks/1',
    ...signatureHeaders({
      key,
      body,
      timestampSeconds: Math.floor(deps.now().getTime() / 1000),
      messageId: delivery.id,
      secret: webhook.sealedSecret === null ? null : openWebhookSecret(webhook.sealedSecret, deps.kek),
    }),
  };
  return connection.post(body, headers, signal);
}

function toResult(deps: DeliveryBatchDeps, delivery: DeliveryRow, outcome: SendOutcome): AttemptResult {
  const attempt = {
    requestedAt: outcome.requestedAt,
    responseTimeMillis: outcome.responseTimeMillis,
    statusCode: outcome.statusCode,
    responseBody: outcome.responseBody,
    errorCode: outcome.errorCode,
    errorMessage: outcome.errorMessage,
    responseHeaders: outcome.responseHeaders,
    responseRetryAt: null as Date | null,
  };
  if (isSuccessfulStatus(outcome.statusCode)) {
    return {
      deliveryId: delivery.id,
      attemptCount: delivery.attemptCount,
      status: 'SUCCEEDED',
      nextAttemptAt: null,
      attempt,
    };
  }
  const plan = planNextAttempt({
    attemptCount: delivery.attemptCount,
    outcome: { statusCode: outcome.statusCode, retryAfter: outcome.retryAfter },
    retryUntilMs: delivery.retryUntil.getTime(),
    nowMs: deps.now().getTime(),
    random: deps.random(),
    policy: { baseDelayMs: deps.config.retryBaseDelayMs, maxDelayMs: deps.config.retryMaxDelayMs },
  });
  attempt.responseRetryAt = plan.responseRetryAtMs === null ? null : new Date(plan.responseRetryAtMs);
  return {
    deliveryId: delivery.id,
    attemptCount: delivery.attemptCount,
    status: plan.nextAttemptAtMs === null ? 'FAILED' : 'PENDING',
    nextAttemptAt: plan.nextAttemptAtMs === null ? null : new Date(plan.nextAttemptAtMs),
    attempt,
  };
}
