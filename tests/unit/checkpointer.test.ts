import { describe, expect, it } from 'vitest';
import {
  CopyCheckpointer,
  ImportGoneError,
  RATE_WINDOW_MS,
  type CheckpointerOptions,
} from '../../src/copy/checkpointer.js';
import type { CompletedPart } from '../../src/storage/blob-store.js';

function part(index: number): CompletedPart {
  return { index, offsetBytes: index * 100, lengthBytes: 100, crc32c: index, receipt: null };
}

function harness(overrides: Partial<CheckpointerOptions> = {}) {
  let now = 0;
  const calls: string[] = [];
  const persisted: {
    parts: number[];
    bytesCopied: number;
    progressPercentage: number;
    bytesPerSecond: number | null;
  }[] = [];
  const stops: Error[] = [];
  const checkpointer = new CopyCheckpointer({
    progressIntervalMs: 1_000,
    durableIntervalMs: 5_000,
    recordedBytes: 200,
    totalBytes: 1_000,
    flush: async () => {
      calls.push('flush');
    },
    persist: async (parts, progress) => {
      calls.push('persist');
      persisted.push({ parts: parts.map((item) => item.index), ...progress });
      return true;
    },
    onStop: (reason) => stops.push(reason),
    onError: () => undefined,
    now: () => now,
    ...overrides,
  });
  return { checkpointer, calls, persisted, stops, advance: (ms: number) => (now += ms) };
}

describe('CopyCheckpointer', () => {
  it('saves progress without syncing or recording parts before the durable interval has passed', async () => {
    const { checkpointer, calls, persisted, advance } = harness();
    checkpointer.addBytes(300);
    checkpointer.addPart(part(2));
    advance(1_000);
    await checkpointer.checkpoint();
    expect(calls).toEqual(['persist']);
    expect(persisted).toEqual([{ parts: [], bytesCopied: 500, progressPercentage: 50, bytesPerSecond: 300 }]);
  });

  it('syncs storage before recording the parts once the durable interval has passed', async () => {
    const { checkpointer, calls, persisted, advance } = harness();
    checkpointer.addPart(part(2));
    checkpointer.addPart(part(3));
    advance(5_000);
    await checkpointer.checkpoint();
    expect(calls).toEqual(['flush', 'persist']);
    expect(persisted[0]?.parts).toEqual([2, 3]);
    advance(1_000);
    await checkpointer.checkpoint();
    expect(persisted[1]?.parts).toEqual([]);
  });

  it('records what is pending, durably, when stopped', async () => {
    const { checkpointer, calls, persisted } = harness();
    checkpointer.addPart(part(4));
    await checkpointer.stop();
    expect(calls).toEqual(['flush', 'persist']);
    expect(persisted[0]?.parts).toEqual([4]);
  });

  it('never reports 100 percent before the copy is done, and takes back the bytes of failed attempts', () => {
    const { checkpointer } = harness();
    checkpointer.addBytes(900);
    expect(checkpointer.progress()).toEqual({ bytesCopied: 1_000, progressPercentage: 99, bytesPerSecond: null });
    checkpointer.addBytes(-500);
    expect(checkpointer.progress()).toEqual({ bytesCopied: 600, progressPercentage: 60, bytesPerSecond: null });
  });

  it('keeps the parts of a failed checkpoint for the next one', async () => {
    let fail = true;
    const { checkpointer, persisted, advance } = harness({
      persist: async (parts) => {
        if (fail) throw new Error('database down');
        persisted.push({
          parts: parts.map((item) => item.index),
          bytesCopied: 0,
          progressPercentage: 0,
          bytesPerSecond: null,
        });
        return true;
      },
    });
    checkpointer.addPart(part(1));
    advance(5_000);
    await expect(checkpointer.checkpoint()).rejects.toThrow('database down');
    fail = false;
    checkpointer.addPart(part(2));
    advance(5_000);
    await checkpointer.checkpoint();
    expect(persisted[0]?.parts).toEqual([1, 2]);
  });

  it('stops once when the import is gone, and does nothing after', async () => {
    const { checkpointer, stops, calls, advance } = harness({ persist: async () => false });
    advance(1_000);
    await checkpointer.checkpoint();
    await checkpointer.checkpoint();
    expect(stops).toHaveLength(1);
    expect(stops[0]).toBeInstanceOf(ImportGoneError);
    expect(calls).toEqual([]);
  });

  describe('rate', () => {
    /** Checkpoints once a second for `seconds` seconds, copying `bytesPerTick` before each; returns each saved rate. */
    async function tick(
      run: ReturnType<typeof harness>,
      seconds: number,
      bytesPerTick: number,
    ): Promise<(number | null)[]> {
      const rates: (number | null)[] = [];
      for (let second = 0; second < seconds; second += 1) {
        run.checkpointer.addBytes(bytesPerTick);
        run.advance(1_000);
        await run.checkpointer.checkpoint();
        rates.push(run.persisted.at(-1)?.bytesPerSecond ?? null);
      }
      return rates;
    }

    it('is measured from the start of the run until the window is full, then over the last 10 seconds', async () => {
      const run = harness({ totalBytes: 1_000_000 });
      expect(RATE_WINDOW_MS).toBe(10_000);
      expect(await tick(run, 10, 1_000)).toEqual([
        1_000, 1_000, 1_000, 1_000, 1_000, 1_000, 1_000, 1_000, 1_000, 1_000,
      ]);
      // The speed triples: the rate follows it as the slow seconds leave the window, one a second.
      expect(await tick(run, 10, 3_000)).toEqual([
        1_200, 1_400, 1_600, 1_800, 2_000, 2_200, 2_400, 2_600, 2_800, 3_000,
      ]);
      // A stalled copy: the rate falls to 0 within the window.
      expect(await tick(run, 10, 0)).toEqual([2_700, 2_400, 2_100, 1_800, 1_500, 1_200, 900, 600, 300, 0]);
      expect(run.persisted.at(-1)?.bytesCopied).toBe(200 + 10_000 + 30_000);
    });

    it('does not count bytes copied by earlier runs', async () => {
      const run = harness({ recordedBytes: 600_000, totalBytes: 1_000_000 });
      expect(await tick(run, 2, 500)).toEqual([500, 500]);
    });

    it('spans the gap when checkpoints are further apart than the window', async () => {
      const run = harness({ progressIntervalMs: 15_000, totalBytes: 1_000_000 });
      run.checkpointer.addBytes(3_000);
      run.advance(15_000);
      await run.checkpointer.checkpoint();
      run.checkpointer.addBytes(30_000);
      run.advance(15_000);
      await run.checkpointer.checkpoint();
      expect(run.persisted.map((saved) => saved.bytesPerSecond)).toEqual([200, 2_000]);
    });

    it('is never negative when a failed attempt takes its bytes back', async () => {
      const run = harness();
      run.checkpointer.addBytes(400);
      run.advance(1_000);
      await run.checkpointer.checkpoint();
      run.checkpointer.addBytes(-400);
      run.advance(1_000);
      await run.checkpointer.checkpoint();
      expect(run.persisted.map((saved) => saved.bytesPerSecond)).toEqual([400, 0]);
    });
  });
});
