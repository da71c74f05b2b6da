/**
 * The API rate limit's counting, shared by every API process through the database
 * (src/db/queries/rate-limit.queries.ts), in as few statements as the load allows: requests of one
 * API key that arrive while a count of that key is on its way to the database wait and are counted
 * together by the next statement, so a key has at most one statement in flight and one batch
 * waiting. Each request still gets its own number: a statement that counts N requests returns the
 * window's count after them, and its requests are the last N of it, in their order of arrival.
 * Counts stay exact through any number of processes, since each statement adds its N atomically.
 */
import type { Database } from '../db/database.js';
import { countApiRequests, type RateWindowCount } from '../db/queries/rate-limit.queries.js';

export type { RateWindowCount } from '../db/queries/rate-limit.queries.js';

/** Counts one request of an API key in the current window: the port the rate-limit hook uses. */
export interface ApiRequestCounter {
  count(apiKeyId: string): Promise<RateWindowCount>;
}

/** Counts `requests` requests of a key at once and returns the window's count after them. */
export type CountRequests = (apiKeyId: string, requests: number) => Promise<RateWindowCount>;

interface Waiter {
  resolve(count: RateWindowCount): void;
  reject(error: unknown): void;
}

export class BatchingRequestCounter implements ApiRequestCounter {
  /** Requests waiting for their key's next statement, by key. */
  private readonly waiting = new Map<string, Waiter[]>();
  /** Keys with a statement in flight. */
  private readonly counting = new Set<string>();

  constructor(private readonly countRequests: CountRequests) {}

  count(apiKeyId: string): Promise<RateWindowCount> {
    return new Promise((resolve, reject) => {
      const waiters = this.waiting.get(apiKeyId);
      if (waiters === undefined) this.waiting.set(apiKeyId, [{ resolve, reject }]);
      else waiters.push({ resolve, reject });
      if (!this.counting.has(apiKeyId)) void this.countWaiting(apiKeyId);
    });
  }

  private async countWaiting(apiKeyId: string): Promise<void> {
    const waiters = this.waiting.get(apiKeyId);
    if (waiters === undefined) return;
    this.waiting.delete(apiKeyId);
    this.counting.add(apiKeyId);
    try {
      const { count, secondsLeft } = await this.countRequests(apiKeyId, waiters.length);
      const before = count - waiters.length;
      waiters.forEach((waiter, index) => waiter.resolve({ count: before + index + 1, secondsLeft }));
    } catch (error) {
      for (const waiter of waiters) waiter.reject(error);
    } finally {
      this.counting.delete(apiKeyId);
      if (this.waiting.has(apiKeyId)) void this.countWaiting(apiKeyId);
    }
  }
}

/** The counter of the API processes: batches counted in windows of `windowSeconds` in the database. */
export function createApiRequestCounter(db: Database, windowSeconds: number): ApiRequestCounter {
  return new BatchingRequestCounter((apiKeyId, requests) => countApiRequests(db, apiKeyId, windowSeconds, requests));
}
