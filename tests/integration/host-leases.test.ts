import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { eq } from 'drizzle-orm';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireHostLease, type HostLeaseOptions, type LeaseRequest } from '../../src/copy/host-leases.js';
import { migrateDatabase, openDatabase, type Database, type DatabaseConnection } from '../../src/db/database.js';
import { databaseHostLeaseLedger } from '../../src/db/host-lease-ledger.js';
import { hostLeases } from '../../src/db/schema.js';
import { backends, createTestDatabase } from '../support/test-database.js';
import { until } from '../support/wait.js';

let tempDir: string;
beforeAll(async () => {
  tempDir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-host-leases-'));
});
afterAll(async () => {
  await fs.rm(tempDir, { recursive: true, force: true });
});

const log = pino({ level: 'silent' });

describe.each(backends)('source host leases (%s)', (backend) => {
  const connections: DatabaseConnection[] = [];
  /** One database handle per simulated worker process (separate pools on PostgreSQL). */
  let workers: Database[];
  let dispose: () => Promise<void>;

  beforeAll(async () => {
    const database = await createTestDatabase(backend, path.join(tempDir, backend));
    const first = await openDatabase(database.config);
    await migrateDatabase(first);
    connections.push(first);
    if (backend === 'postgres') {
      for (let i = 0; i < 2; i += 1) connections.push(await openDatabase(database.config));
    }
    workers = connections.map((connection) => connection.db);
    dispose = async () => {
      for (const connection of connections) await connection.close();
      await database.drop();
    };
  });
  afterAll(async () => {
    await dispose?.();
  });

  function options(db: Database, overrides: Partial<HostLeaseOptions> = {}): HostLeaseOptions {
    return {
      ledger: databaseHostLeaseLedger(db),
      ceiling: 24,
      log,
      sleep: (ms, signal) => sleep(ms, undefined, { signal }),
      waitBaseDelayMs: 10,
      waitMaxDelayMs: 40,
      ...overrides,
    };
  }

  function request(host: string, wanted: number): LeaseRequest {
    return { url: `https://${host}/master.mov`, videoId: randomUUID(), holder: `job-${randomUUID()}`, wanted };
  }

  async function rowsFor(host: string): Promise<{ connections: number }[]> {
    return workers[0]!
      .select({ connections: hostLeases.connections })
      .from(hostLeases)
      .where(eq(hostLeases.host, `${host}:443`));
  }

  it('never grants more than the ceiling to concurrent copies on several workers, and every copy gets its turn', async () => {
    const host = `ceiling-${randomUUID()}.example`;
    let held = 0;
    let peak = 0;
    const grants: number[] = [];
    await Promise.all(
      Array.from({ length: 9 }, async (_, index) => {
        const db = workers[index % workers.length]!;
        const lease = await acquireHostLease(options(db), request(host, 10), AbortSignal.timeout(30_000));
        held += lease.connections;
        peak = Math.max(peak, held);
        grants.push(lease.connections);
        const inDatabase = (await rowsFor(host)).reduce((sum, row) => sum + row.connections, 0);
        expect(inDatabase).toBeLessThanOrEqual(24);
        // Stands for the copy's work while it holds the lease (not a wait): staggered, so leases overlap.
        await sleep(30 + index * 5);
        held -= lease.connections;
        await lease.release();
      }),
    );
    expect(grants).toHaveLength(9);
    expect(grants.every((granted) => granted >= 1 && granted <= 10)).toBe(true);
    // The first three fill the ceiling exactly (10 + 10 + 4); nobody ever pushes past it.
    expect(peak).toBe(24);
    expect(await rowsFor(host)).toEqual([]);
  });

  it("frees a dead holder's connections once its lease expires", async () => {
    const host = `dead-${randomUUID()}.example`;
    // A holder that never renews and never releases: a worker killed with SIGKILL. Its lease runs
    // 400 ms from its grant, which comes after `startedAt`, so the next holder waits at least that long.
    const startedAt = Date.now();
    const dead = await acquireHostLease(
      options(workers[0]!, { ttlMs: 400, renewIntervalMs: 3_600_000 }),
      request(host, 24),
      AbortSignal.timeout(5_000),
    );
    expect(dead.connections).toBe(24);
    const next = await acquireHostLease(options(workers.at(-1)!), request(host, 20), AbortSignal.timeout(10_000));
    expect(next.connections).toBe(20);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(400);
    expect(await rowsFor(host)).toEqual([{ connections: 20 }]);
    await next.release();
    await dead.release();
    expect(await rowsFor(host)).toEqual([]);
  });

  it('keeps a renewed lease past its time to live, and a waiting copy gives up when its job is aborted', async () => {
    const host = `renewed-${randomUUID()}.example`;
    const holder = await acquireHostLease(
      options(workers[0]!, { ttlMs: 300, renewIntervalMs: 50 }),
      request(host, 24),
      AbortSignal.timeout(5_000),
    );
    const startedAt = Date.now();
    const waiting = acquireHostLease(options(workers.at(-1)!), request(host, 1), AbortSignal.timeout(900));
    // Aborted while polling (TimeoutError) or while sleeping between polls (AbortError).
    await expect(waiting).rejects.toMatchObject({ name: expect.stringMatching(/^(AbortError|TimeoutError)$/) });
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(850);
    expect(await rowsFor(host)).toEqual([{ connections: 24 }]);
    await holder.release();
  });

  it('hands released connections to the next copy at once, and grants only what is left', async () => {
    const host = `release-${randomUUID()}.example`;
    const first = await acquireHostLease(options(workers[0]!), request(host, 20), AbortSignal.timeout(5_000));
    const second = await acquireHostLease(options(workers.at(-1)!), request(host, 20), AbortSignal.timeout(5_000));
    expect([first.connections, second.connections]).toEqual([20, 4]);
    await first.release();
    await first.release();
    const third = await acquireHostLease(options(workers[0]!), request(host, 20), AbortSignal.timeout(5_000));
    expect(third.connections).toBe(20);
    expect((await rowsFor(host)).map((row) => row.connections).sort((a, b) => a - b)).toEqual([4, 20]);
    await Promise.all([second.release(), third.release()]);
    expect(await rowsFor(host)).toEqual([]);
  });

  it('grows a partly granted lease when others free connections, never past the ceiling or what it wanted', async () => {
    const host = `grow-${randomUUID()}.example`;
    const sumOfRows = async () => (await rowsFor(host)).reduce((sum, row) => sum + row.connections, 0);
    const first = await acquireHostLease(options(workers[0]!), request(host, 16), AbortSignal.timeout(5_000));
    const second = await acquireHostLease(
      options(workers.at(-1)!, { renewIntervalMs: 30 }),
      request(host, 20),
      AbortSignal.timeout(5_000),
    );
    const grew: number[] = [];
    second.onGrow((connections) => grew.push(connections));
    expect([first.connections, second.connections]).toEqual([16, 8]);
    // Several renewals (every 30 ms) with nothing free: no growth. A window to show an absence: a
    // slow machine can only make it miss a wrong growth, never fail a correct lease.
    await sleep(200);
    expect(second.connections).toBe(8);
    expect(await sumOfRows()).toBe(24);

    await first.release();
    await until('the second lease to grow to 20', () => second.connections === 20, Boolean, { timeoutMs: 3_000 });
    expect(grew).toEqual([20]);
    expect(await rowsFor(host)).toEqual([{ connections: 20 }]);

    const third = await acquireHostLease(
      options(workers[0]!, { renewIntervalMs: 30 }),
      request(host, 10),
      AbortSignal.timeout(5_000),
    );
    expect(third.connections).toBe(4);
    expect(await sumOfRows()).toBe(24);
    await second.release();
    await until('the third lease to grow to 10', () => third.connections === 10, Boolean, { timeoutMs: 3_000 });
    // A window to show it grows no further (an absence, so a slow machine cannot fail it).
    await sleep(100);
    expect(third.connections).toBe(10);
    expect(await rowsFor(host)).toEqual([{ connections: 10 }]);
    await third.release();
    expect(await rowsFor(host)).toEqual([]);
  });

  it('keeps growing leases of concurrent copies on several workers under the ceiling together', async () => {
    const host = `grow-race-${randomUUID()}.example`;
    let sampling = true;
    let peakInDatabase = 0;
    const sampler = (async () => {
      while (sampling) {
        peakInDatabase = Math.max(
          peakInDatabase,
          (await rowsFor(host)).reduce((sum, row) => sum + row.connections, 0),
        );
        await sleep(5); // the sampling interval of the peak, not a wait
      }
    })();
    let held = 0;
    let peakHeld = 0;
    let growths = 0;
    await Promise.all(
      Array.from({ length: 8 }, async (_, index) => {
        // Renewals come far more often than a waiting copy looks again, so holders get to grow.
        const lease = await acquireHostLease(
          options(workers[index % workers.length]!, { renewIntervalMs: 15, waitBaseDelayMs: 200, waitMaxDelayMs: 400 }),
          request(host, 10),
          AbortSignal.timeout(30_000),
        );
        held += lease.connections;
        peakHeld = Math.max(peakHeld, held);
        let counted = lease.connections;
        const unsubscribe = lease.onGrow((connections) => {
          growths += 1;
          held += connections - counted;
          counted = connections;
          peakHeld = Math.max(peakHeld, held);
        });
        // Like a copy, one granted less than it wanted takes longer, so it is still running when others end.
        await sleep(lease.connections < 10 ? 400 : 60 + (index % 3) * 20);
        unsubscribe();
        held -= counted;
        await lease.release();
      }),
    );
    sampling = false;
    await sampler;
    expect(peakInDatabase).toBe(24);
    expect(peakHeld).toBeLessThanOrEqual(24);
    // Some copy started with less than it wanted and grew while it ran.
    expect(growths).toBeGreaterThan(0);
    expect(await rowsFor(host)).toEqual([]);
  });

  it('takes no lease when the ceiling is 0', async () => {
    const host = `unlimited-${randomUUID()}.example`;
    const lease = await acquireHostLease(
      options(workers[0]!, { ceiling: 0 }),
      request(host, 20),
      AbortSignal.timeout(5_000),
    );
    expect(lease.connections).toBe(20);
    expect(await rowsFor(host)).toEqual([]);
    await lease.release();
  });
});
