/**
 * The account, its teams, and the teams' projects.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { mapPage } from '../domain/paging.js';
import type { ProjectService } from '../services/project.service.js';
import type { TenancyService } from '../services/tenancy.service.js';
import { projectExample, teamExample } from './examples.js';
import { presentAccount, presentProject, presentTeam } from './presenters.js';
import { teamFrom } from './team-selection.js';
import {
  account,
  boundedString,
  commonErrors,
  errorResponse,
  extensionOperation,
  pageOf,
  pageQuery,
  project,
  selectTeamQuery,
  teamIdQuery,
  team,
  uuid,
} from './schemas.js';

const projectName = boundedString(1, 47);

export function tenancyRoutes(deps: { tenancy: TenancyService; projects: ProjectService }): FastifyPluginAsyncZod {
  const { tenancy, projects } = deps;
  return async (app) => {
    app.get(
      '/account',
      {
        schema: {
          operationId: 'getAccount',
          summary: "The API key owner's account",
          description:
            'The user the API key belongs to, with their default team (the oldest of their teams with the API enabled; null when none is).',
          tags: ['Account'],
          response: { 200: account, ...commonErrors },
        },
      },
      async (request) => presentAccount(await tenancy.account(request.principal)),
    );

    app.get(
      '/teams',
      {
        schema: {
          operationId: 'getTeams',
          summary: 'List your teams',
          description: "Every team the API key's user belongs to, a page at a time.",
          tags: ['Teams'],
          querystring: pageQuery,
          response: { 200: pageOf(team, teamExample), ...commonErrors },
        },
      },
      async (request) => mapPage(await tenancy.listTeams(request.principal, request.query), presentTeam),
    );

    app.get(
      '/teams/:teamId',
      {
        schema: {
          operationId: 'getTeamById',
          summary: 'Get a team',
          description: "One of the caller's teams; another team is 404 TEAM_NOT_FOUND.",
          tags: ['Teams'],
          params: z.object({ teamId: uuid.describe("One of the caller's teams.") }),
          response: { 200: team, ...commonErrors },
        },
      },
      async (request) => presentTeam(await tenancy.getTeam(request.principal, request.params.teamId)),
    );

    app.patch(
      '/teams/:teamId',
      {
        // Changing a team is using it through the API: a team without API access is 403, as on every route.
        config: { team: teamFrom.teamIdParam },
        schema: {
          operationId: 'updateTeamById',
          summary: "Change a team's settings",
          ...extensionOperation(
            '`freeClipEnabled` turns the free 10-second clip of every ingested master on or off for the team.',
          ),
          tags: ['Teams'],
          params: z.object({ teamId: uuid.describe("One of the caller's teams.") }),
          body: z
            .object({ freeClipEnabled: z.boolean({ error: 'must be true or false' }).optional() })
            .strict()
            .meta({ examples: [{ freeClipEnabled: false }] }),
          response: { 200: team, ...commonErrors },
        },
      },
      async (request) => presentTeam(await tenancy.updateSettings(request.team, request.body)),
    );

    app.post(
      '/projects',
      {
        config: { team: teamFrom.selectTeamId },
        schema: {
          operationId: 'createProject',
          summary: 'Create a project',
          description: 'Creates a project in the selected team (`selectTeamId`, else the default team).',
          tags: ['Projects'],
          querystring: selectTeamQuery,
          body: z.object({ name: projectName }).meta({ examples: [{ name: 'Documentary 2026' }] }),
          response: { 201: project, ...commonErrors },
        },
      },
      async (request, reply) => {
        const row = await projects.create(request.team.id, request.body.name);
        return reply.code(201).header('location', `/api/v1/projects/${row.id}`).send(presentProject(row));
      },
    );

    app.get(
      '/projects',
      {
        config: { team: teamFrom.teamId },
        schema: {
          operationId: 'getProjects',
          summary: 'List projects',
          description: 'The projects of one team (`teamId`, else the default team), a page at a time.',
          tags: ['Projects'],
          querystring: pageQuery.extend({ teamId: teamIdQuery }),
          response: { 200: pageOf(project, projectExample), ...commonErrors },
        },
      },
      async (request) => {
        const { teamId: _teamId, ...page } = request.query;
        return mapPage(await projects.list(request.team.id, page), presentProject);
      },
    );

    app.get(
      '/projects/default',
      {
        config: { team: teamFrom.selectTeamId },
        schema: {
          operationId: 'getDefaultProject',
          summary: "The team's default project",
          description:
            'The project a video goes to when its import names none, in the selected team (`selectTeamId`, else the default team).',
          tags: ['Projects'],
          querystring: selectTeamQuery,
          response: { 200: project, ...commonErrors },
        },
      },
      async (request) => {
        return presentProject(await projects.getDefault(request.team.id));
      },
    );

    const projectParams = z.object({ projectId: uuid.describe('The project.') });
    app.get(
      '/projects/:projectId',
      {
        config: { team: teamFrom.objectScope },
        schema: {
          operationId: 'getProjectById',
          summary: 'Get a project',
          description: "A project of any of the caller's teams.",
          tags: ['Projects'],
          params: projectParams,
          querystring: selectTeamQuery,
          response: { 200: project, ...commonErrors },
        },
      },
      async (request) => {
        return presentProject(await projects.get(request.teamScope, request.params.projectId));
      },
    );

    app.patch(
      '/projects/:projectId',
      {
        config: { team: teamFrom.objectScope },
        schema: {
          operationId: 'updateProjectById',
          summary: 'Rename a project',
          description: 'Without `name` (or without a body) nothing changes and the project is returned as it is.',
          tags: ['Projects'],
          params: projectParams,
          querystring: selectTeamQuery,
          body: z.object({ name: projectName.optional() }).meta({ examples: [{ name: 'Documentary 2026 (final)' }] }),
          response: { 200: project, ...commonErrors },
        },
      },
      async (request) => {
        const { name } = request.body;
        return presentProject(
          name === undefined
            ? await projects.get(request.teamScope, request.params.projectId)
            : await projects.rename(request.teamScope, request.params.projectId, name),
        );
      },
    );

    app.delete(
      '/projects/:projectId',
      {
        config: { team: teamFrom.objectScope },
        schema: {
          operationId: 'deleteProjectById',
          summary: 'Delete a project without videos',
          description: 'Deletes a project that has no videos (409 otherwise); the default project cannot be deleted.',
          tags: ['Projects'],
          params: projectParams,
          querystring: selectTeamQuery,
          response: { 204: z.null().describe('The project is deleted.'), 409: errorResponse, ...commonErrors },
        },
      },
      async (request, reply) => {
        await projects.delete(request.teamScope, request.params.projectId);
        return reply.code(204).send(null);
      },
    );
  };
}
