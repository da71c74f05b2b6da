/**
 * Stopping the service while a client stalls in the middle of a download served by the service
 * itself: the download gets the grace period (2 s in the test environment), then its connection
 * is closed, so a slow or stuck client cannot hold a deploy up.
 */
import { randomBytes } from 'node:crypto';
import { request } from 'undici';
import { expect, it } from 'vitest';
import { startE2eFixture } from '../support/e2e-fixture.js';

it('stops within its grace period while a client stalls in a download', async () => {
  const fx = await startE2eFixture('pglite');
  let stopped = false;
  try {
    fx.origin.setFile('/masters/large.mov', { body: randomBytes(32 * 1024 * 1024) });
    const created = await fx.service.api('POST', '/api/v1/videos/in/https', {
      body: { name: 'Large', url: fx.url('/masters/large.mov') },
    });
    expect(created.status, created.text).toBe(201);
    await fx.service.waitForUpload(created.body.videoId, 'DONE');
    const link = await fx.service.api('POST', `/api/v1/videos/${created.body.videoId}/out/https`, {
      headers: { 'content-type': 'application/json', 'content-length': '0' },
    });
    // The body is not read: the server's writes stop once the socket buffers are full.
    const stalled = await request(new URL(link.body.presignedUrl, fx.service.url));
    expect(stalled.statusCode).toBe(200);

    const stopStarted = Date.now();
    await fx.service.stop();
    stopped = true;
    const stopMs = Date.now() - stopStarted;
    // The download gets its 2 s grace period, then its connection is closed. The stalled client
    // would otherwise hold the stop for good, so the upper bound is the grace period plus 8 s for a
    // busy machine, and still fails a stop that waits for the client.
    expect(stopMs).toBeGreaterThanOrEqual(1_900);
    expect(stopMs).toBeLessThan(2_000 + 8_000);
    await expect(stalled.body.arrayBuffer()).rejects.toThrow();
  } finally {
    if (stopped) {
      await fx.origin.close();
      await fx.pki.cleanup();
    } else {
      await fx.close();
    }
  }
}, 60_000);
