/**
 * Videos: reading, listing, renaming and deleting them, and pre-signed download links.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { mapPage } from '../domain/paging.js';
import type { VideoService } from '../services/video.service.js';
import { clipExample, exampleIds, videoExample } from './examples.js';
import { presentDownloadLink, presentVideo } from './presenters.js';
import { teamFrom } from './team-selection.js';
import {
  boundedString,
  commonErrors,
  errorResponse,
  extension,
  operationStatus,
  pageOf,
  pageQuery,
  queryInteger,
  selectTeamQuery,
  teamIdQuery,
  triState,
  uuid,
  video,
  videoDownloadLink,
} from './schemas.js';

const videoParams = z.object({ videoId: uuid.describe('The video.') });

export interface VideosRoutesDeps {
  videos: VideoService;
  /** The scheme and host download links start with (REELIN_PUBLIC_URL); null: links are relative (`/api/downloads/...`). */
  publicUrl: string | null;
}

export function videosRoutes(deps: VideosRoutesDeps): FastifyPluginAsyncZod {
  const { videos } = deps;
  return async (app) => {
    app.get(
      '/videos',
      {
        config: { team: teamFrom.teamId },
        schema: {
          operationId: 'getVideos',
          summary: 'List videos',
          description:
            "The videos of one team (`teamId`, else the default team), a page at a time, optionally of one project, derived from one master, or the master of one clip. This service's extension: also by the state of the copy or the ingestion, and by a part of the name.",
          tags: ['Videos'],
          querystring: pageQuery.extend({
            teamId: teamIdQuery,
            projectId: uuid.optional().describe('Only the videos of this project.'),
            masterVideoId: uuid.optional().describe('Only the videos derived from this master (its clips).'),
            clipId: uuid.optional().meta({ description: 'Only the master video this video is a clip of.' }),
            clipMode: triState
              .default('INCLUDE')
              .describe('Clips: listed with the rest (INCLUDE), left out (EXCLUDE) or alone (ONLY).'),
            uploadStatus: extension(
              operationStatus.optional(),
              'only the videos whose copy (`upload.uploadState.uploadStatus`) is in this state; a video without a copy (a clip) never matches.',
            ),
            ingestionStatus: extension(
              operationStatus.optional(),
              'only the videos whose ingestion (`ingestion.ingestionState.ingestionStatus`) is in this state; a video not yet ingested counts as INITIAL, as it is shown.',
            ),
            nameContains: extension(
              boundedString(1, 255).optional(),
              'only the videos whose name contains this text, ignoring case; `%`, `_` and `\\` are plain characters, not wildcards.',
            ),
          }),
          response: { 200: pageOf(video, videoExample), ...commonErrors },
        },
      },
      async (request) => {
        const {
          teamId: _teamId,
          projectId,
          masterVideoId,
          clipId,
          clipMode,
          uploadStatus,
          ingestionStatus,
          nameContains,
          ...page
        } = request.query;
        const filter = {
          teamId: request.team.id,
          projectId,
          masterVideoId,
          clipId,
          clipMode,
          uploadStatus,
          ingestionStatus,
          nameContains,
        };
        return mapPage(await videos.list(filter, page), presentVideo);
      },
    );

    app.get(
      '/videos/:videoId',
      {
        config: { team: teamFrom.objectScope },
        schema: {
          operationId: 'getVideoById',
          summary: 'Get a video',
          description: "A video of any of the caller's teams, with its copy, ingestion and processing state.",
          tags: ['Videos'],
          params: videoParams,
          querystring: selectTeamQuery,
          response: { 200: video, ...commonErrors },
        },
      },
      async (request) => {
        return presentVideo(await videos.get(request.teamScope, request.params.videoId));
      },
    );

    app.patch(
      '/videos/:videoId',
      {
        config: { team: teamFrom.objectScope },
        schema: {
          operationId: 'updateVideoById',
          summary: 'Rename or describe a video',
          description:
            'Changes the name and description given; fields left out stay as they are, and an empty body changes nothing.',
          tags: ['Videos'],
          params: videoParams,
          querystring: selectTeamQuery,
          body: z
            .object({
              name: boundedString(1, 255).optional(),
              description: boundedString(0, 511).optional(),
            })
            .meta({ examples: [{ name: 'Interview, camera A (graded)', description: 'Colour-graded master.' }] }),
          response: { 200: video, ...commonErrors },
        },
      },
      async (request) => {
        return presentVideo(await videos.update(request.teamScope, request.params.videoId, request.body));
      },
    );

    app.delete(
      '/videos/:videoId',
      {
        config: { team: teamFrom.objectScope },
        schema: {
          operationId: 'deleteVideoById',
          summary: 'Delete a video and everything derived from it',
          description:
            'Optional body: the array of derived video ids the caller expects to be deleted with it; a different list answers 409 CONFLICTING_DERIVED_VIDEO_IDS. Returns the ids of the deleted videos.',
          tags: ['Videos'],
          params: videoParams,
          querystring: selectTeamQuery,
          body: z
            .array(uuid)
            .max(1000)
            .nullish()
            .meta({ examples: [[exampleIds.clip]] }),
          response: {
            200: z.array(uuid).meta({
              description: 'The ids of the deleted videos: this one and every video derived from it.',
              examples: [[exampleIds.video, exampleIds.clip]],
            }),
            409: errorResponse,
            ...commonErrors,
          },
        },
      },
      async (request) => {
        return videos.delete(request.teamScope, request.params.videoId, request.body ?? undefined);
      },
    );

    app.get(
      '/videos/:videoId/derived',
      {
        config: { team: teamFrom.objectScopeSelectTeamIdOrTeamId },
        schema: {
          operationId: 'getDerivedVideos',
          summary: 'List the videos derived from a video',
          description: 'The videos made from this video (its free clip, for a master), a page at a time.',
          tags: ['Videos'],
          params: videoParams,
          querystring: pageQuery.extend({ selectTeamId: selectTeamQuery.shape.selectTeamId, teamId: teamIdQuery }),
          response: { 200: pageOf(video, clipExample), ...commonErrors },
        },
      },
      async (request) => {
        const { selectTeamId: _selectTeamId, teamId: _teamId, ...page } = request.query;
        return mapPage(await videos.listDerived(request.teamScope, request.params.videoId, page), presentVideo);
      },
    );

    app.post(
      '/videos/:videoId/out/https',
      {
        config: { team: teamFrom.objectScope },
        schema: {
          operationId: 'generateVideoDownloadUrl',
          summary: 'Get a pre-signed download URL for the video file',
          description:
            "The URL is served by this service, supports HTTP range requests, and expires after `durationMinutes`. The response carries the file's CRC32C.",
          tags: ['Videos'],
          params: videoParams,
          querystring: selectTeamQuery.extend({
            durationMinutes: queryInteger(1, 60).default(15).describe('Minutes until the link expires (default 15).'),
          }),
          response: { 200: videoDownloadLink, 409: errorResponse, ...commonErrors },
        },
      },
      async (request) => {
        // Never the request's Host header, which the caller chooses: the configured origin, else a relative link.
        const baseUrl = deps.publicUrl ?? '';
        const link = await videos.createDownloadLink(request.teamScope, request.params.videoId, {
          durationMinutes: request.query.durationMinutes,
          baseUrl,
        });
        return presentDownloadLink(link);
      },
    );
  };
}
