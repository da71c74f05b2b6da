/**
 * The webhook side of a worker process: the dispatcher (dispatcher.ts), the delivery scheduler
 * and its runners (delivery-scheduler.ts, delivery-batch.ts) and key rotation, each on a loop of
 * its own, woken by the event bell (event-bell.ts) and polled as the backstop. The outbox is the
 * database's (webhook-deliveries.queries.ts), wired here.
 */
import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import type { WebhookConfig } from '../config/config.js';
import type { Database } from '../db/database.js';
import {
  claimDueDeliveries,
  dispatchEvents,
  listWebhooksWithDueDeliveries,
  recordAttemptResults,
  releaseDeliveries,
  reserveSendSlots,
} from '../db/queries/webhook-deliveries.queries.js';
import { findWebhookForDelivery } from '../db/queries/webhooks.queries.js';
import type { OutboundClient } from '../net/outbound-client.js';
import { DeliveryScheduler, type DeliverySchedulerDeps } from './delivery-scheduler.js';
import { dispatchPendingEvents, type EventDispatch } from './dispatcher.js';
import type { EventBell } from './event-bell.js';
import { Loop, sleepOrStop } from './loop.js';
import type { SigningKeyRing } from './signing-keys.js';
import { WebhookConnection } from './webhook-connection.js';

const MAINTENANCE_INTERVAL_MS = 60_000;

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
  now?: () => Date;
}

/** The outbox in the database. */
function databaseOutbox(db: Database): DeliverySchedulerDeps['outbox'] & EventDispatch {
  return {
    dispatchEvents: (limit) => dispatchEvents(db, limit),
    listWebhooksWithDue: (limit) => listWebhooksWithDueDeliveries(db, limit),
    findWebhook: (webhookId) => findWebhookForDelivery(db, webhookId),
    claimDue: (webhookId, limit, leaseMs) => claimDueDeliveries(db, webhookId, limit, leaseMs),
    reserveSendSlots: (webhookId, count, intervalMs) => reserveSendSlots(db, webhookId, count, intervalMs),
    recordResults: (results) => recordAttemptResults(db, results),
    release: (claims) => releaseDeliveries(db, claims),
  };
}

export class WebhookWorker {
  private readonly stopping = new AbortController();
  private readonly outbox: DeliverySchedulerDeps['outbox'] & EventDispatch;
  private readonly scheduler: DeliveryScheduler;
  private loops: Loop[] = [];
  private stopListening: (() => void) | null = null;

  constructor(private readonly deps: WebhookWorkerDeps) {
    // Every send waiting for its slot listens for the stop.
    setMaxListeners(0, this.stopping.signal);
    const now = deps.now ?? (() => new Date());
    this.outbox = databaseOutbox(deps.db);
    this.scheduler = new DeliveryScheduler(
      {
        outbox: this.outbox,
        keys: deps.keys,
        kek: deps.kek,
        config: deps.config,
        now,
        sleep: sleepOrStop,
        random: deps.random ?? Math.random,
        openConnection: () => new WebhookConnection(deps.client, deps.config.timeoutMs, now),
        log: deps.log,
      },
      this.stopping.signal,
    );
  }

  start(): void {
    const signal = this.stopping.signal;
    const onError = (what: string) => (error: unknown) =>
      this.deps.log.error({ err: error }, `webhook ${what} failed; trying again`);
    const scheduling = new Loop(
      signal,
      this.deps.config.pollIntervalMs,
      () => this.scheduler.schedule(),
      onError('scheduling'),
    );
    // The dispatcher wakes the scheduler itself when it made deliveries.
    const dispatcher = new Loop(
      signal,
      this.deps.config.pollIntervalMs,
      () => dispatchPendingEvents(this.outbox, () => scheduling.wake(), signal),
      onError('dispatch'),
    );
    this.loops = [
      dispatcher,
      scheduling,
      new Loop(signal, MAINTENANCE_INTERVAL_MS, () => this.maintain(), onError('key rotation')),
    ];
    this.stopListening =
      this.deps.bell?.onRing((ring) => {
        if (ring === 'events' || ring === 'missed') dispatcher.wake();
        if (ring === 'deliveries' || ring === 'missed') scheduling.wake();
      }) ?? null;
  }

  /** Stops the loops, aborts sends in flight (their claims are given back) and waits for the runners. */
  async stop(): Promise<void> {
    this.stopListening?.();
    this.stopping.abort();
    await Promise.all([...this.loops.map((loop) => loop.done), this.scheduler.drain()]);
  }

  private async maintain(): Promise<void> {
    const { keyRotationIntervalMs, keyOverlapMs } = this.deps.config;
    if (await this.deps.keys.rotateIfDue(keyRotationIntervalMs, keyOverlapMs))
      this.deps.log.info('rotated the webhook signing key');
  }
}
