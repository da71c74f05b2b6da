import { describe, expect, it } from 'vitest';
import { BatchingRequestCounter, type RateWindowCount } from '../../src/services/api-request-counter.js';

/** A fake database count: each statement waits until the test answers it. */
class ScriptedCounts {
  readonly statements: { apiKeyId: string; requests: number }[] = [];
  private readonly answers: { resolve(count: RateWindowCount): void; reject(error: Error): void }[] = [];
  readonly totals = new Map<string, number>();

  readonly countRequests = (apiKeyId: string, requests: number): Promise<RateWindowCount> => {
    this.statements.push({ apiKeyId, requests });
    return new Promise((resolve, reject) => {
      this.answers.push({
        resolve: (count) => resolve(count),
        reject,
      });
    });
  };

  /** Answers the oldest open statement as the database would: its key's total after adding its requests. */
  answerNext(secondsLeft = 30): void {
    const index = this.statements.length - this.answers.length;
    const statement = this.statements[index];
    const answer = this.answers.shift();
    if (statement === undefined || answer === undefined) throw new Error('no open statement');
    const total = (this.totals.get(statement.apiKeyId) ?? 0) + statement.requests;
    this.totals.set(statement.apiKeyId, total);
    answer.resolve({ count: total, secondsLeft });
  }

  failNext(error: Error): void {
    const answer = this.answers.shift();
    if (answer === undefined) throw new Error('no open statement');
    answer.reject(error);
  }
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('BatchingRequestCounter', () => {
  it('counts a lone request in a statement of its own, at once', async () => {
    const counts = new ScriptedCounts();
    const counter = new BatchingRequestCounter(counts.countRequests);
    const first = counter.count('key-a');
    expect(counts.statements).toEqual([{ apiKeyId: 'key-a', requests: 1 }]);
    counts.answerNext(12.5);
    await expect(first).resolves.toEqual({ count: 1, secondsLeft: 12.5 });
  });

  it('counts the requests that arrive during a statement together in the next one, each with its own number', async () => {
    const counts = new ScriptedCounts();
    const counter = new BatchingRequestCounter(counts.countRequests);
    const first = counter.count('key-a');
    const waiting = [counter.count('key-a'), counter.count('key-a'), counter.count('key-a')];
    expect(counts.statements).toEqual([{ apiKeyId: 'key-a', requests: 1 }]);
    counts.answerNext();
    await expect(first).resolves.toEqual({ count: 1, secondsLeft: 30 });
    await settle();
    expect(counts.statements).toEqual([
      { apiKeyId: 'key-a', requests: 1 },
      { apiKeyId: 'key-a', requests: 3 },
    ]);
    counts.answerNext(29);
    expect(await Promise.all(waiting)).toEqual([
      { count: 2, secondsLeft: 29 },
      { count: 3, secondsLeft: 29 },
      { count: 4, secondsLeft: 29 },
    ]);
    await settle();
    expect(counts.statements).toHaveLength(2);
  });

  it("numbers a batch from the database's total, so another process's requests counted in between are taken into account", async () => {
    const counts = new ScriptedCounts();
    const counter = new BatchingRequestCounter(counts.countRequests);
    const first = counter.count('key-a');
    const batch = [counter.count('key-a'), counter.count('key-a')];
    counts.answerNext();
    await first;
    await settle();
    counts.totals.set('key-a', 7); // six more requests of this key through another API process
    counts.answerNext();
    expect((await Promise.all(batch)).map((answer) => answer.count)).toEqual([8, 9]);
  });

  it('keeps the keys apart: one statement in flight per key, not per counter', async () => {
    const counts = new ScriptedCounts();
    const counter = new BatchingRequestCounter(counts.countRequests);
    const a = counter.count('key-a');
    const b = counter.count('key-b');
    expect(counts.statements).toEqual([
      { apiKeyId: 'key-a', requests: 1 },
      { apiKeyId: 'key-b', requests: 1 },
    ]);
    counts.answerNext();
    counts.answerNext();
    expect([(await a).count, (await b).count]).toEqual([1, 1]);
  });

  it('fails every request of a failed statement, and counts the next requests anew', async () => {
    const counts = new ScriptedCounts();
    const counter = new BatchingRequestCounter(counts.countRequests);
    const first = counter.count('key-a');
    const batch = [counter.count('key-a'), counter.count('key-a')];
    counts.answerNext();
    await first;
    await settle();
    const broken = new Error('the connection broke');
    counts.failNext(broken);
    const outcomes = await Promise.allSettled(batch);
    expect(outcomes.map((outcome) => (outcome.status === 'rejected' ? outcome.reason : outcome.value))).toEqual([
      broken,
      broken,
    ]);
    const after = counter.count('key-a');
    expect(counts.statements.at(-1)).toEqual({ apiKeyId: 'key-a', requests: 1 });
    counts.answerNext();
    await expect(after).resolves.toEqual({ count: 2, secondsLeft: 30 });
  });
});
