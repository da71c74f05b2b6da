import { and, asc, count, eq, sql } from 'drizzle-orm';
import type { Database } from '../database.js';
import { preparedPerDatabase } from '../prepared.js';
import { pageOffset, pageOrder, toPage, type Page, type PageRequest } from '../paging.js';
import { apiKeys, projects, teamMembers, teams, users } from '../schema.js';

export type UserRow = typeof users.$inferSelect;
export type TeamRow = typeof teams.$inferSelect;

export interface ApiKeyOwner {
  apiKeyId: string;
  userId: string;
}

const activeApiKeyOwnerStatement = preparedPerDatabase((db) =>
  db
    .select({ apiKeyId: apiKeys.id, userId: apiKeys.userId })
    .from(apiKeys)
    .where(and(eq(apiKeys.keyHash, sql.placeholder('keyHash')), eq(apiKeys.active, true)))
    .limit(1)
    .prepare('find_active_api_key_owner'),
);

/** The owner of an active API key, by the key's hash. */
export async function findActiveApiKeyOwner(db: Database, keyHash: string): Promise<ApiKeyOwner | null> {
  const [row] = await activeApiKeyOwnerStatement(db).execute({ keyHash });
  return row ?? null;
}

/** Activates the key with this hash; false when there is none. */
export async function activateApiKeyByHash(db: Database, keyHash: string): Promise<boolean> {
  const rows = await db
    .update(apiKeys)
    .set({ active: true, updatedAt: new Date() })
    .where(eq(apiKeys.keyHash, keyHash))
    .returning({ id: apiKeys.id });
  return rows.length > 0;
}

export async function findFirstUserId(db: Database): Promise<string | null> {
  const [row] = await db.select({ id: users.id }).from(users).orderBy(asc(users.createdAt), asc(users.id)).limit(1);
  return row?.id ?? null;
}

export async function findUser(db: Database, userId: string): Promise<UserRow | null> {
  const [row] = await db.select().from(users).where(eq(users.id, userId)).limit(1);
  return row ?? null;
}

export async function findUserByEmail(db: Database, email: string): Promise<UserRow | null> {
  const [row] = await db
    .select()
    .from(users)
    .where(sql`lower(${users.email}) = lower(${email})`)
    .limit(1);
  return row ?? null;
}

export async function countUsers(db: Database): Promise<number> {
  const [row] = await db.select({ value: count() }).from(users);
  return row?.value ?? 0;
}

const defaultTeamStatement = preparedPerDatabase((db) =>
  db
    .select({ team: teams })
    .from(teams)
    .innerJoin(teamMembers, eq(teamMembers.teamId, teams.id))
    .where(and(eq(teamMembers.userId, sql.placeholder('userId')), eq(teams.apiEnabled, true)))
    .orderBy(asc(teams.createdAt), asc(teams.id))
    .limit(1)
    .prepare('find_default_team'),
);

/** The user's default team: the oldest team of theirs with the API enabled. */
export async function findDefaultTeam(db: Database, userId: string): Promise<TeamRow | null> {
  const [row] = await defaultTeamStatement(db).execute({ userId });
  return row?.team ?? null;
}

const memberTeamStatement = preparedPerDatabase((db) =>
  db
    .select({ team: teams })
    .from(teams)
    .innerJoin(teamMembers, eq(teamMembers.teamId, teams.id))
    .where(and(eq(teamMembers.userId, sql.placeholder('userId')), eq(teams.id, sql.placeholder('teamId'))))
    .limit(1)
    .prepare('find_member_team'),
);

/** A team the user is a member of, or null (whether or not the team exists). */
export async function findMemberTeam(db: Database, userId: string, teamId: string): Promise<TeamRow | null> {
  const [row] = await memberTeamStatement(db).execute({ userId, teamId });
  return row?.team ?? null;
}

const allMemberTeamsStatement = preparedPerDatabase((db) =>
  db
    .select({ team: teams })
    .from(teams)
    .innerJoin(teamMembers, eq(teamMembers.teamId, teams.id))
    .where(eq(teamMembers.userId, sql.placeholder('userId')))
    .orderBy(asc(teams.createdAt), asc(teams.id))
    .prepare('list_all_member_teams'),
);

/** Every team the user is a member of, with or without API access, oldest first. */
export async function listAllMemberTeams(db: Database, userId: string): Promise<TeamRow[]> {
  const rows = await allMemberTeamsStatement(db).execute({ userId });
  return rows.map((row) => row.team);
}

export async function listMemberTeams(db: Database, userId: string, request: PageRequest): Promise<Page<TeamRow>> {
  const membership = and(eq(teamMembers.userId, userId));
  const order = pageOrder(request, teams);
  const [items, [total]] = await Promise.all([
    db
      .select({ team: teams })
      .from(teams)
      .innerJoin(teamMembers, eq(teamMembers.teamId, teams.id))
      .where(membership)
      .orderBy(...order)
      .limit(request.pageSize)
      .offset(pageOffset(request)),
    db
      .select({ value: count() })
      .from(teams)
      .innerJoin(teamMembers, eq(teamMembers.teamId, teams.id))
      .where(membership),
  ]);
  return toPage(
    request,
    items.map((row) => row.team),
    total?.value ?? 0,
  );
}

export interface NewApiKey {
  userId: string;
  name: string;
  description: string | null;
  keyHash: string;
  keyHint: string;
}

export async function insertApiKey(db: Database, key: NewApiKey): Promise<string> {
  const [row] = await db
    .insert(apiKeys)
    .values({ ...key, active: true })
    .returning({ id: apiKeys.id });
  if (!row) throw new Error('insert into api_keys returned no row');
  return row.id;
}

export interface NewAccount {
  email: string;
  userName: string;
  teamName: string;
  projectName: string;
}

/** A user with their own team (owner) and that team's default project. */
export async function insertAccount(
  tx: Database,
  account: NewAccount,
): Promise<{ userId: string; teamId: string; projectId: string }> {
  const [user] = await tx
    .insert(users)
    .values({ email: account.email, name: account.userName, hasConfirmedEmail: true })
    .returning({ id: users.id });
  const [team] = await tx
    .insert(teams)
    .values({ name: account.teamName, apiEnabled: true })
    .returning({ id: teams.id });
  if (!user || !team) throw new Error('account insert returned no row');
  await tx.insert(teamMembers).values({ teamId: team.id, userId: user.id, role: 'OWNER' });
  const [project] = await tx
    .insert(projects)
    .values({ teamId: team.id, name: account.projectName, isDefault: true })
    .returning({ id: projects.id });
  if (!project) throw new Error('project insert returned no row');
  return { userId: user.id, teamId: team.id, projectId: project.id };
}

/** Changes a team's own settings; the updated team, or null when it does not exist. */
export async function updateTeamSettings(
  db: Database,
  teamId: string,
  settings: { freeClipEnabled?: boolean | undefined },
): Promise<TeamRow | null> {
  const [row] = await db
    .update(teams)
    .set({ ...settings, updatedAt: new Date() })
    .where(eq(teams.id, teamId))
    .returning();
  return row ?? null;
}
