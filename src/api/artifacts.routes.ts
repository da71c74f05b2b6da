/**
 * Ingestion artifacts over the API (this service's extension, documented in the OpenAPI): the
 * thumbnails and poster, the full frames, and the web video of a video, each as a pre-signed,
 * expiring, range-capable link.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ArtifactLink, ArtifactService } from '../services/artifact.service.js';
import type { TenancyService } from '../services/tenancy.service.js';
import { commonErrors, dateTime, errorResponse, queryInteger, selectTeamQuery, uuid } from './schemas.js';

const artifact = z.object({
  id: uuid,
  kind: z.enum(['THUMBNAIL', 'POSTER', 'FULL_FRAME', 'WEB_VIDEO']),
  position: z.number().int().describe('Order within its kind, from 0.'),
  timestampMillis: z.number().int().nullable().describe('Where in the video the picture was taken.'),
  width: z.number().int(),
  height: z.number().int(),
  sizeBytes: z.number().int(),
  mimeType: z.string(),
  presignedUrl: z.string(),
  expiresAt: dateTime,
}).meta({ id: 'VideoArtifact' });

const artifactList = z.object({ videoId: uuid, items: z.array(artifact) }).meta({ id: 'VideoArtifactList' });

const linkQuery = selectTeamQuery.extend({ durationMinutes: queryInteger(1, 60).default(15) });
const params = z.object({ videoId: uuid });

function present(link: ArtifactLink): z.input<typeof artifact> {
  return { ...link, expiresAt: link.expiresAt.toISOString() };
}

export function artifactRoutes(deps: { tenancy: TenancyService; artifacts: ArtifactService; publicUrl: string | null }): FastifyPluginAsyncZod {
  return async (app) => {
    const conflict = { 409: errorResponse, ...commonErrors };

    app.get('/videos/:videoId/thumbnails', {
      schema: {
        summary: 'List a video\'s thumbnails and poster',
        description: 'Made by a full ingestion: evenly spaced pictures (black and fade frames skipped) as small images, and one larger poster. 409 VIDEO_NOT_FULLY_INGESTED until they exist.',
        tags: ['Ingestion'],
        params,
        querystring: linkQuery,
        response: { 200: artifactList, ...conflict },
      },
    }, async (request) => {
      const team = await deps.tenancy.resolveTeam(request.principal, request.query.selectTeamId);
      const baseUrl = deps.publicUrl ?? `${request.protocol}://${request.host}`;
      const links = await deps.artifacts.links(team, request.params.videoId, ['THUMBNAIL', 'POSTER'], { durationMinutes: request.query.durationMinutes, baseUrl });
      return { videoId: request.params.videoId, items: links.map(present) };
    });

    app.get('/videos/:videoId/full-frames', {
      schema: {
        summary: 'List a video\'s full frames',
        description: 'The thumbnails\' instants at full resolution, lossless (PNG). 409 VIDEO_NOT_FULLY_INGESTED until they exist.',
        tags: ['Ingestion'],
        params,
        querystring: linkQuery,
        response: { 200: artifactList, ...conflict },
      },
    }, async (request) => {
      const team = await deps.tenancy.resolveTeam(request.principal, request.query.selectTeamId);
      const baseUrl = deps.publicUrl ?? `${request.protocol}://${request.host}`;
      const links = await deps.artifacts.links(team, request.params.videoId, ['FULL_FRAME'], { durationMinutes: request.query.durationMinutes, baseUrl });
      return { videoId: request.params.videoId, items: links.map(present) };
    });

    app.post('/videos/:videoId/web-video/out/https', {
      schema: {
        summary: 'Get a pre-signed URL for the web video',
        description: 'H.264/AAC MP4 with faststart, at most 1080p, square pixels, progressive. The link answers HTTP range requests, so a browser can seek. 409 VIDEO_NOT_FULLY_INGESTED until it exists.',
        tags: ['Ingestion'],
        params,
        querystring: linkQuery,
        response: { 200: artifact, ...conflict },
      },
    }, async (request) => {
      const team = await deps.tenancy.resolveTeam(request.principal, request.query.selectTeamId);
      const baseUrl = deps.publicUrl ?? `${request.protocol}://${request.host}`;
      const [link] = await deps.artifacts.links(team, request.params.videoId, ['WEB_VIDEO'], { durationMinutes: request.query.durationMinutes, baseUrl });
      return present(link as ArtifactLink);
    });
  };
}
