/**
 * The webhook benchmark (`npm run bench:webhooks`). The service runs in this process (API and
 * worker, as `reelin serve`, with its default webhook settings) on a fresh embedded database, or on
 * PostgreSQL with `--database-url URL`; one fast local HTTPS receiver runs in a process of its own.
 *
 * 1. Throughput: a backlog of transitions (events recorded in one transaction) for a webhook at the
 *    contract's highest rate limit, 1000/s; deliveries per second until the last one arrived.
 * 2. Delay: transitions recorded one per transaction at a steady pace well under the limit (the
 *    queue is not backed up); the delay from the event's occurredAt to its arrival, median and p99.
 *
 * Every delivery must arrive exactly once; a duplicate or a missing one fails the run (exit 1).
 * Targets: >= 500 deliveries/s; p99 delay < 1 s.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startApp, type RunningApp } from '../src/app.js';
import { loadConfig } from '../src/config/config.js';
import { recordEvent } from '../src/db/queries/events.queries.js';
import { events } from '../src/db/schema.js';
import type { DatabaseConfig } from '../src/config/config.js';
import { createTestPki } from '../tests/support/test-pki.js';
import { createBenchDatabase } from './bench/service-process.js';
import type { Arrival } from './bench/webhook-receiver-process.js';

const { values: options } = parseArgs({
  options: {
    'database-url': { type: 'string' },
    backlog: { type: 'string', default: '5000' },
    'paced-events': { type: 'string', default: '400' },
    'paced-rate': { type: 'string', default: '40' },
    help: { type: 'boolean', default: false },
  },
});
if (options.help) {
  console.log(
    'usage: npm run bench:webhooks -- [--database-url postgres://...] [--backlog 5000] [--paced-events 400] [--paced-rate 40]',
  );
  process.exit(0);
}
const backlogSize = Number(options.backlog);
const pacedEvents = Number(options['paced-events']);
const pacedRate = Number(options['paced-rate']);
const API_KEY = `rln_bench_${randomUUID().replaceAll('-', '')}`;

function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)] ?? Number.NaN;
}

async function startReceiver(
  certPath: string,
  keyPath: string,
): Promise<{ child: ChildProcess; port: number; report(): Promise<Arrival[]>; reset(): Promise<void> }> {
  const script = fileURLToPath(new URL('./bench/webhook-receiver-process.ts', import.meta.url));
  const child = fork(script, [certPath, keyPath], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const [message] = (await once(child, 'message')) as [{ port: number }];
  const ask = async <T>(type: string): Promise<T> => {
    child.send({ type });
    for (;;) {
      const [reply] = (await once(child, 'message')) as [{ type: string } & T];
      if (reply.type === type) return reply;
    }
  };
  return {
    child,
    port: message.port,
    report: async () => (await ask<{ arrivals: Arrival[] }>('report')).arrivals,
    reset: async () => {
      await ask('reset');
    },
  };
}

async function waitForArrivals(
  receiver: { report(): Promise<Arrival[]> },
  count: number,
  timeoutMs: number,
): Promise<Arrival[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const arrivals = await receiver.report();
    if (arrivals.length >= count || Date.now() > deadline) return arrivals;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function checkExactlyOnce(arrivals: Arrival[], expected: number, phase: string): void {
  const ids = new Set(arrivals.map(([id]) => id));
  if (arrivals.length !== expected || ids.size !== expected) {
    throw new Error(
      `${phase}: expected ${expected} deliveries exactly once, got ${arrivals.length} requests for ${ids.size} ids`,
    );
  }
}

async function main(): Promise<number> {
  const pki = await createTestPki();
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-bench-webhooks-'));
  let database: { config: DatabaseConfig; drop(): Promise<void> } | null = null;
  let app: RunningApp | null = null;
  const receiver = await startReceiver(path.join(pki.dir, 'server.crt'), path.join(pki.dir, 'server.key'));
  try {
    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      REELIN_DATA_DIR: dataDir,
      REELIN_ADMIN_API_KEY: API_KEY,
      REELIN_LOG_LEVEL: 'warn',
      REELIN_ALLOW_PRIVATE_NETWORKS: '127.0.0.1/32',
      REELIN_ALLOWED_PORTS: String(receiver.port),
      // The worker finds ffmpeg as a deployment would (it is not used here, but checked at start).
      PATH: process.env.PATH ?? '',
      ...(options['database-url'] ? { DATABASE_URL: options['database-url'] } : {}),
    });
    if (options['database-url']) {
      const created = await createBenchDatabase(options['database-url']);
      database = { config: { kind: 'postgres', url: created.url }, drop: created.drop };
    }
    app = await startApp(database ? { ...config, database: database.config } : config, 'serve', {
      extraCaCertificates: [pki.caCertPem],
    });
    const db = app.connection.db;
    const headers = { 'x-api-key': API_KEY, 'content-type': 'application/json', accept: 'application/json' };
    const account = (await (await fetch(`${app.url}/api/v1/account`, { headers })).json()) as {
      defaultTeam: { id: string };
    };
    const teamId = account.defaultTeam.id;
    const created = await fetch(`${app.url}/api/v1/webhooks`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        name: 'bench',
        url: `https://127.0.0.1:${receiver.port}/hook`,
        eventTypes: ['video_in.done'],
        rateLimitPerSecond: 1000,
      }),
    });
    if (created.status !== 201)
      throw new Error(`creating the webhook failed: ${created.status} ${await created.text()}`);
    console.log(
      `reelin webhooks benchmark: ${database ? 'PostgreSQL' : 'embedded PGlite'}, ${os.cpus().length} CPUs, receiver in its own process`,
    );

    // 1. Throughput from a backlog.
    await db.transaction(async (tx) => {
      for (let offset = 0; offset < backlogSize; offset += 1000) {
        const count = Math.min(1000, backlogSize - offset);
        await tx
          .insert(events)
          .values(Array.from({ length: count }, () => ({ teamId, videoId: randomUUID(), type: 'video_in.done' })));
      }
    });
    // Measured from the commit: the moment the transitions exist for the dispatcher.
    const backlogStartedAt = Date.now();
    const backlog = await waitForArrivals(receiver, backlogSize, 120_000);
    checkExactlyOnce(backlog, backlogSize, 'backlog');
    const lastArrival = Math.max(...backlog.map(([, , arrived]) => arrived));
    const firstArrival = Math.min(...backlog.map(([, , arrived]) => arrived));
    const throughput = backlogSize / ((lastArrival - backlogStartedAt) / 1000);
    const sustained = (backlogSize - 1) / ((lastArrival - firstArrival) / 1000);
    await receiver.reset();

    // 2. Delay when not backed up.
    for (let index = 0; index < pacedEvents; index += 1) {
      const dueAt = Date.now() + 1000 / pacedRate;
      await db.transaction((tx) => recordEvent(tx, { teamId, videoId: randomUUID(), type: 'video_in.done' }));
      const waitMs = dueAt - Date.now();
      if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
    }
    const paced = await waitForArrivals(receiver, pacedEvents, 30_000);
    checkExactlyOnce(paced, pacedEvents, 'paced');
    const delays = paced.map(([, occurred, arrived]) => arrived - occurred).sort((a, b) => a - b);
    const median = percentile(delays, 0.5);
    const p99 = percentile(delays, 0.99);

    const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');
    console.log(`first delivery ${firstArrival - backlogStartedAt} ms after the commit`);
    console.log(
      `throughput: ${backlogSize} deliveries in ${((lastArrival - backlogStartedAt) / 1000).toFixed(2)} s from the commit = ${throughput.toFixed(0)} deliveries/s (first to last: ${sustained.toFixed(0)}/s); target >= 500/s: ${verdict(throughput >= 500)}`,
    );
    console.log(
      `delay transition -> delivery (${pacedEvents} events at ${pacedRate}/s): median ${median} ms, p99 ${p99} ms, max ${delays.at(-1)} ms; target p99 < 1000 ms: ${verdict(p99 < 1000)}`,
    );
    return 0;
  } finally {
    await app?.stop();
    await database?.drop();
    receiver.child.disconnect();
    await fs.rm(dataDir, { recursive: true, force: true });
    await pki.cleanup();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`bench:webhooks failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
