/**
 * Who is calling and which team they act for. Teams a caller is not a member of do not exist for
 * them: every miss is a 404, never a 403 that would confirm the team exists.
 */
import { createHash, randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { AppError } from '../domain/errors.js';
import type { Database } from '../db/database.js';
import type { Page, PageRequest } from '../domain/paging.js';
import {
  findActiveApiKeyOwner,
  findDefaultTeam,
  findMemberTeam,
  findUser,
  listAllMemberTeams,
  listMemberTeams,
  updateTeamSettings,
  type TeamRow,
  type UserRow,
} from '../db/queries/tenancy.queries.js';

export type { TeamRow, UserRow };

/** The caller's account: their user and the team requests act for when they name none. */
export interface AccountView {
  user: UserRow;
  defaultTeam: TeamRow | null;
}

/**
 * The teams an operation on one object by id may find it in: every team of the caller's (Pixop's
 * clients send no team with such operations), or only the one they selected with `selectTeamId`.
 */
export interface TeamScope {
  readonly teams: readonly TeamRow[];
}

/** A scope of exactly one team, for a use case that already acts for it. */
export function scopeOf(team: TeamRow): TeamScope {
  return { teams: [team] };
}

/** The ids of a scope's teams, for a lookup in one query. */
export function teamIdsOf(scope: TeamScope): string[] {
  return scope.teams.map((team) => team.id);
}

/**
 * The team of an object found in `scope`: a team without API access is 403 FORBIDDEN, as when a
 * request names it with `selectTeamId`.
 */
export function ownerTeam(scope: TeamScope, teamId: string): TeamRow {
  const team = scope.teams.find((candidate) => candidate.id === teamId);
  if (team === undefined) throw new Error(`team ${teamId} is not in the scope the object was looked up in`);
  if (!team.apiEnabled) throw forbiddenTeam(teamId);
  return team;
}

function forbiddenTeam(teamId: string): AppError {
  return new AppError('FORBIDDEN', `team ${teamId} does not have API access enabled`, { teamId });
}

export interface Principal {
  userId: string;
  apiKeyId: string;
}

/** SHA-256 is enough for API keys: they are 256-bit random secrets, not guessable passwords. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export function generateApiKey(): string {
  return `rln_${randomBytes(32).toString('base64url')}`;
}

/**
 * How long the owner of a valid API key, and the teams of a caller, are remembered: the key-to-owner
 * lookup was one database round trip of every request, and the caller's teams one more of every
 * operation on an object by id. Only active keys are remembered (an unknown key is looked up each
 * time, so a key created or re-activated by any process works at once), by the key's hash (the key
 * itself is not kept). Nothing in this service deactivates a key or changes a membership or a team's
 * API access today; one changed outside it (by hand in the database) takes effect in every process
 * within this time. A team's settings changed through this process forget its remembered teams at once.
 */
export const API_KEY_CACHE_TTL_MS = 5_000;
/** Keys (and callers' team lists) remembered at most; the least recently used is forgotten first. */
export const API_KEY_CACHE_SIZE = 10_000;

export class TenancyService {
  private readonly owners: LRUCache<string, Principal>;
  private readonly memberTeams: LRUCache<string, readonly TeamRow[]>;

  constructor(
    private readonly db: Database,
    now: () => number = Date.now,
  ) {
    // ttlResolution 0: read the clock on every check (a positive resolution sets a timer per read).
    const options = { max: API_KEY_CACHE_SIZE, ttl: API_KEY_CACHE_TTL_MS, ttlResolution: 0, perf: { now } };
    this.owners = new LRUCache(options);
    this.memberTeams = new LRUCache(options);
  }

  /** The principal behind an `X-API-Key` header value. */
  async authenticate(apiKey: string | undefined): Promise<Principal> {
    if (apiKey === undefined || apiKey.trim() === '') {
      throw new AppError('MISSING_API_KEY', 'the request has no X-API-Key header: send your API key in it');
    }
    const keyHash = hashApiKey(apiKey.trim());
    const remembered = this.owners.get(keyHash);
    if (remembered !== undefined) return remembered;
    const owner = await findActiveApiKeyOwner(this.db, keyHash);
    if (owner === null) throw new AppError('INVALID_API_KEY', 'the API key is not valid or not active');
    this.owners.set(keyHash, owner);
    return owner;
  }

  /** The team selected by `teamId` (a team of the caller's), else the caller's default team. */
  async resolveTeam(principal: Principal, teamId: string | undefined): Promise<TeamRow> {
    if (teamId !== undefined) {
      const team = await findMemberTeam(this.db, principal.userId, teamId);
      if (team === null) throw new AppError('TEAM_NOT_FOUND', `team ${teamId} was not found`, { teamId });
      if (!team.apiEnabled) throw forbiddenTeam(teamId);
      return team;
    }
    const team = await findDefaultTeam(this.db, principal.userId);
    if (team === null) {
      throw new AppError(
        'DEFAULT_TEAM_NOT_API_ENABLED',
        'none of your teams has API access enabled, so there is no default team for this key',
      );
    }
    return team;
  }

  /**
   * Where an operation on one object by id looks for it: the team `teamId` names (checked as
   * `resolveTeam` does), else every team the caller belongs to, in one query.
   */
  async resolveScope(principal: Principal, teamId: string | undefined): Promise<TeamScope> {
    if (teamId !== undefined) return scopeOf(await this.resolveTeam(principal, teamId));
    let teams = this.memberTeams.get(principal.userId);
    if (teams === undefined) {
      teams = await listAllMemberTeams(this.db, principal.userId);
      this.memberTeams.set(principal.userId, teams);
    }
    return { teams };
  }

  /** The user behind the caller's key, with their default team. */
  async account(principal: Principal): Promise<AccountView> {
    const user = await findUser(this.db, principal.userId);
    if (user === null) throw new AppError('INVALID_API_KEY', "the API key's user no longer exists");
    return { user, defaultTeam: await findDefaultTeam(this.db, user.id) };
  }

  /** A page of the caller's teams, with or without API access. */
  async listTeams(principal: Principal, page: PageRequest): Promise<Page<TeamRow>> {
    return listMemberTeams(this.db, principal.userId, page);
  }

  /** A team of the caller's, with or without API access (reading it is not using it). */
  async getTeam(principal: Principal, teamId: string): Promise<TeamRow> {
    const team = await findMemberTeam(this.db, principal.userId, teamId);
    if (team === null) throw new AppError('TEAM_NOT_FOUND', `team ${teamId} was not found`);
    return team;
  }

  /** Changes a team's settings (a team `resolveTeam` returned); no setting given: the team as it is. */
  async updateSettings(team: TeamRow, settings: { freeClipEnabled?: boolean | undefined }): Promise<TeamRow> {
    if (settings.freeClipEnabled === undefined) return team;
    const row = await updateTeamSettings(this.db, team.id, settings);
    this.memberTeams.clear();
    if (row === null) throw new AppError('TEAM_NOT_FOUND', `team ${team.id} was not found`);
    return row;
  }
}
