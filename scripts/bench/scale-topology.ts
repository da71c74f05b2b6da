/**
 * The processes of one `bench:scale` run: the built service as one `reelin api` and N `reelin
 * worker` processes on a fresh PostgreSQL database, storing on the local disk or in the local S3
 * server, which runs as a process of its own (tests/support/s3-server.ts standalone) so its CPU is
 * measured apart from the service's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../tests/support/child-service.js';
import { describeExit, exited, stopChild } from './child-process.js';
import type { CleanupStack } from './cleanup.js';
import { createBenchDatabase, isApiReady } from './service-process.js';

const READY_TIMEOUT_MS = 60_000;
const S3_BUCKET = 'reelin-bench';

export type StoreKind = 'fs' | 's3';

export interface TopologySpec {
  repoRoot: string;
  adminDatabaseUrl: string;
  workers: number;
  store: StoreKind;
  originPort: number;
  caCertPath: string;
  /** REELIN_* settings on top of the defaults. */
  extraEnv: Readonly<Record<string, string>>;
  cleanup: CleanupStack;
}

export interface Topology {
  apiUrl: string;
  apiKey: string;
  databaseUrl: string;
  /** The service's processes (the API first), for CPU figures. */
  servicePids: number[];
  /** The S3 server's process, when storing in S3. */
  s3Pid: number | null;
  stop(): Promise<void>;
}

/** Starts the S3 server process; resolves with its endpoint and credentials once it listens. */
async function startS3Process(
  repoRoot: string,
  dataDir: string,
): Promise<{ child: ChildProcess; env: Record<string, string> }> {
  const script = path.join(repoRoot, 'tests/support/s3-server.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', script, '--data-dir', dataDir, '--bucket', S3_BUCKET], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (child.stdout === null) throw new Error('the S3 server process has no stdout');
  const lines = createInterface({ input: child.stdout });
  const line = await Promise.race([
    new Promise<string>((resolve) => lines.once('line', resolve)),
    exited(child).then((status) =>
      Promise.reject(new Error(`the S3 server ended before listening (${describeExit(status)})`)),
    ),
  ]);
  lines.close();
  const ready = JSON.parse(line) as { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string };
  return {
    child,
    env: {
      REELIN_STORAGE: 's3',
      REELIN_S3_BUCKET: S3_BUCKET,
      REELIN_S3_ENDPOINT: ready.endpoint,
      REELIN_S3_REGION: ready.region,
      REELIN_S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: ready.accessKeyId,
      AWS_SECRET_ACCESS_KEY: ready.secretAccessKey,
      AWS_EC2_METADATA_DISABLED: 'true',
    },
  };
}

export async function startTopology(spec: TopologySpec): Promise<Topology> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-bench-scale-'));
  const apiKey = `bench-${randomBytes(24).toString('hex')}`;
  const database = await createBenchDatabase(spec.adminDatabaseUrl);
  const children: ChildProcess[] = [];
  let s3Child: ChildProcess | null = null;
  const stop = spec.cleanup.add(`stop the scale run's processes and remove ${dataDir}`, async () => {
    for (const child of children) await stopChild(child);
    if (s3Child !== null) await stopChild(s3Child);
    await database.drop();
    await fs.rm(dataDir, { recursive: true, force: true });
  });
  try {
    let storeEnv: Record<string, string> = {};
    if (spec.store === 's3') {
      const s3 = await startS3Process(spec.repoRoot, path.join(dataDir, 's3'));
      s3Child = s3.child;
      storeEnv = s3.env;
    }
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      HOST: '127.0.0.1',
      PORT: String(port),
      DATABASE_URL: database.url,
      REELIN_DATA_DIR: path.join(dataDir, 'service'),
      REELIN_ADMIN_API_KEY: apiKey,
      REELIN_ALLOW_PRIVATE_NETWORKS: '127.0.0.1/32',
      REELIN_ALLOWED_PORTS: String(spec.originPort),
      NODE_EXTRA_CA_CERTS: spec.caCertPath,
      REELIN_LOG_LEVEL: 'warn',
      ...storeEnv,
      ...spec.extraEnv,
    };
    const logPath = path.join(dataDir, 'service.log');
    const migrate = startRole(spec.repoRoot, 'migrate', env, logPath);
    const migrated = await exited(migrate);
    if (migrated.code !== 0)
      throw new Error(
        `reelin migrate failed (${describeExit(migrated)}): ${(await fs.readFile(logPath, 'utf8')).slice(-2000)}`,
      );
    children.push(startRole(spec.repoRoot, 'api', env, logPath));
    for (let index = 0; index < spec.workers; index += 1)
      children.push(
        startRole(
          spec.repoRoot,
          'worker',
          { ...env, REELIN_LOG_LEVEL: 'info' },
          path.join(dataDir, `worker-${index}.log`),
        ),
      );
    const apiUrl = `http://127.0.0.1:${port}`;
    await waitUntil(async () => isApiReady(apiUrl), children, 'the API');
    for (let index = 0; index < spec.workers; index += 1) {
      const workerLog = path.join(dataDir, `worker-${index}.log`);
      await waitUntil(
        async () => (await fs.readFile(workerLog, 'utf8').catch(() => '')).includes('"reelin started"'),
        children,
        `worker ${index + 1}`,
      );
    }
    return {
      apiUrl,
      apiKey,
      databaseUrl: database.url,
      servicePids: children.map((child) => child.pid ?? 0),
      s3Pid: s3Child?.pid ?? null,
      stop,
    };
  } catch (error) {
    const tail = await fs.readFile(path.join(dataDir, 'service.log'), 'utf8').catch(() => '');
    await stop();
    throw new Error(
      `${error instanceof Error ? error.message : String(error)}\n--- service log ---\n${tail.slice(-3000)}`,
      { cause: error },
    );
  }
}

/** `reelin <role>` from the build, with the V8 flag `npm start` uses. */
function startRole(
  repoRoot: string,
  role: 'api' | 'worker' | 'migrate',
  env: NodeJS.ProcessEnv,
  logPath: string,
): ChildProcess {
  const logFd = openSync(logPath, 'a');
  const child = spawn(
    process.execPath,
    ['--max-semi-space-size=8', '--no-liftoff', path.join(repoRoot, 'dist/main.js'), role],
    { cwd: repoRoot, env, stdio: ['ignore', logFd, logFd] },
  );
  closeSync(logFd);
  return child;
}

async function waitUntil(isReady: () => Promise<boolean>, children: ChildProcess[], what: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const dead = children.find((child) => child.exitCode !== null || child.signalCode !== null);
    if (dead)
      throw new Error(`a service process exited while waiting for ${what} (${dead.exitCode ?? dead.signalCode})`);
    if (await isReady()) return;
    await sleep(100);
  }
  throw new Error(`${what} was not ready within ${READY_TIMEOUT_MS / 1000} s`);
}
