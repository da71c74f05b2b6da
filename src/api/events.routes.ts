/**
 * The live event stream (this service's extension, issue 16): the route validates, resolves the
 * team and hands over to the live events service (src/live), which writes the stream.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { LiveEvents } from '../live/live-events.js';
import { teamFrom } from './team-selection.js';
import { commonErrors, teamIdQuery } from './schemas.js';

export interface EventsRoutesDeps {
  live: Pick<LiveEvents, 'open'>;
}

/** The stream's answer; the OpenAPI document describes its events (openapi.ts, documentEventStream). */
const eventStreamBody = z.string().describe('`text/event-stream`: the events described above, as they happen.');

export function eventsRoutes(deps: EventsRoutesDeps): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/events/stream',
      {
        config: { team: teamFrom.teamId },
        schema: {
          operationId: 'streamEvents',
          summary: 'Follow changes live (server-sent events)',
          description:
            "This service's extension: a `text/event-stream` of the team's changes (`teamId`, else the default team), so a client need not poll. It starts with `retry: 2000` and a `ready` event; then `video` (the video as `GET /api/v1/videos/{videoId}` presents it, when it is created or its state changes), `video.deleted` (`{videoId}`) and `webhook.delivery` (`{webhookId, webhookEventId}`, when a delivery attempt is recorded); a `: heartbeat` comment keeps it alive. Each event's `id` is a cursor: reconnect with `Last-Event-ID` to get the latest state of everything changed since, or a `reset` event (refetch everything) when that cursor is no longer kept. Streams per API key are limited (429). See docs/API.md.",
          tags: ['Live updates'],
          querystring: z.object({ teamId: teamIdQuery }),
          response: { 200: eventStreamBody, ...commonErrors },
        },
      },
      async (request, reply) => {
        const lastEventId = request.headers['last-event-id'];
        const stream = deps.live.open({
          apiKeyId: request.principal.apiKeyId,
          teamId: request.team.id,
          lastEventId: Array.isArray(lastEventId) ? lastEventId[0] : lastEventId,
        });
        // The client may go at any time: ending the stream unsubscribes it.
        reply.raw.once('close', () => stream.destroy());
        return (
          reply
            .header('content-type', 'text/event-stream')
            .header('cache-control', 'no-cache')
            .header('x-accel-buffering', 'no')
            // The zod type provider types the body by the documented schema (a string); a stream is sent as is.
            .send(stream as unknown as string)
        );
      },
    );
  };
}
