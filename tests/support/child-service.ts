/**
 * The service as a real child process (`reelin <role>` run from the TypeScript sources), for tests
 * that kill workers, restart them, or run several processes on one database.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { until } from './wait.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface ChildService {
  process: ChildProcess;
  url: string | null;
  logPath: string;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
  kill(signal: NodeJS.Signals): Promise<number | string>;
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface ApiAnswer {
  status: number;
  body: any;
}

/** One request to a service's API with an API key; a body is sent as JSON. */
export async function callApi(
  baseUrl: string,
  apiKey: string,
  method: string,
  apiPath: string,
  body?: unknown,
): Promise<ApiAnswer> {
  const response = await request(`${baseUrl}${apiPath}`, {
    method: method as 'GET',
    headers: {
      'x-api-key': apiKey,
      accept: 'application/json',
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.body.text();
  return { status: response.statusCode, body: text === '' ? null : JSON.parse(text) };
}

/** Starts `reelin <role>` with `env` on top of a clean environment; resolves once it is ready. */
export async function startChildService(
  role: 'serve' | 'api' | 'worker' | 'migrate',
  env: Record<string, string>,
  logDir: string,
): Promise<ChildService> {
  const port = role === 'serve' || role === 'api' ? await freePort() : null;
  const logPath = path.join(logDir, `${role}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}.log`);
  const log = fs.openSync(logPath, 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/main.ts'), role], {
    cwd: root,
    // Tests poll their services often; the rate limit has tests of its own.
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      HOST: '127.0.0.1',
      REELIN_RATE_LIMIT_PER_MINUTE: '100000',
      ...(port === null ? {} : { PORT: String(port) }),
      ...env,
    },
    stdio: ['ignore', log, log],
  });
  fs.closeSync(log);
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  const service: ChildService = {
    process: child,
    url: port === null ? null : `http://127.0.0.1:${port}`,
    logPath,
    exited,
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  if (role === 'migrate') {
    const code = await exited;
    if (code !== 0)
      throw new Error(`reelin migrate exited with ${code}: ${fs.readFileSync(logPath, 'utf8').slice(-2000)}`);
    return service;
  }
  await waitUntilReady(service);
  return service;
}

async function waitUntilReady(service: ChildService): Promise<void> {
  let exited = false;
  void service.exited.then(() => {
    exited = true;
  });
  const state = await until(
    `reelin (${service.url ?? 'worker'}) to become ready or exit`,
    async () => (exited ? 'exited' : (await isReady(service)) ? 'ready' : 'starting'),
    (found) => found !== 'starting',
    // A start takes a few seconds alone, but several times that on a 2-core machine running other suites.
    { timeoutMs: 60_000, intervalMs: 100 },
  ).catch((error: unknown) => (error as Error).message);
  if (state === 'ready') return;
  throw new Error(
    `reelin did not become ready (${state === 'exited' ? `exit: ${String(await service.exited)}` : state}): ${fs.readFileSync(service.logPath, 'utf8').slice(-3000)}`,
  );
}

async function isReady(service: ChildService): Promise<boolean> {
  // A worker has no API: it is ready once it logs that it started.
  if (service.url === null) return fs.readFileSync(service.logPath, 'utf8').includes('"reelin started"');
  try {
    const response = await request(`${service.url}/readyz`);
    await response.body.dump();
    return response.statusCode === 200;
  } catch {
    return false; // not listening yet
  }
}

export interface ChildEnvironmentOptions {
  dataDir: string;
  apiKey: string;
  /** The test CA's certificate file, trusted through NODE_EXTRA_CA_CERTS. */
  caCertPath: string;
  /** Ports on 127.0.0.1 the service may reach (the test's origin, receiver, ...). */
  allowedPorts: readonly number[];
  /** A PostgreSQL database shared by the processes; the embedded one in `dataDir` when absent. */
  databaseUrl?: string;
}

/** The environment the child services of a test share: its data folder, key, CA, reachable ports and database, then `extra`. */
export function childEnvironment(
  options: ChildEnvironmentOptions,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    REELIN_DATA_DIR: options.dataDir,
    REELIN_ADMIN_API_KEY: options.apiKey,
    REELIN_ALLOW_PRIVATE_NETWORKS: '127.0.0.1/32',
    REELIN_ALLOWED_PORTS: options.allowedPorts.join(','),
    NODE_EXTRA_CA_CERTS: options.caCertPath,
    REELIN_QUEUE_POLL_INTERVAL_SECONDS: '1',
    ...(options.databaseUrl === undefined ? {} : { DATABASE_URL: options.databaseUrl }),
    ...extra,
  };
}

/** The child services a test started, logging into `logDir`, so its teardown kills every one. */
export class ChildServices {
  readonly started: ChildService[] = [];

  constructor(private readonly logDir: () => string) {}

  async start(role: 'serve' | 'api' | 'worker' | 'migrate', env: Record<string, string>): Promise<ChildService> {
    const child = await startChildService(role, env, this.logDir());
    this.started.push(child);
    return child;
  }

  /** SIGKILLs every process still running and forgets them. */
  async killAll(): Promise<void> {
    await Promise.all(this.started.splice(0).map((child) => child.kill('SIGKILL')));
  }
}
