import { and, count, eq, inArray } from 'drizzle-orm';
import type { Database } from '../database.js';
import { pageOffset, pageOrder, toPage, type Page, type PageRequest } from '../paging.js';
import { projects, videos } from '../schema.js';

export type ProjectRow = typeof projects.$inferSelect;

export async function insertProject(db: Database, teamId: string, name: string): Promise<ProjectRow> {
  const [row] = await db.insert(projects).values({ teamId, name }).returning();
  if (!row) throw new Error('insert into projects returned no row');
  return row;
}

/** A project of any of the teams `teamIds`, found in one query. */
export async function findProject(
  db: Database,
  teamIds: readonly string[],
  projectId: string,
): Promise<ProjectRow | null> {
  if (teamIds.length === 0) return null;
  const [row] = await db
    .select()
    .from(projects)
    .where(and(inArray(projects.teamId, [...teamIds]), eq(projects.id, projectId)))
    .limit(1);
  return row ?? null;
}

export async function findDefaultProject(db: Database, teamId: string): Promise<ProjectRow | null> {
  const [row] = await db
    .select()
    .from(projects)
    .where(and(eq(projects.teamId, teamId), eq(projects.isDefault, true)))
    .limit(1);
  return row ?? null;
}

export async function listProjects(db: Database, teamId: string, request: PageRequest): Promise<Page<ProjectRow>> {
  const order = pageOrder(request, projects);
  const where = eq(projects.teamId, teamId);
  const [items, [total]] = await Promise.all([
    db
      .select()
      .from(projects)
      .where(where)
      .orderBy(...order)
      .limit(request.pageSize)
      .offset(pageOffset(request)),
    db.select({ value: count() }).from(projects).where(where),
  ]);
  return toPage(request, items, total?.value ?? 0);
}

export async function renameProject(
  db: Database,
  teamId: string,
  projectId: string,
  name: string,
): Promise<ProjectRow | null> {
  const [row] = await db
    .update(projects)
    .set({ name, updatedAt: new Date() })
    .where(and(eq(projects.teamId, teamId), eq(projects.id, projectId)))
    .returning();
  return row ?? null;
}

export async function countVideosInProject(db: Database, projectId: string): Promise<number> {
  const [row] = await db.select({ value: count() }).from(videos).where(eq(videos.projectId, projectId));
  return row?.value ?? 0;
}

export async function deleteProject(db: Database, teamId: string, projectId: string): Promise<boolean> {
  const rows = await db
    .delete(projects)
    .where(and(eq(projects.teamId, teamId), eq(projects.id, projectId)))
    .returning({ id: projects.id });
  return rows.length > 0;
}
