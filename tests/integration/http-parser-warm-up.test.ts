import { describe, expect, it } from 'vitest';
import { warmHttpParser } from '../../src/net/outbound-client.js';

/** Counts of the process's active resources by kind (servers, sockets, timers). */
function activeResources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo()) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  return counts;
}

describe('warmHttpParser', () => {
  it('makes one request to a loopback listener of its own and leaves no server or socket open', async () => {
    const before = activeResources();
    await warmHttpParser();
    // Closed handles leave the list once their close callbacks have run, a few turns later.
    const settled = () => {
      const after = activeResources();
      return (
        (after.get('TCPServerWrap') ?? 0) === (before.get('TCPServerWrap') ?? 0) &&
        (after.get('TCPSocketWrap') ?? 0) === (before.get('TCPSocketWrap') ?? 0)
      );
    };
    for (let waited = 0; !settled() && waited < 1_000; waited += 10)
      await new Promise((resolve) => setTimeout(resolve, 10));
    expect(activeResources().get('TCPServerWrap') ?? 0).toBe(before.get('TCPServerWrap') ?? 0);
    expect(activeResources().get('TCPSocketWrap') ?? 0).toBe(before.get('TCPSocketWrap') ?? 0);
  });

  it('can run again in the same process (every role of a process may call it)', async () => {
    await expect(warmHttpParser()).resolves.toBeUndefined();
    await expect(warmHttpParser()).resolves.toBeUndefined();
  });
});
