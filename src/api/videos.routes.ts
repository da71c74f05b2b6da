/**
 * Videos: reading, listing, renaming and deleting them, and pre-signed download links.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { mapPage } from '../db/paging.js';
import type { TenancyService } from '../services/tenancy.service.js';
import type { VideoService } from '../services/video.service.js';
import { presentVideo } from './presenters.js';
import {
  boundedString,
  commonErrors,
  dateTime,
  errorResponse,
  pageOf,
  pageQuery,
  queryInteger,
  selectTeamQuery,
  triState,
  uuid,
  video,
} from './schemas.js';

const videoParams = z.object({ videoId: uuid });

const downloadLink = z
  .object({
    videoId: uuid,
    presignedUrl: z.string(),
    expiresAt: dateTime,
    fileSize: z.number().int(),
    mimeType: z.string(),
    fileExtension: z.string(),
    suggestedFileName: z.string(),
    crc32cChecksum: z.number().int(),
  })
  .meta({ id: 'VideoDownloadLink' });

export interface VideosRoutesDeps {
  tenancy: TenancyService;
  videos: VideoService;
  /** The scheme and host download links start with (REELIN_PUBLIC_URL); null: links are relative (`/api/downloads/...`). */
  publicUrl: string | null;
}

export function videosRoutes(deps: VideosRoutesDeps): FastifyPluginAsyncZod {
  const { tenancy, videos } = deps;
  return async (app) => {
    app.get(
      '/videos',
      {
        schema: {
          summary: 'List videos',
          tags: ['Videos'],
          querystring: pageQuery.extend({
            teamId: uuid.optional(),
            projectId: uuid.optional(),
            masterVideoId: uuid.optional(),
            clipMode: triState.default('INCLUDE'),
          }),
          response: { 200: pageOf(video), ...commonErrors },
        },
      },
      async (request) => {
        const { teamId, projectId, masterVideoId, clipMode, ...page } = request.query;
        const team = await tenancy.resolveTeam(request.principal, teamId);
        return mapPage(await videos.list({ teamId: team.id, projectId, masterVideoId, clipMode }, page), presentVideo);
      },
    );

    app.get(
      '/videos/:videoId',
      {
        schema: {
          summary: 'Get a video',
          tags: ['Videos'],
          params: videoParams,
          querystring: selectTeamQuery,
          response: { 200: video, ...commonErrors },
        },
      },
      async (request) => {
        const team = await tenancy.resolveTeam(request.principal, request.query.selectTeamId);
        return presentVideo(await videos.get(team, request.params.videoId));
      },
    );

    app.patch(
      '/videos/:videoId',
      {
        schema: {
          summary: 'Rename or describe a video',
          tags: ['Videos'],
          params: videoParams,
          querystring: selectTeamQuery,
          body: z.object({
            name: boundedString(1, 255).optional(),
            description: boundedString(0, 511).optional(),
          }),
          response: { 200: video, ...commonErrors },
        },
      },
      async (request) => {
        const team = await tenancy.resolveTeam(request.principal, request.query.selectTeamId);
        return presentVideo(await videos.update(team, request.params.videoId, request.body));
      },
    );

    app.delete(
      '/videos/:videoId',
      {
        schema: {
          summary: 'Delete a video and everything derived from it',
          description:
            'Optional body: the array of derived video ids the caller expects to be deleted with it; a different list answers 409 CONFLICTING_DERIVED_VIDEO_IDS. Returns the ids of the deleted videos.',
          tags: ['Videos'],
          params: videoParams,
          querystring: selectTeamQuery,
          body: z.array(uuid).max(1000).nullish(),
          response: { 200: z.array(uuid), 409: errorResponse, ...commonErrors },
        },
      },
      async (request) => {
        const team = await tenancy.resolveTeam(request.principal, request.query.selectTeamId);
        return videos.delete(team, request.params.videoId, request.body ?? undefined);
      },
    );

    app.get(
      '/videos/:videoId/derived',
      {
        schema: {
          summary: 'List the videos derived from a video',
          tags: ['Videos'],
          params: videoParams,
          querystring: pageQuery.extend({ selectTeamId: uuid.optional(), teamId: uuid.optional() }),
          response: { 200: pageOf(video), ...commonErrors },
        },
      },
      async (request) => {
        const { selectTeamId, teamId, ...page } = request.query;
        const team = await tenancy.resolveTeam(request.principal, selectTeamId ?? teamId);
        return mapPage(await videos.listDerived(team, request.params.videoId, page), presentVideo);
      },
    );

    app.post(
      '/videos/:videoId/out/https',
      {
        schema: {
          summary: 'Get a pre-signed download URL for the video file',
          description:
            "The URL is served by this service, supports HTTP range requests, and expires after `durationMinutes`. The response carries the file's CRC32C.",
          tags: ['Videos'],
          params: videoParams,
          querystring: selectTeamQuery.extend({ durationMinutes: queryInteger(1, 60).default(15) }),
          response: { 200: downloadLink, 409: errorResponse, ...commonErrors },
        },
      },
      async (request) => {
        const team = await tenancy.resolveTeam(request.principal, request.query.selectTeamId);
        // Never the request's Host header, which the caller chooses: the configured origin, else a relative link.
        const baseUrl = deps.publicUrl ?? '';
        const link = await videos.createDownloadLink(team, request.params.videoId, {
          durationMinutes: request.query.durationMinutes,
          baseUrl,
        });
        return { ...link, expiresAt: link.expiresAt.toISOString() };
      },
    );
  };
}
