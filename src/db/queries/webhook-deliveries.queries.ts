/**
 * Deliveries of events to webhooks: the dispatcher's outbox step, the workers' claims and results,
 * the shared send slots of the rate limit, and the delivery log.
 */
import { and, asc, count, eq, exists, gte, inArray, isNull, lt, lte, or, sql, type SQL } from 'drizzle-orm';
import type { Database } from '../database.js';
import { ringEventBell } from './event-bell.queries.js';
import { pageOffset, pageOrder, toPage, type Page, type PageRequest, type TriState } from '../paging.js';
import { webhookDeliveries, webhookDeliveryAttempts, webhooks } from '../schema.js';

export type DeliveryRow = typeof webhookDeliveries.$inferSelect;
export type AttemptRow = typeof webhookDeliveryAttempts.$inferSelect;
export type NewAttempt = typeof webhookDeliveryAttempts.$inferInsert;

type Rows<T> = { rows: T[] };

/**
 * Turns up to `limit` undispatched events into deliveries, one per active webhook of the event's
 * team subscribed to its type (and existing when it occurred), and marks the events dispatched,
 * in one statement: the events are claimed with SKIP LOCKED, so concurrent dispatchers share the
 * work and each event is dispatched exactly once.
 */
export async function dispatchEvents(db: Database, limit: number): Promise<{ events: number; deliveries: number }> {
  const result = (await db.execute(sql`
    with batch as (
      select id from events where dispatched_at is null order by seq limit ${limit} for update skip locked
    ), marked as (
      update events e set dispatched_at = clock_timestamp() from batch where e.id = batch.id
      returning e.id, e.team_id, e.video_id, e.type, e.occurred_at
    ), inserted as (
      insert into webhook_deliveries (webhook_id, team_id, event_id, event_type, video_id, occurred_at, next_attempt_at, retry_until)
      select w.id, m.team_id, m.id, m.type, m.video_id, m.occurred_at, clock_timestamp(),
             clock_timestamp() + w.max_total_retry_delay_minutes * interval '1 minute'
      from marked m
      join webhooks w on w.team_id = m.team_id and w.active and w.event_types @> jsonb_build_array(m.type) and w.created_at <= m.occurred_at
      on conflict (event_id, webhook_id) do nothing
      returning id
    )
    select (select count(*) from marked)::int as events, (select count(*) from inserted)::int as deliveries
  `)) as unknown as Rows<{ events: number; deliveries: number }>;
  const row = result.rows[0];
  return { events: Number(row?.events ?? 0), deliveries: Number(row?.deliveries ?? 0) };
}

/**
 * Active webhooks with deliveries due now and not claimed by a live worker. Asked from the
 * webhooks' side: there are few of them, and each probe stops at its first due delivery, however
 * large a backlog is (a DISTINCT over the deliveries would read all of it on every poll).
 */
export async function listWebhooksWithDueDeliveries(db: Database, limit: number): Promise<string[]> {
  const d = webhookDeliveries;
  const due = db
    .select({ one: sql`1` })
    .from(d)
    .where(
      and(
        eq(d.webhookId, webhooks.id),
        eq(d.status, 'PENDING'),
        lte(d.nextAttemptAt, sql`clock_timestamp()`),
        or(isNull(d.leaseUntil), lt(d.leaseUntil, sql`clock_timestamp()`)),
      ),
    );
  const rows = await db
    .select({ webhookId: webhooks.id })
    .from(webhooks)
    .where(and(eq(webhooks.active, true), exists(due)))
    .limit(limit);
  return rows.map((row) => row.webhookId);
}

/**
 * Claims up to `limit` due deliveries of one webhook for `leaseMs` and counts the attempt; the
 * returned `attemptCount` fences the result (see recordAttemptResults).
 */
export async function claimDueDeliveries(
  db: Database,
  webhookId: string,
  limit: number,
  leaseMs: number,
): Promise<DeliveryRow[]> {
  const d = webhookDeliveries;
  const due = db
    .select({ id: d.id })
    .from(d)
    .where(
      and(
        eq(d.webhookId, webhookId),
        eq(d.status, 'PENDING'),
        lte(d.nextAttemptAt, sql`clock_timestamp()`),
        or(isNull(d.leaseUntil), lt(d.leaseUntil, sql`clock_timestamp()`)),
      ),
    )
    .orderBy(asc(d.nextAttemptAt), asc(d.createdAt))
    .limit(limit)
    .for('update', { skipLocked: true });
  const rows = await db
    .update(d)
    .set({
      leaseUntil: sql`clock_timestamp() + ${leaseMs} * interval '1 millisecond'`,
      attemptCount: sql`${d.attemptCount} + 1`,
      updatedAt: sql`now()`,
    })
    .where(inArray(d.id, due))
    .returning();
  return rows.sort(
    (a, b) => a.occurredAt.getTime() - b.occurredAt.getTime() || a.createdAt.getTime() - b.createdAt.getTime(),
  );
}

/**
 * Takes `count` consecutive send slots of a webhook, `intervalMs` apart, the first no earlier than
 * now: the rate limit's state lives in this row, so every worker process draws from one schedule.
 * Returns how many milliseconds from now the first slot starts (by the database's clock, so the
 * processes' clocks need not agree).
 */
export async function reserveSendSlots(
  db: Database,
  webhookId: string,
  slotCount: number,
  intervalMs: number,
): Promise<number> {
  const spanMs = slotCount * intervalMs;
  const result = (await db.execute(sql`
    insert into webhook_send_slots as s (webhook_id, next_slot_at)
    values (${webhookId}, clock_timestamp() + ${spanMs} * interval '1 millisecond')
    on conflict (webhook_id) do update set next_slot_at = greatest(s.next_slot_at, clock_timestamp()) + ${spanMs} * interval '1 millisecond'
    returning (extract(epoch from (s.next_slot_at - clock_timestamp())) * 1000)::float8 as end_in_ms
  `)) as unknown as Rows<{ end_in_ms: number }>;
  return Math.max(0, Number(result.rows[0]?.end_in_ms ?? spanMs) - spanMs);
}

export interface AttemptResult {
  deliveryId: string;
  /** The claim's attempt count: the result is applied only if no other worker claimed the delivery since. */
  attemptCount: number;
  status: 'PENDING' | 'SUCCEEDED' | 'FAILED';
  nextAttemptAt: Date | null;
  attempt: Omit<NewAttempt, 'deliveryId' | 'attemptNumber'>;
}

/** Records attempts and their deliveries' new state, in one transaction. */
export async function recordAttemptResults(db: Database, results: AttemptResult[]): Promise<void> {
  if (results.length === 0) return;
  const values = results.map(
    (result) =>
      sql`(${result.deliveryId}::uuid, ${result.attemptCount}::int, ${result.status}::text, ${result.nextAttemptAt?.toISOString() ?? null}::timestamptz)`,
  );
  await db.transaction(async (tx) => {
    await tx.insert(webhookDeliveryAttempts).values(
      results.map((result) => ({
        ...result.attempt,
        deliveryId: result.deliveryId,
        attemptNumber: result.attemptCount,
      })),
    );
    await tx.execute(sql`
      update webhook_deliveries d
      set status = v.status, next_attempt_at = v.next_at, lease_until = null, updated_at = now()
      from (values ${sql.join(values, sql`, `)}) as v(id, attempt_count, status, next_at)
      where d.id = v.id and d.attempt_count = v.attempt_count
    `);
  });
}

/** Gives back claimed deliveries that were not attempted (shutdown, slot too late), undoing the claim. */
export async function releaseDeliveries(
  db: Database,
  claims: { deliveryId: string; attemptCount: number }[],
): Promise<void> {
  if (claims.length === 0) return;
  const values = claims.map((claim) => sql`(${claim.deliveryId}::uuid, ${claim.attemptCount}::int)`);
  await db.execute(sql`
    update webhook_deliveries d set lease_until = null, attempt_count = d.attempt_count - 1
    from (values ${sql.join(values, sql`, `)}) as v(id, attempt_count)
    where d.id = v.id and d.attempt_count = v.attempt_count
  `);
}

/** Releases every claim: only for the embedded database, whose single process just started, so no claim can be live. */
export async function releaseAllLeases(db: Database): Promise<void> {
  await db
    .update(webhookDeliveries)
    .set({ leaseUntil: null })
    .where(sql`${webhookDeliveries.leaseUntil} is not null`);
}

export async function insertTestDelivery(
  tx: Database,
  delivery: {
    webhookId: string;
    teamId: string;
    eventType: string;
    videoId: string;
    maxTotalRetryDelayMinutes: number;
  },
): Promise<DeliveryRow> {
  const [row] = await tx
    .insert(webhookDeliveries)
    .values({
      webhookId: delivery.webhookId,
      teamId: delivery.teamId,
      eventId: null,
      eventType: delivery.eventType,
      videoId: delivery.videoId,
      occurredAt: sql`now()`,
      test: true,
      nextAttemptAt: sql`now()`,
      retryUntil: sql`now() + ${delivery.maxTotalRetryDelayMinutes} * interval '1 minute'`,
    })
    .returning();
  if (!row) throw new Error('insert into webhook_deliveries returned no row');
  await ringEventBell(tx, 'deliveries');
  return row;
}

export async function countTestDeliveriesSince(db: Database, teamId: string, since: Date): Promise<number> {
  const d = webhookDeliveries;
  const [row] = await db
    .select({ total: count() })
    .from(d)
    .where(and(eq(d.teamId, teamId), eq(d.test, true), gte(d.createdAt, since)));
  return row?.total ?? 0;
}

export interface DeliveryFilter {
  teamId: string;
  webhookId?: string | undefined;
  successfulMode: TriState;
  testMode: TriState;
  occurredAtFrom?: Date | undefined;
  occurredAtUntil?: Date | undefined;
}

export interface DeliveryView {
  delivery: DeliveryRow;
  attempts: AttemptRow[];
}

function filterConditions(filter: DeliveryFilter): SQL[] {
  const d = webhookDeliveries;
  const conditions: SQL[] = [eq(d.teamId, filter.teamId)];
  if (filter.webhookId) conditions.push(eq(d.webhookId, filter.webhookId));
  if (filter.successfulMode === 'ONLY') conditions.push(eq(d.status, 'SUCCEEDED'));
  if (filter.successfulMode === 'EXCLUDE') conditions.push(sql`${d.status} <> 'SUCCEEDED'`);
  if (filter.testMode === 'ONLY') conditions.push(eq(d.test, true));
  if (filter.testMode === 'EXCLUDE') conditions.push(eq(d.test, false));
  if (filter.occurredAtFrom) conditions.push(gte(d.occurredAt, filter.occurredAtFrom));
  if (filter.occurredAtUntil) conditions.push(lte(d.occurredAt, filter.occurredAtUntil));
  return conditions;
}

async function withAttempts(db: Database, deliveries: DeliveryRow[]): Promise<DeliveryView[]> {
  if (deliveries.length === 0) return [];
  const attempts = await db
    .select()
    .from(webhookDeliveryAttempts)
    .where(
      inArray(
        webhookDeliveryAttempts.deliveryId,
        deliveries.map((delivery) => delivery.id),
      ),
    )
    .orderBy(asc(webhookDeliveryAttempts.requestedAt), asc(webhookDeliveryAttempts.attemptNumber));
  return deliveries.map((delivery) => ({
    delivery,
    attempts: attempts.filter((attempt) => attempt.deliveryId === delivery.id),
  }));
}

export async function listDeliveryViews(
  db: Database,
  filter: DeliveryFilter,
  request: PageRequest,
): Promise<Page<DeliveryView>> {
  const d = webhookDeliveries;
  const where = and(...filterConditions(filter));
  const order = pageOrder(request, d);
  // One snapshot: a delivery and its attempts are recorded together, and must be read together.
  return db.transaction(
    async (tx) => {
      const rows = await tx
        .select()
        .from(d)
        .where(where)
        .orderBy(...order)
        .limit(request.pageSize)
        .offset(pageOffset(request));
      const [total] = await tx.select({ total: count() }).from(d).where(where);
      return toPage(request, await withAttempts(tx, rows), total?.total ?? 0);
    },
    { isolationLevel: 'repeatable read', accessMode: 'read only' },
  );
}

/** A delivery of any of the teams `teamIds`, with its attempts. */
export async function findDeliveryView(
  db: Database,
  teamIds: readonly string[],
  deliveryId: string,
): Promise<DeliveryView | null> {
  if (teamIds.length === 0) return null;
  return db.transaction(
    async (tx) => {
      const [row] = await tx
        .select()
        .from(webhookDeliveries)
        .where(and(inArray(webhookDeliveries.teamId, [...teamIds]), eq(webhookDeliveries.id, deliveryId)))
        .limit(1);
      if (!row) return null;
      const [view] = await withAttempts(tx, [row]);
      return view ?? null;
    },
    { isolationLevel: 'repeatable read', accessMode: 'read only' },
  );
}
