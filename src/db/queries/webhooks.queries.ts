import { and, count, eq, inArray, isNotNull, notLike, sql } from 'drizzle-orm';
import type { Database } from '../database.js';
import { pageOffset, pageOrder, toPage, type Page, type PageRequest } from '../paging.js';
import { teams, webhooks } from '../schema.js';

export type WebhookRow = typeof webhooks.$inferSelect;
export type NewWebhook = typeof webhooks.$inferInsert;
export type WebhookChanges = Partial<
  Pick<
    NewWebhook,
    | 'name'
    | 'description'
    | 'url'
    | 'rateLimitPerSecond'
    | 'maxTotalRetryDelayMinutes'
    | 'eventTypes'
    | 'sealedSecret'
    | 'active'
  >
>;

/** Locks the team's row: webhook changes that depend on counts (active webhooks, test events) run one at a time per team. */
export async function lockTeamForWebhooks(tx: Database, teamId: string): Promise<void> {
  await tx.select({ id: teams.id }).from(teams).where(eq(teams.id, teamId)).for('update');
}

export async function countActiveWebhooks(db: Database, teamId: string): Promise<number> {
  const [row] = await db
    .select({ total: count() })
    .from(webhooks)
    .where(and(eq(webhooks.teamId, teamId), eq(webhooks.active, true)));
  return row?.total ?? 0;
}

export async function insertWebhook(tx: Database, webhook: NewWebhook): Promise<WebhookRow> {
  const [row] = await tx.insert(webhooks).values(webhook).returning();
  if (!row) throw new Error('insert into webhooks returned no row');
  return row;
}

/** A webhook of any of the teams `teamIds`, found in one query. */
export async function findWebhook(
  db: Database,
  teamIds: readonly string[],
  webhookId: string,
): Promise<WebhookRow | null> {
  if (teamIds.length === 0) return null;
  const [row] = await db
    .select()
    .from(webhooks)
    .where(and(inArray(webhooks.teamId, [...teamIds]), eq(webhooks.id, webhookId)))
    .limit(1);
  return row ?? null;
}

/** A webhook by id alone, for the delivery workers (which act for every team). */
export async function findWebhookForDelivery(db: Database, webhookId: string): Promise<WebhookRow | null> {
  const [row] = await db.select().from(webhooks).where(eq(webhooks.id, webhookId)).limit(1);
  return row ?? null;
}

export async function listWebhooks(db: Database, teamId: string, request: PageRequest): Promise<Page<WebhookRow>> {
  const order = pageOrder(request, webhooks);
  const where = eq(webhooks.teamId, teamId);
  const [items, [total]] = await Promise.all([
    db
      .select()
      .from(webhooks)
      .where(where)
      .orderBy(...order)
      .limit(request.pageSize)
      .offset(pageOffset(request)),
    db.select({ total: count() }).from(webhooks).where(where),
  ]);
  return toPage(request, items, total?.total ?? 0);
}

export async function updateWebhook(
  tx: Database,
  teamId: string,
  webhookId: string,
  changes: WebhookChanges,
): Promise<WebhookRow | null> {
  const [row] = await tx
    .update(webhooks)
    .set({ ...changes, updatedAt: sql`now()` })
    .where(and(eq(webhooks.teamId, teamId), eq(webhooks.id, webhookId)))
    .returning();
  return row ?? null;
}

export async function deleteWebhook(db: Database, teamId: string, webhookId: string): Promise<boolean> {
  const rows = await db
    .delete(webhooks)
    .where(and(eq(webhooks.teamId, teamId), eq(webhooks.id, webhookId)))
    .returning({ id: webhooks.id });
  return rows.length > 0;
}

/** Webhooks whose secret an earlier version stored in plaintext (sealed values start with `v1.`). */
export async function listPlaintextWebhookSecrets(db: Database): Promise<{ id: string; secret: string }[]> {
  const rows = await db
    .select({ id: webhooks.id, secret: webhooks.sealedSecret })
    .from(webhooks)
    .where(and(isNotNull(webhooks.sealedSecret), notLike(webhooks.sealedSecret, 'v1.%')));
  return rows.flatMap((row) => (row.secret === null ? [] : [{ id: row.id, secret: row.secret }]));
}

/** Replaces a plaintext secret with its sealed form, unless another process changed it meanwhile. */
export async function replacePlaintextWebhookSecret(
  db: Database,
  webhookId: string,
  plaintext: string,
  sealed: string,
): Promise<boolean> {
  const rows = await db
    .update(webhooks)
    .set({ sealedSecret: sealed })
    .where(and(eq(webhooks.id, webhookId), eq(webhooks.sealedSecret, plaintext)))
    .returning({ id: webhooks.id });
  return rows.length > 0;
}
