import { describe, expect, it } from 'vitest';
import { CopyCheckpointer, ImportGoneError, type CheckpointerOptions } from '../../src/copy/checkpointer.js';
import type { CompletedPart } from '../../src/storage/blob-store.js';

function part(index: number): CompletedPart {
  return { index, offsetBytes: index * 100, lengthBytes: 100, crc32c: index, receipt: null };
}

function harness(overrides: Partial<CheckpointerOptions> = {}) {
  let now = 0;
  const calls: string[] = [];
  const persisted: { parts: number[]; bytesCopied: number; progressPercentage: number }[] = [];
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
    expect(persisted).toEqual([{ parts: [], bytesCopied: 500, progressPercentage: 50 }]);
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
    expect(checkpointer.progress()).toEqual({ bytesCopied: 1_000, progressPercentage: 99 });
    checkpointer.addBytes(-500);
    expect(checkpointer.progress()).toEqual({ bytesCopied: 600, progressPercentage: 60 });
  });

  it('keeps the parts of a failed checkpoint for the next one', async () => {
    let fail = true;
    const { checkpointer, persisted, advance } = harness({
      persist: async (parts) => {
        if (fail) throw new Error('database down');
        persisted.push({ parts: parts.map((item) => item.index), bytesCopied: 0, progressPercentage: 0 });
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
});
