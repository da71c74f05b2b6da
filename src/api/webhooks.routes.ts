/**
 * Webhooks: subscriptions, test events, the delivery log and the public signing keys.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { mapPage } from '../db/paging.js';
import type { DeliveryView } from '../db/queries/webhook-deliveries.queries.js';
import type { SigningKeyRow } from '../db/queries/webhook-keys.queries.js';
import type { WebhookRow } from '../db/queries/webhooks.queries.js';
import { eventTypes, type EventType } from '../domain/events.js';
import { buildPayload, standardWebhooksSecretPattern } from '../domain/webhooks.js';
import type { WebhookService } from '../services/webhook.service.js';
import { teamFrom } from './team-selection.js';
import {
  boundedString,
  commonErrors,
  dateTime,
  errorResponse,
  pageOf,
  pageQuery,
  queryDateTime,
  selectTeamQuery,
  triState,
  uuid,
} from './schemas.js';

const eventType = z.enum(eventTypes as [EventType, ...EventType[]], {
  message: `must be one of ${eventTypes.join(', ')}`,
});

function boundedInteger(min: number, max: number) {
  return z
    .number({ error: (issue) => (issue.input === undefined ? 'is required' : 'must be a number') })
    .int({ message: 'must be a whole number' })
    .min(min, { message: `must be ${min} to ${max}` })
    .max(max, { message: `must be ${min} to ${max}` });
}

const secretDescription =
  "This service's extension: a Standard Webhooks secret (`whsec_` followed by the base64 of 24 to 64 random bytes). When set, " +
  'every delivery also carries `webhook-id`, `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>`, ' +
  'so receivers can verify with the Standard Webhooks libraries. Write-only: responses show only `hasSecret`.';

const fields = {
  name: boundedString(1, 47),
  description: boundedString(1, 255),
  url: boundedString(1, 4096).describe(
    'HTTPS URL the events are POSTed to; the same rules as the import URL (https, allowed port, every address of the host public), checked now and again before every delivery.',
  ),
  rateLimitPerSecond: boundedInteger(1, 1000).describe(
    "At most this many requests per second to the URL, across all of the service's worker processes together.",
  ),
  maxTotalRetryDelayMinutes: boundedInteger(0, 1440).describe(
    'Failed deliveries are retried with exponential backoff and jitter until this many minutes after the event was dispatched; 0: no retry.',
  ),
  eventTypes: z
    .array(eventType)
    .min(1, { message: 'must name 1 to 22 event types' })
    .max(22, { message: 'must name 1 to 22 event types' }),
  secret: z
    .string()
    .regex(standardWebhooksSecretPattern, { message: 'must be whsec_ followed by the base64 of 24 to 64 bytes' })
    .describe(secretDescription),
};

const webhook = z
  .object({
    id: uuid,
    createdAt: dateTime,
    updatedAt: dateTime,
    teamId: uuid,
    name: z.string(),
    description: z.string().nullable(),
    url: z.string(),
    rateLimitPerSecond: z.number().int(),
    maxTotalRetryDelayMinutes: z.number().int(),
    eventTypes: z.array(z.string()),
    active: z.boolean(),
    hasSecret: z
      .boolean()
      .describe(
        "This service's extension: whether deliveries also carry a Standard Webhooks signature (see `secret`).",
      ),
  })
  .meta({ id: 'Webhook' });

const payload = z
  .object({
    id: uuid,
    webhookId: uuid,
    eventType: z.string(),
    occurredAt: dateTime,
    test: z.boolean(),
    attemptCount: z.number().int(),
    data: z.object({ type: z.literal('VIDEO'), videoId: uuid }),
  })
  .meta({ id: 'WebhookPayload' });

const webhookEvent = z
  .object({
    id: uuid,
    createdAt: dateTime,
    updatedAt: dateTime,
    teamId: uuid,
    payload,
    nextAttemptEarliestAt: dateTime
      .nullable()
      .describe('When the next attempt may start; null once the delivery succeeded or gave up.'),
    successful: z.boolean(),
    responses: z.array(
      z.object({
        requestedAt: dateTime,
        responseTimeMillis: z.number().int(),
        statusCode: z.number().int().nullable(),
        responseBody: z.string().nullable().describe('The first 100 characters of the response body.'),
        errorCode: z.string().nullable(),
        errorMessage: z.string().nullable(),
        responseRetryAt: dateTime.nullable().describe('The time a 429 or 503 response asked for with Retry-After.'),
        responseHeaders: z.record(z.string(), z.string()).nullable().describe('The headers of a failed response.'),
      }),
    ),
  })
  .meta({ id: 'WebhookEvent' });

const publicKey = z
  .object({
    id: uuid,
    createdAt: dateTime,
    updatedAt: dateTime,
    algorithm: z.literal('EC'),
    publicKey: z.string().describe('Base64 DER SubjectPublicKeyInfo of an ECDSA P-256 key.'),
    expiresAt: dateTime
      .nullable()
      .describe('Null for the active key; set on a key replaced by a rotation, which stays valid until then.'),
  })
  .meta({ id: 'WebhookPublicKey' });

const iso = (date: Date): string => date.toISOString();
const isoOrNull = (date: Date | null): string | null => (date === null ? null : iso(date));

function presentWebhook(row: WebhookRow): z.input<typeof webhook> {
  return {
    id: row.id,
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
    teamId: row.teamId,
    name: row.name,
    description: row.description,
    url: row.url,
    rateLimitPerSecond: row.rateLimitPerSecond,
    maxTotalRetryDelayMinutes: row.maxTotalRetryDelayMinutes,
    eventTypes: row.eventTypes,
    active: row.active,
    hasSecret: row.sealedSecret !== null,
  };
}

function presentWebhookEvent(view: DeliveryView): z.input<typeof webhookEvent> {
  const { delivery } = view;
  return {
    id: delivery.id,
    createdAt: iso(delivery.createdAt),
    updatedAt: iso(delivery.updatedAt),
    teamId: delivery.teamId,
    payload: buildPayload(delivery, Math.max(1, delivery.attemptCount)),
    nextAttemptEarliestAt: delivery.status === 'PENDING' ? isoOrNull(delivery.nextAttemptAt) : null,
    successful: delivery.status === 'SUCCEEDED',
    responses: view.attempts.map((attempt) => ({
      requestedAt: iso(attempt.requestedAt),
      responseTimeMillis: attempt.responseTimeMillis,
      statusCode: attempt.statusCode,
      responseBody: attempt.responseBody,
      errorCode: attempt.errorCode,
      errorMessage: attempt.errorMessage,
      responseRetryAt: isoOrNull(attempt.responseRetryAt),
      responseHeaders: attempt.responseHeaders,
    })),
  };
}

function presentPublicKey(row: SigningKeyRow): z.input<typeof publicKey> {
  return {
    id: row.id,
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
    algorithm: 'EC',
    publicKey: row.publicKey,
    expiresAt: isoOrNull(row.expiresAt),
  };
}

const webhookParams = z.object({ webhookId: uuid });
const tags = ['Webhooks'];

export function webhooksRoutes(deps: { webhooks: WebhookService }): FastifyPluginAsyncZod {
  const { webhooks } = deps;
  return async (app) => {
    app.post(
      '/webhooks',
      {
        config: { team: teamFrom.selectTeamId },
        schema: {
          summary: 'Create a webhook',
          description:
            'At most 10 active webhooks per team (409 MAXIMUM_AMOUNT_OF_ACTIVE_WEBHOOKS_REACHED). Deliveries are signed with ECDSA (X-Pixop-* headers) and, with a `secret`, also with Standard Webhooks headers.',
          tags,
          querystring: selectTeamQuery,
          body: z.object({
            name: fields.name,
            description: fields.description.optional(),
            url: fields.url,
            rateLimitPerSecond: fields.rateLimitPerSecond.default(10),
            maxTotalRetryDelayMinutes: fields.maxTotalRetryDelayMinutes.default(180),
            eventTypes: fields.eventTypes,
            active: z.boolean({ message: 'must be true or false' }).default(true),
            secret: fields.secret.optional(),
          }),
          response: { 201: webhook, 409: errorResponse, ...commonErrors },
        },
      },
      async (request, reply) => {
        const row = await webhooks.create(request.team.id, request.body);
        return reply.code(201).header('location', `/api/v1/webhooks/${row.id}`).send(presentWebhook(row));
      },
    );

    app.get(
      '/webhooks',
      {
        config: { team: teamFrom.teamId },
        schema: {
          summary: 'List webhooks',
          tags,
          querystring: pageQuery.extend({ teamId: uuid.optional() }),
          response: { 200: pageOf(webhook), ...commonErrors },
        },
      },
      async (request) => {
        const { teamId: _teamId, ...page } = request.query;
        return mapPage(await webhooks.list(request.team.id, page), presentWebhook);
      },
    );

    app.get(
      '/webhooks/public-keys',
      {
        schema: {
          summary: 'The public keys that verify delivery signatures',
          description: 'The active key and, during a rotation, the previous one with its `expiresAt`.',
          tags,
          response: { 200: z.array(publicKey), ...commonErrors },
        },
      },
      async () => (await webhooks.listPublicKeys()).map(presentPublicKey),
    );

    app.get(
      '/webhooks/public-keys/:publicKeyId',
      {
        schema: {
          summary: 'One public key, by the X-Pixop-Public-Key-Id of a delivery',
          tags,
          params: z.object({ publicKeyId: uuid }),
          response: { 200: publicKey, ...commonErrors },
        },
      },
      async (request) => presentPublicKey(await webhooks.getPublicKey(request.params.publicKeyId)),
    );

    app.get(
      '/webhooks/events',
      {
        config: { team: teamFrom.teamId },
        schema: {
          summary: 'The delivery log',
          description:
            "Every delivery of an event to a webhook, with every attempt. `webhookId` is this service's extension.",
          tags,
          querystring: pageQuery.extend({
            teamId: uuid.optional(),
            webhookId: uuid.optional(),
            successfulMode: triState.default('INCLUDE'),
            testMode: triState.default('INCLUDE'),
            occurredAtFrom: queryDateTime.optional(),
            occurredAtUntil: queryDateTime.optional(),
          }),
          response: { 200: pageOf(webhookEvent), ...commonErrors },
        },
      },
      async (request) => {
        const {
          teamId: _teamId,
          webhookId,
          successfulMode,
          testMode,
          occurredAtFrom,
          occurredAtUntil,
          ...page
        } = request.query;
        const filter = {
          teamId: request.team.id,
          webhookId,
          successfulMode,
          testMode,
          occurredAtFrom,
          occurredAtUntil,
        };
        return mapPage(await webhooks.listDeliveries(filter, page), presentWebhookEvent);
      },
    );

    app.get(
      '/webhooks/events/:webhookEventId',
      {
        config: { team: teamFrom.selectTeamId },
        schema: {
          summary: 'One delivery with its attempts',
          tags,
          params: z.object({ webhookEventId: uuid }),
          querystring: selectTeamQuery,
          response: { 200: webhookEvent, ...commonErrors },
        },
      },
      async (request) => {
        return presentWebhookEvent(await webhooks.getDelivery(request.team.id, request.params.webhookEventId));
      },
    );

    app.get(
      '/webhooks/:webhookId',
      {
        config: { team: teamFrom.selectTeamId },
        schema: {
          summary: 'Get a webhook',
          tags,
          params: webhookParams,
          querystring: selectTeamQuery,
          response: { 200: webhook, ...commonErrors },
        },
      },
      async (request) => {
        return presentWebhook(await webhooks.get(request.team.id, request.params.webhookId));
      },
    );

    app.patch(
      '/webhooks/:webhookId',
      {
        config: { team: teamFrom.selectTeamId },
        schema: {
          summary: 'Change a webhook',
          description:
            'Every field is optional; `secret: null` removes the Standard Webhooks secret. Use activate/deactivate to change `active`.',
          tags,
          params: webhookParams,
          querystring: selectTeamQuery,
          body: z.object({
            name: fields.name.optional(),
            description: fields.description.optional(),
            url: fields.url.optional(),
            rateLimitPerSecond: fields.rateLimitPerSecond.optional(),
            maxTotalRetryDelayMinutes: fields.maxTotalRetryDelayMinutes.optional(),
            eventTypes: fields.eventTypes.optional(),
            secret: fields.secret.nullable().optional(),
          }),
          response: { 200: webhook, ...commonErrors },
        },
      },
      async (request) => {
        return presentWebhook(await webhooks.update(request.team.id, request.params.webhookId, request.body));
      },
    );

    app.delete(
      '/webhooks/:webhookId',
      {
        config: { team: teamFrom.selectTeamId },
        schema: {
          summary: 'Delete a webhook and its delivery log',
          tags,
          params: webhookParams,
          querystring: selectTeamQuery,
          response: { 204: z.null(), ...commonErrors },
        },
      },
      async (request, reply) => {
        await webhooks.delete(request.team.id, request.params.webhookId);
        return reply.code(204).send(null);
      },
    );

    for (const [action, active] of [
      ['activate', true],
      ['deactivate', false],
    ] as const) {
      app.post(
        `/webhooks/:webhookId/${action}`,
        {
          config: { team: teamFrom.selectTeamId },
          schema: {
            summary: active ? 'Activate a webhook' : 'Deactivate a webhook',
            description: active
              ? 'At most 10 active webhooks per team (409 MAXIMUM_AMOUNT_OF_ACTIVE_WEBHOOKS_REACHED).'
              : 'Pending deliveries wait until the webhook is active again (within their retry window).',
            tags,
            params: webhookParams,
            querystring: selectTeamQuery,
            response: { 200: webhook, 409: errorResponse, ...commonErrors },
          },
        },
        async (request) => {
          return presentWebhook(await webhooks.setActive(request.team.id, request.params.webhookId, active));
        },
      );
    }

    app.post(
      '/webhooks/:webhookId/test',
      {
        config: { team: teamFrom.selectTeamId },
        schema: {
          summary: 'Send a test event',
          description:
            "Queues a delivery with `test: true`. `eventType` defaults to the webhook's first event type; `videoId` (a video of the team) defaults to the nil UUID. " +
            'At most 1000 per team per 24 h (409 TOO_MANY_WEBHOOK_TEST_EVENTS); 409 WEBHOOK_NOT_ACTIVE for an inactive webhook or a type it is not subscribed to.',
          tags,
          params: webhookParams,
          querystring: selectTeamQuery.extend({ videoId: uuid.optional(), eventType: eventType.optional() }),
          response: { 201: webhookEvent, 409: errorResponse, ...commonErrors },
        },
      },
      async (request, reply) => {
        const { videoId, eventType: type } = request.query;
        const view = await webhooks.sendTest(request.team.id, request.params.webhookId, { videoId, eventType: type });
        return reply.code(201).send(presentWebhookEvent(view));
      },
    );
  };
}
