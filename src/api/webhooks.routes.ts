/**
 * Webhooks: subscriptions, test events, the delivery log and the public signing keys.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { mapPage } from '../domain/paging.js';
import type { WebhookService } from '../services/webhook.service.js';
import { webhookEventExample, webhookExample, webhookPublicKeyExample } from './examples.js';
import { presentWebhook, presentWebhookEvent, presentWebhookPublicKey } from './presenters.js';
import {
  commonErrors,
  errorResponse,
  pageOf,
  pageQuery,
  queryDateTime,
  selectTeamQuery,
  teamIdQuery,
  triState,
  uuid,
  webhook,
  webhookEvent,
  webhookEventType,
  webhookFields,
  webhookPublicKey,
} from './schemas.js';
import { teamFrom } from './team-selection.js';

const webhookParams = z.object({ webhookId: uuid.describe('The webhook.') });
const tags = ['Webhooks'];

export function webhooksRoutes(deps: { webhooks: WebhookService }): FastifyPluginAsyncZod {
  const { webhooks } = deps;
  return async (app) => {
    app.post(
      '/webhooks',
      {
        config: { team: teamFrom.selectTeamId },
        schema: {
          operationId: 'createVideoWebhook',
          summary: 'Create a webhook',
          description:
            'At most 10 active webhooks per team (409 MAXIMUM_AMOUNT_OF_ACTIVE_WEBHOOKS_REACHED). Deliveries are signed with ECDSA (X-Pixop-* headers) and, with a `secret`, also with Standard Webhooks headers.',
          tags,
          querystring: selectTeamQuery,
          body: z
            .object({
              name: webhookFields.name,
              description: webhookFields.description.optional(),
              url: webhookFields.url,
              rateLimitPerSecond: webhookFields.rateLimitPerSecond.default(10),
              maxTotalRetryDelayMinutes: webhookFields.maxTotalRetryDelayMinutes.default(180),
              eventTypes: webhookFields.eventTypes,
              active: z.boolean({ message: 'must be true or false' }).default(true),
              secret: webhookFields.secret.optional(),
            })
            .meta({
              examples: [
                {
                  name: 'Ingest notifications',
                  description: 'Tells the editing suite when a master is ready.',
                  url: 'https://hooks.example.com/reelin',
                  rateLimitPerSecond: 10,
                  maxTotalRetryDelayMinutes: 180,
                  eventTypes: ['video_in.done', 'video_in.failed', 'video_in_ingestion.done'],
                  active: true,
                  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
                },
              ],
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
          operationId: 'getVideoWebhooks',
          summary: 'List webhooks',
          description: 'The webhooks of one team (`teamId`, else the default team), a page at a time.',
          tags,
          querystring: pageQuery.extend({ teamId: teamIdQuery }),
          response: { 200: pageOf(webhook, webhookExample), ...commonErrors },
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
          operationId: 'getWebhookPublicKeys',
          summary: 'The public keys that verify delivery signatures',
          description: 'The active key and, during a rotation, the previous one with its `expiresAt`.',
          tags,
          response: {
            200: z.array(webhookPublicKey).meta({
              description: 'The active key and, during a rotation, the previous one.',
              examples: [[webhookPublicKeyExample]],
            }),
            ...commonErrors,
          },
        },
      },
      async () => (await webhooks.listPublicKeys()).map(presentWebhookPublicKey),
    );

    app.get(
      '/webhooks/public-keys/:publicKeyId',
      {
        schema: {
          operationId: 'getWebhookPublicKeyById',
          summary: 'One public key, by the X-Pixop-Public-Key-Id of a delivery',
          description:
            "The public key a delivery's `X-Pixop-Public-Key-Id` names, also after a rotation replaced it, until it expires.",
          tags,
          params: z.object({ publicKeyId: uuid.describe('The key, as a delivery names it in X-Pixop-Public-Key-Id.') }),
          response: { 200: webhookPublicKey, ...commonErrors },
        },
      },
      async (request) => presentWebhookPublicKey(await webhooks.getPublicKey(request.params.publicKeyId)),
    );

    app.get(
      '/webhooks/events',
      {
        config: { team: teamFrom.teamId },
        schema: {
          operationId: 'getVideoWebhookEvents',
          summary: 'The delivery log',
          description:
            "Every delivery of an event to a webhook, with every attempt. `webhookId` is this service's extension.",
          tags,
          querystring: pageQuery.extend({
            teamId: teamIdQuery,
            webhookId: uuid.optional().meta({
              description: "This service's extension: only the deliveries to this webhook.",
              'x-reelin-extension': true,
            }),
            successfulMode: triState
              .default('INCLUDE')
              .describe('Successful deliveries: listed with the rest (INCLUDE), left out (EXCLUDE) or alone (ONLY).'),
            testMode: triState
              .default('INCLUDE')
              .describe('Test events: listed with the rest (INCLUDE), left out (EXCLUDE) or alone (ONLY).'),
            occurredAtFrom: queryDateTime.optional().describe('Only events that occurred at or after this instant.'),
            occurredAtUntil: queryDateTime.optional().describe('Only events that occurred before this instant.'),
          }),
          response: { 200: pageOf(webhookEvent, webhookEventExample), ...commonErrors },
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
        config: { team: teamFrom.objectScope },
        schema: {
          operationId: 'getVideoWebhookEventById',
          summary: 'One delivery with its attempts',
          description: "One delivery of an event to a webhook of any of the caller's teams, with every attempt.",
          tags,
          params: z.object({ webhookEventId: uuid.describe('The delivery.') }),
          querystring: selectTeamQuery,
          response: { 200: webhookEvent, ...commonErrors },
        },
      },
      async (request) => {
        return presentWebhookEvent(await webhooks.getDelivery(request.teamScope, request.params.webhookEventId));
      },
    );

    app.get(
      '/webhooks/:webhookId',
      {
        config: { team: teamFrom.objectScope },
        schema: {
          operationId: 'getVideoWebhookById',
          summary: 'Get a webhook',
          description: "A webhook of any of the caller's teams.",
          tags,
          params: webhookParams,
          querystring: selectTeamQuery,
          response: { 200: webhook, ...commonErrors },
        },
      },
      async (request) => {
        return presentWebhook(await webhooks.get(request.teamScope, request.params.webhookId));
      },
    );

    app.patch(
      '/webhooks/:webhookId',
      {
        config: { team: teamFrom.objectScope },
        schema: {
          operationId: 'updateVideoWebhookById',
          summary: 'Change a webhook',
          description:
            'Every field is optional; `secret: null` removes the Standard Webhooks secret. Use activate/deactivate to change `active`.',
          tags,
          params: webhookParams,
          querystring: selectTeamQuery,
          body: z
            .object({
              name: webhookFields.name.optional(),
              description: webhookFields.description.optional(),
              url: webhookFields.url.optional(),
              rateLimitPerSecond: webhookFields.rateLimitPerSecond.optional(),
              maxTotalRetryDelayMinutes: webhookFields.maxTotalRetryDelayMinutes.optional(),
              eventTypes: webhookFields.eventTypes.optional(),
              secret: webhookFields.secret.nullable().optional(),
            })
            .meta({
              examples: [
                { url: 'https://hooks.example.com/reelin/v2', eventTypes: ['video_in.done', 'video.deleted'] },
              ],
            }),
          response: { 200: webhook, ...commonErrors },
        },
      },
      async (request) => {
        return presentWebhook(await webhooks.update(request.teamScope, request.params.webhookId, request.body));
      },
    );

    app.delete(
      '/webhooks/:webhookId',
      {
        config: { team: teamFrom.objectScope },
        schema: {
          operationId: 'deleteVideoWebhookById',
          summary: 'Delete a webhook and its delivery log',
          description: 'Deletes the webhook together with its delivery log.',
          tags,
          params: webhookParams,
          querystring: selectTeamQuery,
          response: { 204: z.null().describe('The webhook and its delivery log are deleted.'), ...commonErrors },
        },
      },
      async (request, reply) => {
        await webhooks.delete(request.teamScope, request.params.webhookId);
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
          config: { team: teamFrom.objectScope },
          schema: {
            operationId: active ? 'activateVideoWebhookById' : 'deactivateVideoWebhookById',
            summary: active ? 'Activate a webhook' : 'Deactivate a webhook',
            description: active
              ? 'At most 10 active webhooks per team (409 MAXIMUM_AMOUNT_OF_ACTIVE_WEBHOOKS_REACHED).'
              : 'Pending deliveries wait until the webhook is active again (within their retry window).',
            tags,
            params: webhookParams,
            querystring: selectTeamQuery,
            // Only activating can pass the limit of active webhooks.
            response: active
              ? { 200: webhook, 409: errorResponse, ...commonErrors }
              : { 200: webhook, ...commonErrors },
          },
        },
        async (request) => {
          return presentWebhook(await webhooks.setActive(request.teamScope, request.params.webhookId, active));
        },
      );
    }

    app.post(
      '/webhooks/:webhookId/test',
      {
        config: { team: teamFrom.objectScope },
        schema: {
          operationId: 'testVideoWebhookById',
          summary: 'Send a test event',
          description:
            "Queues a delivery with `test: true`. `eventType` defaults to the webhook's first event type; `videoId` (a video of the team) defaults to the nil UUID. " +
            'At most 1000 per team per 24 h (409 TOO_MANY_WEBHOOK_TEST_EVENTS); 409 WEBHOOK_NOT_ACTIVE for an inactive webhook or a type it is not subscribed to.',
          tags,
          params: webhookParams,
          querystring: selectTeamQuery.extend({
            videoId: uuid
              .optional()
              .describe('The video the test event names (a video of the team); absent: the nil UUID.'),
            eventType: webhookEventType.optional().describe("The event type; absent: the webhook's first event type."),
          }),
          response: { 201: webhookEvent, 409: errorResponse, ...commonErrors },
        },
      },
      async (request, reply) => {
        const { videoId, eventType: type } = request.query;
        const view = await webhooks.sendTest(request.teamScope, request.params.webhookId, { videoId, eventType: type });
        return reply.code(201).send(presentWebhookEvent(view));
      },
    );
  };
}
