/**
 * The webhook side of a worker process: the dispatcher, the delivery scheduler and key rotation.
 *
 * - Dispatcher: turns new `events` rows (the outbox) into deliveries, in batches claimed with
 *   SKIP LOCKED (see dispatchEvents), so every event becomes its deliveries exactly once however
 *   many workers run. It runs when the event bell rings (an event was committed) and at every
 *   poll, the backstop for a missed ring.
 * - Scheduler: every poll (or at once when the dispatcher made deliveries, or the bell rang for a
 *   test event) it lists the webhooks with due deliveries and starts one runner per webhook that
 *   has none in this process. A runner claims a batch of its webhook's due deliveries (a lease, so
 *   a dead worker's claims return), checks and pins the URL again, takes that many send slots from
 *   the webhook's shared slot row (the rate limit across processes), sends each at its slot, and
 *   records every attempt with the delivery's next state in one transaction. Runners are
 *   independent: a slow or dead endpoint holds only its own runner, never the deliveries of other
 *   webhooks.
 * - Maintenance: rotates the signing key when it is due.
 */
import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import type { WebhookConfig } from '../config/config.js';
import type { Database } from '../db/database.js';
import type { EventBell } from '../db/event-bell.js';
import {
  claimDueDeliveries,
  dispatchEvents,
  listWebhooksWithDueDeliveries,
  recordAttemptResults,
  releaseDeliveries,
  reserveSendSlots,
  type AttemptResult,
  type DeliveryRow,
} from '../db/queries/webhook-deliveries.queries.js';
import { findWebhookForDelivery, type WebhookRow } from '../db/queries/webhooks.queries.js';
import { isAppError, type AppError } from '../domain/errors.js';
import {
  isSuccessfulStatus,
  planNextAttempt,
  slotIntervalMs,
  slotLatenessToleranceMs,
} from '../domain/webhook-schedule.js';
import { buildPayload } from '../domain/webhooks.js';
import type { OutboundClient } from '../net/outbound-client.js';
import type { SigningKeyRing } from './signing-keys.js';
import { openWebhookSecret, signatureHeaders } from './signing.js';
import { refusedOutcome, WebhookConnection, type SendOutcome } from './webhook-connection.js';

const DISPATCH_BATCH = 500;
/** At most this many deliveries of one webhook are claimed (and in flight) at once per process. */
const MAX_BATCH = 100;
/** At most this many connections to one webhook per process. */
const MAX_CONNECTIONS = 32;
/** At most this many webhooks are served at once per process. */
const MAX_RUNNERS = 256;
/** Margin on top of a batch's send time before its claims may be taken over by another worker. */
const LEASE_MARGIN_MS = 5_000;
const MAINTENANCE_INTERVAL_MS = 60_000;
/** Webhooks allowed at least this many requests per second get two batch loops per process. */
const PIPELINE_MIN_RATE = 50;

export interface WebhookWorkerDeps {
  db: Database;
  client: OutboundClient;
  keys: SigningKeyRing;
  /** Opens the webhooks' sealed Standard Webhooks secrets. */
  kek: Buffer;
  config: Pick<
    WebhookConfig,
    'timeoutMs' | 'retryBaseDelayMs' | 'retryMaxDelayMs' | 'pollIntervalMs' | 'keyRotationIntervalMs' | 'keyOverlapMs'
  >;
  log: Logger;
  /** Rung when events (dispatcher) or test events (scheduler) are recorded: they run at once instead of at their next poll. */
  bell?: Pick<EventBell, 'onRing'>;
  random?: () => number;
}

/** A loop that runs `work`, then sleeps `intervalMs` or until woken. */
class Loop {
  private wakeUp: (() => void) | null = null;
  private woken = false;
  readonly done: Promise<void>;

  constructor(
    private readonly stopSignal: AbortSignal,
    intervalMs: number,
    work: () => Promise<void>,
    onError: (error: unknown) => void,
  ) {
    this.done = (async () => {
      while (!stopSignal.aborted) {
        this.woken = false;
        try {
          await work();
        } catch (error) {
          if (!stopSignal.aborted) onError(error);
        }
        if (!this.woken) await this.sleep(intervalMs);
      }
    })();
  }

  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.stopSignal.removeEventListener('abort', finish);
        this.wakeUp = null;
        resolve();
      };
      const timer = setTimeout(finish, ms);
      this.stopSignal.addEventListener('abort', finish, { once: true });
      this.wakeUp = finish;
    });
  }
}

function sleepUntil(atMs: number, signal: AbortSignal): Promise<void> {
  const waitMs = atMs - Date.now();
  if (waitMs <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const finish = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', finish);
      resolve();
    };
    const timer = setTimeout(finish, waitMs);
    signal.addEventListener('abort', finish, { once: true });
  });
}

export class WebhookWorker {
  private readonly stopping = new AbortController();
  private readonly runners = new Map<string, Promise<void>>();
  private loops: Loop[] = [];
  private scheduler: Loop | null = null;
  private stopListening: (() => void) | null = null;
  private readonly random: () => number;

  constructor(private readonly deps: WebhookWorkerDeps) {
    this.random = deps.random ?? Math.random;
    // Every send waiting for its slot listens for the stop.
    setMaxListeners(0, this.stopping.signal);
  }

  start(): void {
    const signal = this.stopping.signal;
    const onError = (what: string) => (error: unknown) =>
      this.deps.log.error({ err: error }, `webhook ${what} failed; trying again`);
    this.scheduler = new Loop(signal, this.deps.config.pollIntervalMs, () => this.schedule(), onError('scheduling'));
    const dispatcher = new Loop(signal, this.deps.config.pollIntervalMs, () => this.dispatch(), onError('dispatch'));
    this.loops = [
      dispatcher,
      this.scheduler,
      new Loop(signal, MAINTENANCE_INTERVAL_MS, () => this.maintain(), onError('key rotation')),
    ];
    // The dispatcher wakes the scheduler itself when it made deliveries.
    this.stopListening =
      this.deps.bell?.onRing((ring) => {
        if (ring === 'events' || ring === 'missed') dispatcher.wake();
        if (ring === 'deliveries' || ring === 'missed') this.scheduler?.wake();
      }) ?? null;
  }

  /** Stops the loops, aborts sends in flight (their claims are given back) and waits for the runners. */
  async stop(): Promise<void> {
    this.stopListening?.();
    this.stopping.abort();
    await Promise.all([...this.loops.map((loop) => loop.done), ...this.runners.values()]);
  }

  private async dispatch(): Promise<void> {
    for (;;) {
      const { events, deliveries } = await dispatchEvents(this.deps.db, DISPATCH_BATCH);
      if (deliveries > 0) this.scheduler?.wake();
      if (events < DISPATCH_BATCH || this.stopping.signal.aborted) return;
    }
  }

  private async maintain(): Promise<void> {
    const { keyRotationIntervalMs, keyOverlapMs } = this.deps.config;
    if (await this.deps.keys.rotateIfDue(keyRotationIntervalMs, keyOverlapMs))
      this.deps.log.info('rotated the webhook signing key');
  }

  private async schedule(): Promise<void> {
    if (this.runners.size >= MAX_RUNNERS) return;
    for (const webhookId of await listWebhooksWithDueDeliveries(this.deps.db, MAX_RUNNERS * 2)) {
      if (this.runners.size >= MAX_RUNNERS || this.stopping.signal.aborted) break;
      if (this.runners.has(webhookId)) continue;
      const runner = this.run(webhookId)
        .catch((error: unknown) => this.deps.log.error({ err: error, webhookId }, 'webhook delivery runner failed'))
        .finally(() => this.runners.delete(webhookId));
      this.runners.set(webhookId, runner);
    }
  }

  /**
   * Delivers the webhook's due deliveries, batch after batch, until none is left. Webhooks with a
   * high rate limit get a second batch loop, so one batch is claimed and recorded while the other
   * sends (the slots keep both within the limit).
   */
  private async run(webhookId: string): Promise<void> {
    const connection = new WebhookConnection(this.deps.client, this.deps.config.timeoutMs);
    const loop = async () => {
      while (!this.stopping.signal.aborted) {
        const webhook = await findWebhookForDelivery(this.deps.db, webhookId);
        if (webhook === null || !webhook.active) return;
        if (!(await this.runBatch(webhook, connection))) return;
      }
    };
    try {
      const first = await findWebhookForDelivery(this.deps.db, webhookId);
      const loops = first !== null && first.rateLimitPerSecond >= PIPELINE_MIN_RATE ? 2 : 1;
      await Promise.all(Array.from({ length: loops }, loop));
    } finally {
      await connection.close();
    }
  }

  /** One batch; false when nothing was due. */
  private async runBatch(webhook: WebhookRow, connection: WebhookConnection): Promise<boolean> {
    const { db, config } = this.deps;
    const signal = this.stopping.signal;
    const batchSize = Math.min(webhook.rateLimitPerSecond, MAX_BATCH);
    const intervalMs = slotIntervalMs(webhook.rateLimitPerSecond);
    const lateToleranceMs = slotLatenessToleranceMs(webhook.rateLimitPerSecond);
    // Long enough for the batch's own slots twice over (other processes may hold earlier ones).
    const leaseMs = config.timeoutMs + LEASE_MARGIN_MS + 2 * batchSize * intervalMs;
    const claimedAt = Date.now();
    const claimed = await claimDueDeliveries(db, webhook.id, batchSize, leaseMs);
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
      Date.now() + (refusal === null ? await reserveSendSlots(db, webhook.id, claimed.length, intervalMs) : 0);
    // A send must finish before the claim can pass to another worker.
    const latestStartAt = claimedAt + leaseMs - config.timeoutMs - 1_000;
    const key = await this.deps.keys.current();

    const results: AttemptResult[] = [];
    const released: { deliveryId: string; attemptCount: number }[] = [];
    await Promise.all(
      claimed.map(async (delivery, index) => {
        const slotAt = firstSlotAt + index * intervalMs;
        if (slotAt > latestStartAt) {
          released.push({ deliveryId: delivery.id, attemptCount: delivery.attemptCount });
          return;
        }
        await sleepUntil(slotAt, signal);
        if (refusal === null && Date.now() > slotAt + lateToleranceMs) {
          released.push({ deliveryId: delivery.id, attemptCount: delivery.attemptCount });
          return;
        }
        try {
          if (signal.aborted) throw signal.reason;
          const outcome =
            refusal !== null ? refusedOutcome(refusal) : await this.send(connection, webhook, delivery, key);
          results.push(this.toResult(delivery, outcome));
        } catch (error) {
          if (!signal.aborted) throw error;
          released.push({ deliveryId: delivery.id, attemptCount: delivery.attemptCount });
        }
      }),
    );
    await recordAttemptResults(db, results);
    await releaseDeliveries(db, released);
    return true;
  }

  private send(
    connection: WebhookConnection,
    webhook: WebhookRow,
    delivery: DeliveryRow,
    key: Awaited<ReturnType<SigningKeyRing['current']>>,
  ): Promise<SendOutcome> {
    const body = JSON.stringify(buildPayload(delivery, delivery.attemptCount));
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'reelin-webhooks/1',
      ...signatureHeaders({
        key,
        body,
        timestampSeconds: Math.floor(Date.now() / 1000),
        messageId: delivery.id,
        secret: webhook.sealedSecret === null ? null : openWebhookSecret(webhook.sealedSecret, this.deps.kek),
      }),
    };
    return connection.post(body, headers, this.stopping.signal);
  }

  private toResult(delivery: DeliveryRow, outcome: SendOutcome): AttemptResult {
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
      nowMs: Date.now(),
      random: this.random(),
      policy: { baseDelayMs: this.deps.config.retryBaseDelayMs, maxDelayMs: this.deps.config.retryMaxDelayMs },
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
}
