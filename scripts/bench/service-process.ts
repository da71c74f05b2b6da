/**
 * The service under test as its own process: the built `node dist/main.js serve`, exactly as an
 * operator runs it, with embedded PGlite and local-disk storage in a fresh temporary data folder,
 * so every run starts from an empty database and an empty disk.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { openSync, closeSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { request } from 'undici';
import { freePort } from '../../tests/support/child-service.js';
import { describeExit, exited, stopChild, type ExitStatus } from './child-process.js';
import type { CleanupStack } from './cleanup.js';

// Generous: on a machine busy with other work a fresh service takes tens of seconds to start.
const READY_TIMEOUT_MS = 180_000;

export interface ServiceSpec {
  repoRoot: string;
  originPort: number;
  caCertPath: string;
  /** When set, the service runs under `node --cpu-prof` and writes its profile here on exit. */
  cpuProfDir: string | null;
  /** Extra REELIN_* settings (from --service-env). */
  extraEnv: Readonly<Record<string, string>>;
  /**
   * A PostgreSQL server to run on instead of the embedded database: each run then gets a database
   * of its own and separate `reelin api` and `reelin worker` processes, and the figures are the
   * worker's (the process that copies).
   */
  databaseUrl: string | null;
  /** The process and its data folder are registered here as soon as they exist (Ctrl-C during start-up). */
  cleanup: CleanupStack;
}

export interface ServiceProcess {
  pid: number;
  /** The process serving the API: the same as `pid` on the embedded database, the `api` process on PostgreSQL. */
  apiPid: number;
  /** `http://127.0.0.1:<port>` */
  url: string;
  apiKey: string;
  dataDir: string;
  /** The last lines the service logged, for error messages. */
  logTail(): Promise<string>;
  /** Everything the service (or, on PostgreSQL, the worker) logged so far. */
  logText(): Promise<string>;
  /** SIGTERM, wait for the exit, remove the data folder and the log; only the first call does anything. */
  stop(): Promise<void>;
}

export async function startService(spec: ServiceSpec): Promise<ServiceProcess> {
  const port = await freePort();
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-bench-data-'));
  // The log sits next to the data folder rather than in it, so the service's data dir holds only its own files.
  const logPath = `${dataDir}.log`;
  const apiKey = `bench-${randomBytes(24).toString('hex')}`;
  const database = spec.databaseUrl === null ? null : await createBenchDatabase(spec.databaseUrl);
  const env = {
    ...serviceEnvironment({ port, dataDir, apiKey, originPort: spec.originPort, caCertPath: spec.caCertPath }),
    ...(database === null ? {} : { DATABASE_URL: database.url }),
    ...spec.extraEnv,
  };
  // As `npm start` does: the first-start database set-up in a short-lived process of its own, so
  // the serving process's memory figures are its own.
  await migrate(spec.repoRoot, env, logPath);
  const nodeArgs = spec.cpuProfDir === null ? [] : ['--cpu-prof', '--cpu-prof-dir', spec.cpuProfDir];
  const children =
    database === null
      ? [startRole(spec.repoRoot, 'serve', nodeArgs, env, logPath)]
      : [
          startRole(spec.repoRoot, 'worker', nodeArgs, { ...env, REELIN_LOG_LEVEL: 'info' }, `${logPath}.worker`),
          startRole(spec.repoRoot, 'api', [], env, logPath),
        ];
  const copier = children[0] as ChildProcess;
  // Registered with no await since the spawn, so an interrupt at any later point stops it and removes the folder.
  const logTail = async () => (await fs.readFile(logPath, 'utf8').catch(() => '')).slice(-3000);
  const logText = () => fs.readFile(database === null ? logPath : `${logPath}.worker`, 'utf8').catch(() => '');
  const stop = spec.cleanup.add(
    `stop the service (pids ${children.map((child) => child.pid).join(', ')}) and remove ${dataDir}`,
    async () => {
      for (const child of children) await stopChild(child);
      await database?.drop();
      await fs.rm(dataDir, { recursive: true, force: true });
      await fs.rm(logPath, { force: true });
      await fs.rm(`${logPath}.worker`, { force: true });
    },
  );
  const service: ServiceProcess = {
    pid: copier.pid ?? 0,
    apiPid: children.at(-1)?.pid ?? 0,
    url: `http://127.0.0.1:${port}`,
    apiKey,
    dataDir,
    logTail,
    logText,
    stop,
  };
  try {
    await waitUntil(
      'service',
      () => isApiReady(service.url),
      () => Promise.race(children.map((child) => exited(child))),
    );
    if (database !== null) {
      const workerLog = `${logPath}.worker`;
      await waitUntil(
        'worker',
        async () => (await fs.readFile(workerLog, 'utf8').catch(() => '')).includes('"reelin started"'),
        () => exited(copier),
      );
    }
    return service;
  } catch (error) {
    const tail = await logTail();
    await service.stop();
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n--- service log ---\n${tail}`, {
      cause: error,
    });
  }
}

/** `reelin <role>` with the V8 flag `npm start` (and the reelin command's shebang) runs it with. */
function startRole(
  repoRoot: string,
  role: 'serve' | 'api' | 'worker',
  nodeArgs: string[],
  env: NodeJS.ProcessEnv,
  logPath: string,
): ChildProcess {
  const logFd = openSync(logPath, 'a');
  const child = spawn(
    process.execPath,
    [...nodeArgs, '--max-semi-space-size=8', '--no-liftoff', path.join(repoRoot, 'dist/main.js'), role],
    { cwd: repoRoot, env, stdio: ['ignore', logFd, logFd] },
  );
  closeSync(logFd);
  return child;
}

/** A database of its own on the PostgreSQL server at `adminUrl`, dropped by `drop()`. */
export async function createBenchDatabase(adminUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `reelin_bench_${randomBytes(6).toString('hex')}`;
  const run = async (statement: string) => {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  };
  await run(`create database ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => run(`drop database if exists ${name} with (force)`) };
}

async function migrate(repoRoot: string, env: NodeJS.ProcessEnv, logPath: string): Promise<void> {
  const logFd = openSync(logPath, 'a');
  const child = spawn(process.execPath, [path.join(repoRoot, 'dist/main.js'), 'migrate'], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', logFd, logFd],
  });
  closeSync(logFd);
  const status = await exited(child);
  if (status.code !== 0)
    throw new Error(
      `reelin migrate failed (${describeExit(status)}): ${(await fs.readFile(logPath, 'utf8')).slice(-2000)}`,
    );
}

/** A clean environment: only what the service needs, so the caller's shell (proxies, DATABASE_URL) cannot change the result. */
export function serviceEnvironment(values: {
  port: number;
  dataDir: string;
  apiKey: string;
  originPort: number;
  caCertPath: string;
  logLevel?: string;
}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    PORT: String(values.port),
    HOST: '127.0.0.1',
    REELIN_DATA_DIR: values.dataDir,
    REELIN_ADMIN_API_KEY: values.apiKey,
    REELIN_ALLOW_PRIVATE_NETWORKS: '127.0.0.1/32',
    REELIN_ALLOWED_PORTS: String(values.originPort),
    NODE_EXTRA_CA_CERTS: values.caCertPath,
    REELIN_LOG_LEVEL: values.logLevel ?? 'warn',
  };
}

/** Polls `isReady` every 100 ms until it holds; fails early if the process exits first. */
async function waitUntil(
  what: string,
  isReady: () => Promise<boolean>,
  exit: () => Promise<ExitStatus>,
): Promise<void> {
  let exitStatus: ExitStatus | null = null;
  void exit().then((status) => {
    exitStatus = status;
  });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exitStatus !== null) throw new Error(`the ${what} exited during start-up (${describeExit(exitStatus)})`);
    if (await isReady()) return;
    await sleep(100);
  }
  throw new Error(`the ${what} was not ready within ${READY_TIMEOUT_MS / 1000} s`);
}

/** The API answers 200 on /readyz. */
export async function isApiReady(url: string): Promise<boolean> {
  try {
    const response = await request(`${url}/readyz`);
    await response.body.dump();
    return response.statusCode === 200;
  } catch {
    return false; // not listening yet
  }
}
