/**
 * The API rate limit's counter, shared by every API process through the database. Windows are fixed
 * and aligned to the epoch on the database's clock (a one-minute window starts at a whole minute),
 * so processes on machines whose clocks disagree still count into the same window.
 */
import { sql } from 'drizzle-orm';
import type { Database } from '../database.js';

type Rows<T> = { rows: T[] };

export interface RateWindowCount {
  /** Requests the key made in the current window, the ones just counted included. */
  count: number;
  /** Seconds until the current window ends (fractional, > 0). */
  secondsLeft: number;
}

/**
 * Counts `requests` requests (at least 1) of `apiKeyId` in the current window of `windowSeconds`
 * and returns the window's count after them, in one statement: the upsert is atomic, so concurrent
 * statements through any number of processes each get their own numbers (this statement's requests
 * are the last `requests` of the returned count). The same statement deletes the key's earlier
 * windows, which keeps the table at about one row per key that has been used, without a sweeper.
 * Its commit does not wait for the write-ahead log to reach the disk (synchronous_commit off, for
 * this statement's transaction only): that wait was most of the statement's time on PostgreSQL,
 * and what a crash can lose is the last few counts of windows that last a minute.
 */
export async function countApiRequests(
  db: Database,
  apiKeyId: string,
  windowSeconds: number,
  requests: number,
): Promise<RateWindowCount> {
  const result = (await db.execute(sql`
    with clock as (
      select extract(epoch from clock_timestamp())::float8 as now_s, ${windowSeconds}::float8 as size_s,
        set_config('synchronous_commit', 'off', true) as commit_mode
    ), win as (
      select to_timestamp(floor(now_s / size_s) * size_s) as start, (floor(now_s / size_s) + 1) * size_s - now_s as seconds_left
      from clock
    ), expired as (
      delete from api_rate_windows where api_key_id = ${apiKeyId}::uuid and window_start < (select start from win)
    )
    insert into api_rate_windows (api_key_id, window_start, count)
    select ${apiKeyId}::uuid, start, ${requests}::int from win
    on conflict (api_key_id, window_start) do update set count = api_rate_windows.count + excluded.count
    returning count, (select seconds_left from win) as seconds_left
  `)) as unknown as Rows<{ count: number; seconds_left: number }>;
  const row = result.rows[0];
  if (!row) throw new Error('counting an API request returned no row');
  return { count: Number(row.count), secondsLeft: Number(row.seconds_left) };
}
