/**
 * The account, its teams, and the teams' projects.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../domain/errors.js';
import type { Database } from '../db/database.js';
import { mapPage } from '../db/paging.js';
import {
  findDefaultTeam,
  findMemberTeam,
  findUser,
  listMemberTeams,
  updateTeamSettings,
} from '../db/queries/tenancy.queries.js';
import type { ProjectService } from '../services/project.service.js';
import type { TenancyService } from '../services/tenancy.service.js';
import { presentAccount, presentProject, presentTeam } from './presenters.js';
import {
  account,
  boundedString,
  commonErrors,
  errorResponse,
  pageOf,
  pageQuery,
  project,
  selectTeamQuery,
  team,
  uuid,
} from './schemas.js';

const projectName = boundedString(1, 47);

export function tenancyRoutes(deps: {
  db: Database;
  tenancy: TenancyService;
  projects: ProjectService;
}): FastifyPluginAsyncZod {
  const { db, tenancy, projects } = deps;
  return async (app) => {
    app.get(
      '/account',
      {
        schema: {
          summary: "The API key owner's account",
          tags: ['Account'],
          response: { 200: account, ...commonErrors },
        },
      },
      async (request) => {
        const user = await findUser(db, request.principal.userId);
        if (user === null) throw new AppError('INVALID_API_KEY', "the API key's user no longer exists");
        return presentAccount(user, await findDefaultTeam(db, user.id));
      },
    );

    app.get(
      '/teams',
      {
        schema: {
          summary: 'List your teams',
          tags: ['Teams'],
          querystring: pageQuery,
          response: { 200: pageOf(team), ...commonErrors },
        },
      },
      async (request) => mapPage(await listMemberTeams(db, request.principal.userId, request.query), presentTeam),
    );

    app.get(
      '/teams/:teamId',
      {
        schema: {
          summary: 'Get a team',
          tags: ['Teams'],
          params: z.object({ teamId: uuid }),
          response: { 200: team, ...commonErrors },
        },
      },
      async (request) => {
        const row = await findMemberTeam(db, request.principal.userId, request.params.teamId);
        if (row === null) throw new AppError('TEAM_NOT_FOUND', `team ${request.params.teamId} was not found`);
        return presentTeam(row);
      },
    );

    app.patch(
      '/teams/:teamId',
      {
        schema: {
          summary: "Change a team's settings",
          description:
            "This service's extension: `freeClipEnabled` turns the free 10-second clip of every ingested master on or off for the team.",
          tags: ['Teams'],
          params: z.object({ teamId: uuid }),
          body: z.object({ freeClipEnabled: z.boolean({ error: 'must be true or false' }).optional() }).strict(),
          response: { 200: team, ...commonErrors },
        },
      },
      async (request) => {
        // Changing a team is using it through the API: a team without API access is 403, as on every route.
        const member = await tenancy.resolveTeam(request.principal, request.params.teamId);
        if (request.body.freeClipEnabled === undefined) return presentTeam(member);
        const row = await updateTeamSettings(db, member.id, request.body);
        if (row === null) throw new AppError('TEAM_NOT_FOUND', `team ${request.params.teamId} was not found`);
        return presentTeam(row);
      },
    );

    app.post(
      '/projects',
      {
        schema: {
          summary: 'Create a project',
          tags: ['Projects'],
          querystring: selectTeamQuery,
          body: z.object({ name: projectName }),
          response: { 201: project, ...commonErrors },
        },
      },
      async (request, reply) => {
        const selected = await tenancy.resolveTeam(request.principal, request.query.selectTeamId);
        const row = await projects.create(selected.id, request.body.name);
        return reply.code(201).header('location', `/api/v1/projects/${row.id}`).send(presentProject(row));
      },
    );

    app.get(
      '/projects',
      {
        schema: {
          summary: 'List projects',
          tags: ['Projects'],
          querystring: pageQuery.extend({ teamId: uuid.optional() }),
          response: { 200: pageOf(project), ...commonErrors },
        },
      },
      async (request) => {
        const { teamId, ...page } = request.query;
        const selected = await tenancy.resolveTeam(request.principal, teamId);
        return mapPage(await projects.list(selected.id, page), presentProject);
      },
    );

    app.get(
      '/projects/default',
      {
        schema: {
          summary: "The team's default project",
          tags: ['Projects'],
          querystring: selectTeamQuery,
          response: { 200: project, ...commonErrors },
        },
      },
      async (request) => {
        const selected = await tenancy.resolveTeam(request.principal, request.query.selectTeamId);
        return presentProject(await projects.getDefault(selected.id));
      },
    );

    const projectParams = z.object({ projectId: uuid });
    app.get(
      '/projects/:projectId',
      {
        schema: {
          summary: 'Get a project',
          tags: ['Projects'],
          params: projectParams,
          querystring: selectTeamQuery,
          response: { 200: project, ...commonErrors },
        },
      },
      async (request) => {
        const selected = await tenancy.resolveTeam(request.principal, request.query.selectTeamId);
        return presentProject(await projects.get(selected.id, request.params.projectId));
      },
    );

    app.patch(
      '/projects/:projectId',
      {
        schema: {
          summary: 'Rename a project',
          description: 'Without `name` (or without a body) nothing changes and the project is returned as it is.',
          tags: ['Projects'],
          params: projectParams,
          querystring: selectTeamQuery,
          body: z.object({ name: projectName.optional() }),
          response: { 200: project, ...commonErrors },
        },
      },
      async (request) => {
        const selected = await tenancy.resolveTeam(request.principal, request.query.selectTeamId);
        const { name } = request.body;
        return presentProject(
          name === undefined
            ? await projects.get(selected.id, request.params.projectId)
            : await projects.rename(selected.id, request.params.projectId, name),
        );
      },
    );

    app.delete(
      '/projects/:projectId',
      {
        schema: {
          summary: 'Delete a project without videos',
          tags: ['Projects'],
          params: projectParams,
          querystring: selectTeamQuery,
          response: { 204: z.null(), 409: errorResponse, ...commonErrors },
        },
      },
      async (request, reply) => {
        const selected = await tenancy.resolveTeam(request.principal, request.query.selectTeamId);
        await projects.delete(selected.id, request.params.projectId);
        return reply.code(204).send(null);
      },
    );
  };
}
