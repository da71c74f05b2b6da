/**
 * Ingestion artifacts over the API (this service's extension, documented in the OpenAPI): the
 * thumbnails and poster, the full frames, and the web video of a video, each as a pre-signed,
 * expiring, range-capable link.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ArtifactKind, ArtifactLink, ArtifactService } from '../services/artifact.service.js';
import type { TeamScope } from '../services/tenancy.service.js';
import { teamFrom } from './team-selection.js';
import { presentArtifactLink } from './presenters.js';
import {
  commonErrors,
  errorResponse,
  extensionOperation,
  queryInteger,
  selectTeamQuery,
  uuid,
  videoArtifact,
  videoArtifactList,
} from './schemas.js';

const linkQuery = selectTeamQuery.extend({
  durationMinutes: queryInteger(1, 60).default(15).describe('Minutes until the links expire (default 15).'),
});
const params = z.object({ videoId: uuid.describe('The video.') });

/** The parts of a request the artifact routes read. */
interface LinkRequest {
  teamScope: TeamScope;
  params: { videoId: string };
  query: { durationMinutes: number };
}

export function artifactRoutes(deps: { artifacts: ArtifactService; publicUrl: string | null }): FastifyPluginAsyncZod {
  return async (app) => {
    const conflict = { 409: errorResponse, ...commonErrors };
    const linksFor = async (request: LinkRequest, kinds: readonly ArtifactKind[]): Promise<ArtifactLink[]> => {
      // Never the request's Host header, which the caller chooses: the configured origin, else a relative link.
      const baseUrl = deps.publicUrl ?? '';
      return deps.artifacts.links(request.teamScope, request.params.videoId, kinds, {
        durationMinutes: request.query.durationMinutes,
        baseUrl,
      });
    };

    /** Lists the artifacts of some kinds as links: the shared body of the two list routes. */
    const listRoute = (
      url: string,
      kinds: readonly ArtifactKind[],
      operationId: string,
      summary: string,
      description: string,
    ) => {
      app.get(
        url,
        {
          config: { team: teamFrom.objectScope },
          schema: {
            operationId,
            summary,
            ...extensionOperation(description),
            tags: ['Ingestion'],
            params,
            querystring: linkQuery,
            response: { 200: videoArtifactList, ...conflict },
          },
        },
        async (request) => {
          const links = await linksFor(request, kinds);
          return { videoId: request.params.videoId, items: links.map(presentArtifactLink) };
        },
      );
    };

    listRoute(
      '/videos/:videoId/thumbnails',
      ['THUMBNAIL', 'POSTER'],
      'getVideoThumbnails',
      "List a video's thumbnails and poster",
      'Made by a full ingestion: evenly spaced pictures (black and fade frames skipped) as small images, and one larger poster. 409 VIDEO_NOT_FULLY_INGESTED until they exist.',
    );
    listRoute(
      '/videos/:videoId/full-frames',
      ['FULL_FRAME'],
      'getVideoFullFrames',
      "List a video's full frames",
      "The thumbnails' instants at full resolution, lossless (PNG). 409 VIDEO_NOT_FULLY_INGESTED until they exist.",
    );

    app.post(
      '/videos/:videoId/web-video/out/https',
      {
        config: { team: teamFrom.objectScope },
        schema: {
          operationId: 'generateWebVideoDownloadUrl',
          summary: 'Get a pre-signed URL for the web video',
          ...extensionOperation(
            'H.264/AAC MP4 with faststart, at most 1080p, square pixels, progressive. The link answers HTTP range requests, so a browser can seek. 409 VIDEO_NOT_FULLY_INGESTED until it exists.',
          ),
          tags: ['Ingestion'],
          params,
          querystring: linkQuery,
          response: { 200: videoArtifact, ...conflict },
        },
      },
      async (request) => {
        const [link] = await linksFor(request, ['WEB_VIDEO']);
        return presentArtifactLink(link as ArtifactLink);
      },
    );
  };
}
