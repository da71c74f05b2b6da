/**
 * Webhook subscriptions, test events, the delivery log and the public signing keys. URLs obey the
 * import URL policy (https, allowed ports, every resolved address allowed), checked here at create
 * and update time and again by the workers before every batch of sends.
 */
import type { Database } from '../db/database.js';
import type { Page, PageRequest } from '../domain/paging.js';
import {
  countTestDeliveriesSince,
  findDeliveryView,
  insertTestDelivery,
  listDeliveryViews,
  type DeliveryFilter,
  type DeliveryView,
} from '../db/queries/webhook-deliveries.queries.js';
import { findValidSigningKey, listValidSigningKeys, type SigningKeyRow } from '../db/queries/webhook-keys.queries.js';
import {
  countActiveWebhooks,
  deleteWebhook,
  findWebhook,
  insertWebhook,
  listWebhooks,
  lockTeamForWebhooks,
  updateWebhook,
  type WebhookChanges,
  type WebhookRow,
} from '../db/queries/webhooks.queries.js';
import { findVideoView } from '../db/queries/videos.queries.js';
import { AppError } from '../domain/errors.js';
import { ownerTeam, teamIdsOf, type TeamScope } from './tenancy.service.js';
import type { EventType } from '../domain/events.js';
import { MAX_ACTIVE_WEBHOOKS_PER_TEAM, MAX_TEST_EVENTS_PER_DAY } from '../domain/webhooks.js';
import type { OutboundClient } from '../net/outbound-client.js';
import { sealWebhookSecret } from '../webhooks/signing.js';

export type { DeliveryView, SigningKeyRow, WebhookRow };

export interface NewWebhookInput {
  name: string;
  description?: string | undefined;
  url: string;
  rateLimitPerSecond: number;
  maxTotalRetryDelayMinutes: number;
  eventTypes: EventType[];
  active: boolean;
  secret?: string | null | undefined;
}

export type WebhookUpdate = Partial<Omit<NewWebhookInput, 'active'>>;

/** The video id test events carry when the caller names none. */
export const TEST_EVENT_VIDEO_ID = '00000000-0000-0000-0000-000000000000';

function notFound(webhookId: string): AppError {
  return new AppError('RESOURCE_NOT_FOUND', `webhook ${webhookId} was not found`, { webhookId });
}

function tooManyActive(): AppError {
  return new AppError(
    'MAXIMUM_AMOUNT_OF_ACTIVE_WEBHOOKS_REACHED',
    `a team can have at most ${MAX_ACTIVE_WEBHOOKS_PER_TEAM} active webhooks: deactivate or delete one first`,
    { maximum: MAX_ACTIVE_WEBHOOKS_PER_TEAM },
  );
}

export class WebhookService {
  /** `kek` seals the webhooks' Standard Webhooks secrets at rest. */
  constructor(private readonly deps: { db: Database; client: OutboundClient; kek: Buffer; now?: () => Date }) {}

  private now(): Date {
    return this.deps.now ? this.deps.now() : new Date();
  }

  async create(teamId: string, input: NewWebhookInput): Promise<WebhookRow> {
    await this.deps.client.pin(input.url);
    return this.deps.db.transaction(async (tx) => {
      await lockTeamForWebhooks(tx, teamId);
      if (input.active && (await countActiveWebhooks(tx, teamId)) >= MAX_ACTIVE_WEBHOOKS_PER_TEAM)
        throw tooManyActive();
      return insertWebhook(tx, {
        teamId,
        name: input.name,
        description: input.description ?? null,
        url: input.url,
        rateLimitPerSecond: input.rateLimitPerSecond,
        maxTotalRetryDelayMinutes: input.maxTotalRetryDelayMinutes,
        eventTypes: [...new Set(input.eventTypes)],
        active: input.active,
        sealedSecret:
          input.secret === undefined || input.secret === null ? null : sealWebhookSecret(input.secret, this.deps.kek),
      });
    });
  }

  list(teamId: string, page: PageRequest): Promise<Page<WebhookRow>> {
    return listWebhooks(this.deps.db, teamId, page);
  }

  /** A webhook of a team in `scope`; 404 elsewhere, 403 in a team of the caller's without API access. */
  async get(scope: TeamScope, webhookId: string): Promise<WebhookRow> {
    const row = await findWebhook(this.deps.db, teamIdsOf(scope), webhookId);
    if (row === null) throw notFound(webhookId);
    ownerTeam(scope, row.teamId);
    return row;
  }

  async update(scope: TeamScope, webhookId: string, update: WebhookUpdate): Promise<WebhookRow> {
    if (update.url !== undefined) await this.deps.client.pin(update.url);
    const { teamId } = await this.get(scope, webhookId);
    const changes: WebhookChanges = {};
    if (update.name !== undefined) changes.name = update.name;
    if (update.description !== undefined) changes.description = update.description;
    if (update.url !== undefined) changes.url = update.url;
    if (update.rateLimitPerSecond !== undefined) changes.rateLimitPerSecond = update.rateLimitPerSecond;
    if (update.maxTotalRetryDelayMinutes !== undefined)
      changes.maxTotalRetryDelayMinutes = update.maxTotalRetryDelayMinutes;
    if (update.eventTypes !== undefined) changes.eventTypes = [...new Set(update.eventTypes)];
    if (update.secret !== undefined)
      changes.sealedSecret = update.secret === null ? null : sealWebhookSecret(update.secret, this.deps.kek);
    // An empty PATCH changes nothing, not even updatedAt.
    if (Object.keys(changes).length === 0) return this.get(scope, webhookId);
    const row = await updateWebhook(this.deps.db, teamId, webhookId, changes);
    if (row === null) throw notFound(webhookId);
    return row;
  }

  async delete(scope: TeamScope, webhookId: string): Promise<void> {
    const { teamId } = await this.get(scope, webhookId);
    if (!(await deleteWebhook(this.deps.db, teamId, webhookId))) throw notFound(webhookId);
  }

  /** Activates or deactivates; activating checks the team's limit of active webhooks. */
  async setActive(scope: TeamScope, webhookId: string, active: boolean): Promise<WebhookRow> {
    const { teamId } = await this.get(scope, webhookId);
    return this.deps.db.transaction(async (tx) => {
      await lockTeamForWebhooks(tx, teamId);
      const row = await findWebhook(tx, [teamId], webhookId);
      if (row === null) throw notFound(webhookId);
      if (row.active === active) return row;
      if (active && (await countActiveWebhooks(tx, teamId)) >= MAX_ACTIVE_WEBHOOKS_PER_TEAM) throw tooManyActive();
      const updated = await updateWebhook(tx, teamId, webhookId, { active });
      if (updated === null) throw notFound(webhookId);
      return updated;
    });
  }

  /** Queues a test event for the webhook (delivered like any other, with `test: true`). */
  async sendTest(
    scope: TeamScope,
    webhookId: string,
    options: { videoId?: string | undefined; eventType?: EventType | undefined },
  ): Promise<DeliveryView> {
    const { teamId } = await this.get(scope, webhookId);
    // The event's video must be one of the webhook's team, whichever teams the caller has.
    if (options.videoId !== undefined && (await findVideoView(this.deps.db, [teamId], options.videoId)) === null) {
      throw new AppError('RESOURCE_NOT_FOUND', `video ${options.videoId} was not found`, { videoId: options.videoId });
    }
    const delivery = await this.deps.db.transaction(async (tx) => {
      await lockTeamForWebhooks(tx, teamId);
      const webhook = await findWebhook(tx, [teamId], webhookId);
      if (webhook === null) throw notFound(webhookId);
      if (!webhook.active)
        throw new AppError(
          'WEBHOOK_NOT_ACTIVE',
          `webhook ${webhookId} is not active: activate it before sending a test event`,
          { webhookId },
        );
      const eventType = options.eventType ?? webhook.eventTypes[0] ?? 'video_in.done';
      if (!webhook.eventTypes.includes(eventType)) {
        throw new AppError(
          'WEBHOOK_NOT_ACTIVE',
          `webhook ${webhookId} is not subscribed to ${eventType}: add it to eventTypes or test another type`,
          { webhookId, eventType },
        );
      }
      const since = new Date(this.now().getTime() - 24 * 3_600_000);
      if ((await countTestDeliveriesSince(tx, teamId, since)) >= MAX_TEST_EVENTS_PER_DAY) {
        throw new AppError(
          'TOO_MANY_WEBHOOK_TEST_EVENTS',
          `a team can send at most ${MAX_TEST_EVENTS_PER_DAY} test events in 24 hours: try again later`,
          { maximum: MAX_TEST_EVENTS_PER_DAY },
        );
      }
      return insertTestDelivery(tx, {
        webhookId,
        teamId,
        eventType,
        videoId: options.videoId ?? TEST_EVENT_VIDEO_ID,
        maxTotalRetryDelayMinutes: webhook.maxTotalRetryDelayMinutes,
      });
    });
    return { delivery, attempts: [] };
  }

  listDeliveries(filter: DeliveryFilter, page: PageRequest): Promise<Page<DeliveryView>> {
    return listDeliveryViews(this.deps.db, filter, page);
  }

  async getDelivery(scope: TeamScope, deliveryId: string): Promise<DeliveryView> {
    const view = await findDeliveryView(this.deps.db, teamIdsOf(scope), deliveryId);
    if (view === null)
      throw new AppError('RESOURCE_NOT_FOUND', `webhook event ${deliveryId} was not found`, {
        webhookEventId: deliveryId,
      });
    ownerTeam(scope, view.delivery.teamId);
    return view;
  }

  listPublicKeys(): Promise<SigningKeyRow[]> {
    return listValidSigningKeys(this.deps.db, this.now());
  }

  async getPublicKey(keyId: string): Promise<SigningKeyRow> {
    const row = await findValidSigningKey(this.deps.db, keyId, this.now());
    if (row === null)
      throw new AppError('RESOURCE_NOT_FOUND', `public key ${keyId} was not found (or has expired)`, {
        publicKeyId: keyId,
      });
    return row;
  }
}
