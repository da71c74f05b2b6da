/**
 * The real service, started in-process for end-to-end tests: API and worker (`serve`) on a fresh
 * database, a temporary data folder, a local HTTPS origin it trusts, and an HTTP client for its API.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { request } from 'undici';
import { startApp, type AppOverrides, type Role, type RunningApp } from '../../src/app.js';
import { loadConfig, type DatabaseConfig } from '../../src/config/config.js';
import type { ProcessRunner } from '../../src/media/process-runner.js';
import type { HostResolver } from '../../src/net/resolver.js';
import { createTestDatabase, type Backend, type TestDatabase } from './test-database.js';
import { until } from './wait.js';

export const TEST_API_KEY = 'rln_test_key_0123456789abcdefghijklmnopqrstuvwxyz';

export interface TestServiceOptions {
  backend: Backend;
  /** Trusted CA certificates (the test origin's CA). */
  caCertificates: readonly string[];
  /** Extra environment on top of the test defaults. */
  env?: Record<string, string>;
  resolver?: HostResolver;
  /** Runs ffmpeg and ffprobe in place of the real runner (the benchmark records commands with it). */
  mediaRunner?: ProcessRunner;
  /** The service's logger (tests that read the log pass one writing to memory). */
  logger?: Logger;
}

export interface ApiResponse<T = unknown> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: T;
  text: string;
}

/** Calls to one service's API with the test key, and waits on what it reports. */
export interface ServiceClient {
  api<T = any>(
    method: string,
    apiPath: string,
    options?: { body?: unknown; rawBody?: string; headers?: Record<string, string>; apiKey?: string | null },
  ): Promise<ApiResponse<T>>;
  /** Polls the import status until it is `status` (or any of them), failing after `timeoutMs`. */
  waitForUpload(videoId: string, status: string | string[], timeoutMs?: number): Promise<any>;
  /** Polls a video until `ready` holds for it, failing after `timeoutMs` with the last state seen. */
  waitForVideo(videoId: string, ready: (video: any) => boolean, timeoutMs?: number): Promise<any>;
}

export interface TestService extends ServiceClient {
  app: RunningApp;
  url: string;
  dataDir: string;
  stop(): Promise<void>;
}

/** Environment every test service starts with: quick retries, small parts, silent logs. */
export function testEnvironment(dataDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PORT: '0',
    HOST: '127.0.0.1',
    REELIN_DATA_DIR: dataDir,
    REELIN_ADMIN_API_KEY: TEST_API_KEY,
    REELIN_LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    REELIN_ALLOW_PRIVATE_NETWORKS: '127.0.0.1/32',
    REELIN_COPY_MIN_PART_SIZE_BYTES: String(64 * 1024),
    REELIN_COPY_RETRY_BASE_DELAY_MS: '20',
    REELIN_COPY_RETRY_MAX_DELAY_MS: '200',
    REELIN_COPY_PROGRESS_INTERVAL_MS: '100',
    REELIN_COPY_CHECKPOINT_INTERVAL_MS: '100',
    REELIN_IDLE_TIMEOUT_MS: '1000',
    REELIN_CONNECT_TIMEOUT_MS: '2000',
    REELIN_QUEUE_SUPERVISE_INTERVAL_SECONDS: '1',
    REELIN_SHUTDOWN_TIMEOUT_MS: '2000',
    REELIN_MEDIA_PROGRESS_INTERVAL_MS: '100',
    // Tests poll statuses every 50-100 ms, past the default 600 a minute; the rate limit's own test sets its limit.
    REELIN_RATE_LIMIT_PER_MINUTE: '100000',
    // ffmpeg is found on the PATH, as in a real deployment.
    PATH: process.env.PATH ?? '',
    ...extra,
  };
}

export interface ServiceAppOptions extends AppOverrides {
  dataDir: string;
  database: DatabaseConfig;
  /** Extra environment on top of the test defaults (testEnvironment). */
  env?: Record<string, string>;
  /** Default `serve`. */
  role?: Role;
}

/** The service in this process on the test environment: the one way tests build its configuration and start it. */
export async function startServiceApp(options: ServiceAppOptions): Promise<RunningApp> {
  const { dataDir, database, env, role, ...overrides } = options;
  const config = loadConfig(testEnvironment(dataDir, env));
  return startApp({ ...config, database }, role ?? 'serve', overrides);
}

/** A client of the API at `url` (`http://host:port`), with the test key unless a call names another. */
export function serviceClient(url: string): ServiceClient {
  const client: ServiceClient = {
    async api(method, apiPath, requestOptions = {}) {
      const headers: Record<string, string> = { accept: 'application/json', ...requestOptions.headers };
      const apiKey = requestOptions.apiKey === undefined ? TEST_API_KEY : requestOptions.apiKey;
      if (apiKey !== null) headers['x-api-key'] = apiKey;
      let body: string | undefined = requestOptions.rawBody;
      if (requestOptions.body !== undefined) {
        body = JSON.stringify(requestOptions.body);
        headers['content-type'] ??= 'application/json';
      }
      const response = await request(`${url}${apiPath}`, {
        method: method as 'GET',
        headers,
        ...(body === undefined ? {} : { body }),
      });
      const text = await response.body.text();
      let parsed: unknown = text;
      try {
        parsed = text === '' ? null : JSON.parse(text);
      } catch {
        parsed = text;
      }
      return { status: response.statusCode, headers: response.headers, body: parsed as never, text };
    },
    async waitForUpload(videoId, status, timeoutMs = 30_000) {
      const wanted = Array.isArray(status) ? status : [status];
      const answer = await until(
        `import ${videoId} to reach ${wanted.join('/')}`,
        () => statusAndBody(client.api<any>('GET', `/api/v1/videos/${videoId}/in/status`)),
        (response) => response.status === 200 && wanted.includes(response.body.upload.uploadState.uploadStatus),
        { timeoutMs, intervalMs: 50 },
      );
      return answer.body;
    },
    async waitForVideo(videoId, ready, timeoutMs = 60_000) {
      const answer = await until(
        `video ${videoId} to become ready`,
        () => statusAndBody(client.api<any>('GET', `/api/v1/videos/${videoId}`)),
        (response) => response.status === 200 && ready(response.body),
        { timeoutMs, intervalMs: 100 },
      );
      return answer.body;
    },
  };
  return client;
}

/** An answer without its headers and text, as a failed wait shows it. */
async function statusAndBody(answer: Promise<ApiResponse<any>>): Promise<{ status: number; body: any }> {
  const { status, body } = await answer;
  return { status, body };
}

export async function startTestService(options: TestServiceOptions): Promise<TestService> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-e2e-'));
  const database: TestDatabase = await createTestDatabase(options.backend, path.join(dataDir, 'db'));
  const app = await startServiceApp({
    dataDir,
    database: database.config,
    ...(options.env ? { env: options.env } : {}),
    extraCaCertificates: options.caCertificates,
    ...(options.resolver ? { resolver: options.resolver } : {}),
    ...(options.mediaRunner ? { mediaRunner: options.mediaRunner } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const url = app.url ?? '';
  return {
    ...serviceClient(url),
    app,
    url,
    dataDir,
    async stop() {
      await app.stop();
      await database.drop();
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}
