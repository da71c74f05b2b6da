/**
 * The delivery scheduler: every poll (or at once when the dispatcher made deliveries, or the bell
 * rang for a test event) it lists the webhooks with due deliveries and starts one runner per
 * webhook that has none in this process. A runner delivers its webhook's due deliveries batch
 * after batch (delivery-batch.ts) until none is left. Runners are independent: a slow or dead
 * endpoint holds only its own runner, never the deliveries of other webhooks.
 */
import type { Logger } from 'pino';
import type { WebhookRow } from '../db/queries/webhooks.queries.js';
import { deliverBatch, type DeliveryBatchDeps, type DeliveryConnection } from './delivery-batch.js';

/** At most this many webhooks are served at once per process. */
const MAX_RUNNERS = 256;
/** Webhooks allowed at least this many requests per second get two batch loops per process. */
const PIPELINE_MIN_RATE = 50;

export interface DeliverySchedulerDeps extends DeliveryBatchDeps {
  outbox: DeliveryBatchDeps['outbox'] & {
    /** Up to `limit` ids of webhooks with due deliveries. */
    listWebhooksWithDue(limit: number): Promise<string[]>;
    findWebhook(webhookId: string): Promise<WebhookRow | null>;
  };
  /** A webhook's own connection (pinned pool) for the length of its runner. */
  openConnection: () => DeliveryConnection & { close(): Promise<void> };
  log: Logger;
}

export class DeliveryScheduler {
  private readonly runners = new Map<string, Promise<void>>();

  constructor(
    private readonly deps: DeliverySchedulerDeps,
    /** The worker's stop: no new runner starts, and runners end after their batch. */
    private readonly signal: AbortSignal,
  ) {}

  /** Starts a runner for each webhook with due deliveries and none running here. */
  async schedule(): Promise<void> {
    if (this.runners.size >= MAX_RUNNERS) return;
    for (const webhookId of await this.deps.outbox.listWebhooksWithDue(MAX_RUNNERS * 2)) {
      if (this.runners.size >= MAX_RUNNERS || this.signal.aborted) break;
      if (this.runners.has(webhookId)) continue;
      const runner = this.run(webhookId)
        .catch((error: unknown) => this.deps.log.error({ err: error, webhookId }, 'webhook delivery runner failed'))
        .finally(() => this.runners.delete(webhookId));
      this.runners.set(webhookId, runner);
    }
  }

  /** Resolves when every runner started has ended. */
  async drain(): Promise<void> {
    await Promise.all(this.runners.values());
  }

  /**
   * Delivers the webhook's due deliveries, batch after batch, until none is left. Webhooks with a
   * high rate limit get a second batch loop, so one batch is claimed and recorded while the other
   * sends (the slots keep both within the limit).
   */
  private async run(webhookId: string): Promise<void> {
    const connection = this.deps.openConnection();
    const loop = async () => {
      while (!this.signal.aborted) {
        const webhook = await this.deps.outbox.findWebhook(webhookId);
        if (webhook === null || !webhook.active) return;
        if (!(await deliverBatch(this.deps, webhook, connection, this.signal))) return;
      }
    };
    try {
      const first = await this.deps.outbox.findWebhook(webhookId);
      const loops = first !== null && first.rateLimitPerSecond >= PIPELINE_MIN_RATE ? 2 : 1;
      await Promise.all(Array.from({ length: loops }, loop));
    } finally {
      await connection.close();
    }
  }
}
