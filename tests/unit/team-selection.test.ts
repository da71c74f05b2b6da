import Fastify, { type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { registerErrorHandling } from '../../src/api/errors.js';
import { selectTeam, teamFrom } from '../../src/api/team-selection.js';
import { AppError } from '../../src/domain/errors.js';
import type { Principal, TeamRow, TeamScope, TenancyService } from '../../src/services/tenancy.service.js';

const principal: Principal = { userId: '00000000-0000-4000-8000-00000000000a', apiKeyId: 'key-1' };
const defaultTeamId = '11111111-1111-4111-8111-111111111111';
const otherTeamId = '22222222-2222-4222-8222-222222222222';
const foreignTeamId = '33333333-3333-4333-8333-333333333333';

function teamRow(id: string): TeamRow {
  const at = new Date('2026-01-02T03:04:05Z');
  return { id, createdAt: at, updatedAt: at, name: `team ${id}`, apiEnabled: true, freeClipEnabled: false };
}

/** A tenancy that records each resolution and knows the default team, one other team, and no more. */
function fakeTenancy(calls: { principal: Principal; teamId: string | undefined }[]): TenancyService {
  return {
    resolveTeam: async (caller: Principal, teamId: string | undefined) => {
      calls.push({ principal: caller, teamId });
      if (teamId === undefined) return teamRow(defaultTeamId);
      if (teamId === otherTeamId) return teamRow(otherTeamId);
      throw new AppError('TEAM_NOT_FOUND', `team ${teamId} was not found`, { teamId });
    },
    resolveScope: async (caller: Principal, teamId: string | undefined): Promise<TeamScope> => {
      calls.push({ principal: caller, teamId });
      if (teamId === undefined) return { teams: [teamRow(defaultTeamId), teamRow(otherTeamId)] };
      if (teamId === otherTeamId) return { teams: [teamRow(otherTeamId)] };
      throw new AppError('TEAM_NOT_FOUND', `team ${teamId} was not found`, { teamId });
    },
  } as unknown as TenancyService;
}

const uuid = z.uuid();
let app: FastifyInstance | undefined;

afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function buildApp(calls: { principal: Principal; teamId: string | undefined }[], order: string[] = []) {
  const typed = Fastify().withTypeProvider<ZodTypeProvider>();
  typed.setValidatorCompiler(validatorCompiler);
  typed.setSerializerCompiler(serializerCompiler);
  registerErrorHandling(typed);
  typed.decorateRequest('principal', null as unknown as Principal);
  typed.addHook('onRequest', async (request) => {
    request.principal = principal;
  });
  selectTeam(typed, fakeTenancy(calls));
  await typed.register(async (routes) => {
    routes.get(
      '/one',
      { config: { team: teamFrom.selectTeamId }, schema: { querystring: z.object({ selectTeamId: uuid.optional() }) } },
      async (request) => ({ teamId: request.team.id }),
    );
    routes.get(
      '/list',
      { config: { team: teamFrom.teamId }, schema: { querystring: z.object({ teamId: uuid.optional() }) } },
      async (request) => ({ teamId: request.team.id }),
    );
    routes.get(
      '/object',
      { config: { team: teamFrom.objectScope }, schema: { querystring: z.object({ selectTeamId: uuid.optional() }) } },
      async (request) => ({ teamIds: request.teamScope.teams.map((team) => team.id), team: request.team }),
    );
    routes.get(
      '/either',
      {
        config: { team: teamFrom.objectScopeSelectTeamIdOrTeamId },
        schema: { querystring: z.object({ selectTeamId: uuid.optional(), teamId: uuid.optional() }) },
      },
      async (request) => ({ teamIds: request.teamScope.teams.map((team) => team.id) }),
    );
    routes.patch(
      '/teams/:teamId',
      {
        config: { team: teamFrom.teamIdParam },
        schema: { params: z.object({ teamId: uuid }) },
        preHandler: async (request) => {
          order.push(`route preHandler sees ${request.team.id}`);
        },
      },
      async (request) => {
        order.push('handler');
        return { teamId: request.team.id };
      },
    );
    routes.get('/none', async (request) => ({ team: request.team }));
  });
  await typed.ready();
  app = typed;
  return typed;
}

describe('selecting the team of a request', () => {
  it('resolves ?selectTeamId= once, and the default team without it', async () => {
    const calls: { principal: Principal; teamId: string | undefined }[] = [];
    const server = await buildApp(calls);

    const selected = await server.inject({ url: `/one?selectTeamId=${otherTeamId}` });
    expect(selected.statusCode).toBe(200);
    expect(selected.json()).toEqual({ teamId: otherTeamId });
    const fallback = await server.inject({ url: '/one' });
    expect(fallback.json()).toEqual({ teamId: defaultTeamId });
    expect(calls).toEqual([
      { principal, teamId: otherTeamId },
      { principal, teamId: undefined },
    ]);
  });

  it('reads ?teamId= on a list, and prefers ?selectTeamId= where a route accepts both', async () => {
    const calls: { principal: Principal; teamId: string | undefined }[] = [];
    const server = await buildApp(calls);

    expect((await server.inject({ url: `/list?teamId=${otherTeamId}` })).json()).toEqual({ teamId: otherTeamId });
    expect((await server.inject({ url: `/either?teamId=${otherTeamId}` })).json()).toEqual({ teamIds: [otherTeamId] });
    const both = await server.inject({ url: `/either?selectTeamId=${foreignTeamId}&teamId=${otherTeamId}` });
    expect(both.statusCode).toBe(404);
    expect(calls.map((call) => call.teamId)).toEqual([otherTeamId, otherTeamId, foreignTeamId]);
  });

  it('scopes an operation by id to every team of the caller, or to the one ?selectTeamId= names', async () => {
    const calls: { principal: Principal; teamId: string | undefined }[] = [];
    const server = await buildApp(calls);

    const every = await server.inject({ url: '/object' });
    expect(every.statusCode).toBe(200);
    expect(every.json()).toEqual({ teamIds: [defaultTeamId, otherTeamId], team: null });
    expect((await server.inject({ url: `/object?selectTeamId=${otherTeamId}` })).json()).toEqual({
      teamIds: [otherTeamId],
      team: null,
    });
    const foreign = await server.inject({ url: `/object?selectTeamId=${foreignTeamId}` });
    expect(foreign.statusCode).toBe(404);
    expect(foreign.json()).toMatchObject({ errorCode: 'TEAM_NOT_FOUND', errorDetails: { teamId: foreignTeamId } });
    expect(calls).toEqual([
      { principal, teamId: undefined },
      { principal, teamId: otherTeamId },
      { principal, teamId: foreignTeamId },
    ]);
  });

  it('answers the resolution error without running the handler', async () => {
    const calls: { principal: Principal; teamId: string | undefined }[] = [];
    const order: string[] = [];
    const server = await buildApp(calls, order);

    const response = await server.inject({ method: 'PATCH', url: `/teams/${foreignTeamId}` });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({
      errorCode: 'TEAM_NOT_FOUND',
      message: `team ${foreignTeamId} was not found`,
      errorDetails: { teamId: foreignTeamId },
    });
    expect(order).toEqual([]);
  });

  it("reads a path parameter, before the route's own preHandler", async () => {
    const calls: { principal: Principal; teamId: string | undefined }[] = [];
    const order: string[] = [];
    const server = await buildApp(calls, order);

    const response = await server.inject({ method: 'PATCH', url: `/teams/${otherTeamId}` });
    expect(response.json()).toEqual({ teamId: otherTeamId });
    expect(order).toEqual([`route preHandler sees ${otherTeamId}`, 'handler']);
  });

  it('validates first: a malformed team id is a 400 and no resolution', async () => {
    const calls: { principal: Principal; teamId: string | undefined }[] = [];
    const server = await buildApp(calls);

    const response = await server.inject({ url: '/one?selectTeamId=not-a-uuid' });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ errorCode: 'VALIDATION_ERROR' });
    expect(calls).toEqual([]);
  });

  it('leaves routes that declare no team alone', async () => {
    const calls: { principal: Principal; teamId: string | undefined }[] = [];
    const server = await buildApp(calls);

    expect((await server.inject({ url: '/none' })).json()).toEqual({ team: null });
    expect(calls).toEqual([]);
  });

  it('refuses at start a route reading the team from a field its schema lacks', async () => {
    const typed = Fastify().withTypeProvider<ZodTypeProvider>();
    typed.setValidatorCompiler(validatorCompiler);
    typed.setSerializerCompiler(serializerCompiler);
    selectTeam(typed, fakeTenancy([]));
    app = typed;
    expect(() =>
      typed.get(
        '/videos',
        { config: { team: teamFrom.teamId }, schema: { querystring: z.object({ selectTeamId: uuid.optional() }) } },
        async () => ({}),
      ),
    ).toThrow('route GET /videos reads the team from query teamId, which its schema lacks');
  });
});
