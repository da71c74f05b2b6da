/**
 * The team a request acts for, resolved once before its handler runs. A route names where the
 * team id is read (`config: { team: ... }`); a preHandler then sets `request.team` through
 * `TenancyService.resolveTeam`, after the request was validated and the caller authenticated: a
 * team of the caller's with API access, 404 TEAM_NOT_FOUND for any other id, 403 FORBIDDEN for a
 * team without API access, and without an id the caller's default team.
 *
 * Operations on one object by id (`teamFrom.objectScope`) resolve no single team: they set
 * `request.teamScope`, every team of the caller's (or the one `selectTeamId` names), and the
 * service finds the object in any of them.
 */
import type { FastifyInstance, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import type { TeamRow, TeamScope, TenancyService } from '../services/tenancy.service.js';

/** Where a route reads the team id: the first of `fields` the validated query (or path) carries. */
export interface TeamSource {
  from: 'query' | 'params';
  fields: readonly [string, ...string[]];
  /** Set `request.teamScope` (every team of the caller's when no id is given) instead of `request.team`. */
  scope?: true;
}

/** The team sources the routes use. */
export const teamFrom = {
  /** `?selectTeamId=`: the routes that create a resource, or act on a team's singleton (its default project). */
  selectTeamId: { from: 'query', fields: ['selectTeamId'] },
  /** The routes on one object by id: found in any team of the caller's, or only in the one `?selectTeamId=` names. */
  objectScope: { from: 'query', fields: ['selectTeamId'], scope: true },
  /** `?teamId=`: the list routes, as the contract names it there. */
  teamId: { from: 'query', fields: ['teamId'] },
  /** As `objectScope` with `?selectTeamId=`, else `?teamId=`: the list of a video's derived videos accepts either. */
  objectScopeSelectTeamIdOrTeamId: { from: 'query', fields: ['selectTeamId', 'teamId'], scope: true },
  /** The `:teamId` path parameter: the team routes. */
  teamIdParam: { from: 'params', fields: ['teamId'] },
} as const satisfies Record<string, TeamSource>;

declare module 'fastify' {
  interface FastifyRequest {
    /** The team the request acts for; set only on routes that declare a `config.team` without `scope`. */
    team: TeamRow;
    /** The teams an object may be found in; set only on routes that declare `config.team` with `scope`. */
    teamScope: TeamScope;
  }
  interface FastifyContextConfig {
    /** Where this route reads the team it acts for; absent: the route acts for no team. */
    team?: TeamSource;
  }
}

/**
 * Resolves `request.team` for every route registered after this call (in this plugin and the ones
 * it registers) that declares `config.team`. Must run after `requireApiKey`, which sets the principal.
 */
export function selectTeam(app: FastifyInstance, tenancy: TenancyService): void {
  app.decorateRequest('team', null as unknown as TeamRow);
  app.decorateRequest('teamScope', null as unknown as TeamScope);
  app.addHook('onRoute', (route) => {
    const source = route.config?.team;
    if (source === undefined) return;
    checkDeclared(source, route.schema, `${String(route.method)} ${route.url}`);
    const resolve: preHandlerAsyncHookHandler = async (request: FastifyRequest) => {
      const values = request[source.from] as Record<string, string | undefined>;
      const teamId = source.fields.map((field) => values[field]).find((value) => value !== undefined);
      if (source.scope) request.teamScope = await tenancy.resolveScope(request.principal, teamId);
      else request.team = await tenancy.resolveTeam(request.principal, teamId);
    };
    // Route-level preHandlers run after the plugin-wide ones (the rate limit), as the handler did.
    const own = route.preHandler === undefined ? [] : [route.preHandler].flat();
    route.preHandler = [resolve, ...own];
  });
}

/** A team field missing from the route's schema would never be validated nor read: refuse it at start. */
function checkDeclared(source: TeamSource, schema: unknown, route: string): void {
  const part = (schema as Record<string, unknown> | undefined)?.[source.from === 'query' ? 'querystring' : 'params'];
  const shape = (part as { shape?: Record<string, unknown> } | undefined)?.shape;
  const missing = source.fields.filter((field) => shape === undefined || !(field in shape));
  if (missing.length > 0) {
    throw new Error(`route ${route} reads the team from ${source.from} ${missing.join(', ')}, which its schema lacks`);
  }
}
