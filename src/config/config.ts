/**
 * The service's configuration: one zod schema over the environment, validated once at start-up
 * with every problem reported together, then frozen. This is the only module that reads
 * `process.env`; everything else receives the parts of `Config` it uses.
 */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { defaultAddressSpaceBytes, type MediaLimitPolicy } from '../domain/media-limits.js';
import { normalizeS3Endpoint } from '../domain/s3-object.js';
import { parseCidrList, type PrivateNetworkAllowance } from '../net/address-policy.js';

const MEBIBYTE = 1024 * 1024;

function integer(defaultValue: number, min: number, max: number) {
  return z
    .string()
    .regex(/^[0-9]+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max))
    .default(defaultValue);
}

const portList = z.string().transform((text, ctx) => {
  const ports = text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  const bad = ports.filter((item) => !/^[0-9]{1,5}$/.test(item) || Number(item) < 1 || Number(item) > 65535);
  if (ports.length === 0 || bad.length > 0) {
    ctx.addIssue({
      code: 'custom',
      message: `must be a comma-separated list of ports 1..65535 (bad: ${bad.join(', ') || 'empty'})`,
    });
    return z.NEVER;
  }
  return [...new Set(ports.map(Number))].sort((a, b) => a - b);
});

const privateNetworks = z.string().transform((text, ctx): PrivateNetworkAllowance => {
  const value = text.trim().toLowerCase();
  if (value === '' || value === 'false' || value === '0') return false;
  if (value === 'true' || value === '1') return true;
  try {
    return parseCidrList(value);
  } catch (error) {
    ctx.addIssue({
      code: 'custom',
      message: `must be true, false or a comma-separated CIDR list: ${(error as Error).message}`,
    });
    return z.NEVER;
  }
});

/**
 * S3 endpoints imports may name, as base URLs (scheme, host, optional port and path prefix);
 * normalized without a trailing slash so a request's `endpoint` compares equal as text.
 */
const endpointList = z.string().transform((text, ctx) => {
  const endpoints: string[] = [];
  for (const item of text
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')) {
    const normalized = normalizeS3Endpoint(item);
    if (normalized === null) {
      ctx.addIssue({
        code: 'custom',
        message: `${JSON.stringify(item)} is not an https:// base URL without user name, query or fragment`,
      });
      return z.NEVER;
    }
    endpoints.push(normalized);
  }
  return [...new Set(endpoints)];
});

const booleanFlag = z.string().transform((text, ctx) => {
  const value = text.trim().toLowerCase();
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0' || value === '') return false;
  ctx.addIssue({ code: 'custom', message: 'must be true or false' });
  return z.NEVER;
});

/** A key prefix of safe `/`-separated segments, stored with one trailing slash (or empty). */
const keyPrefix = z.string().transform((text, ctx) => {
  const trimmed = text.trim().replace(/\/+$/, '');
  if (trimmed === '') return '';
  const bad = trimmed
    .split('/')
    .filter((segment) => !/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(segment) || segment === '..');
  if (bad.length > 0) {
    ctx.addIssue({
      code: 'custom',
      message: `must be /-separated segments of letters, digits, '.', '_' and '-', not starting with '/' (bad: ${bad.map((segment) => JSON.stringify(segment)).join(', ')})`,
    });
    return z.NEVER;
  }
  return `${trimmed}/`;
});

const envSchema = z.object({
  PORT: integer(8080, 0, 65535),
  HOST: z.string().min(1).default('127.0.0.1'),
  REELIN_DATA_DIR: z.string().min(1).default('./data'),
  REELIN_STORAGE: z.enum(['fs', 's3']).default('fs'),
  REELIN_FS_DIRECT_IO: booleanFlag.default(true),
  REELIN_S3_BUCKET: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{1,254}$/, "must be a bucket name (letters, digits, '.', '_', '-')")
    .optional(),
  REELIN_S3_REGION: z
    .string()
    .regex(
      /^[a-z0-9-]{1,64}$/,
      'must be a region name such as us-east-1 (S3-compatible stores often accept any, e.g. auto for R2)',
    )
    .default('us-east-1'),
  REELIN_S3_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  REELIN_S3_PUBLIC_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  REELIN_S3_FORCE_PATH_STYLE: booleanFlag.default(false),
  REELIN_S3_KEY_PREFIX: keyPrefix.default(''),
  REELIN_S3_MAX_SOCKETS: integer(0, 0, 10_000),
  REELIN_S3_SWEEP_INTERVAL_SECONDS: integer(3_600, 10, 7 * 86_400),
  REELIN_S3_SWEEP_MIN_AGE_SECONDS: integer(86_400, 0, 30 * 86_400),
  REELIN_S3_FAILED_UPLOAD_RETENTION_HOURS: integer(168, 0, 24 * 365),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  REELIN_ADMIN_API_KEY: z
    .string()
    .min(24, 'must be at least 24 characters')
    .max(256)
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
    .optional(),
  REELIN_ADMIN_EMAIL: z.email().default('admin@localhost.localdomain'),
  REELIN_PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
  REELIN_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  REELIN_ALLOW_PRIVATE_NETWORKS: privateNetworks.default(false),
  REELIN_ALLOWED_PORTS: portList.default([443]),
  REELIN_BODY_LIMIT_BYTES: integer(64 * 1024, 1024, 16 * MEBIBYTE),
  REELIN_RATE_LIMIT_PER_MINUTE: integer(600, 0, 1_000_000),
  REELIN_CONNECT_TIMEOUT_MS: integer(10_000, 100, 120_000),
  REELIN_HEADERS_TIMEOUT_MS: integer(30_000, 100, 600_000),
  REELIN_IDLE_TIMEOUT_MS: integer(30_000, 100, 600_000),
  REELIN_DNS_TIMEOUT_MS: integer(5_000, 100, 60_000),
  REELIN_COPY_JOBS_PER_WORKER: integer(4, 1, 64),
  REELIN_COPY_MIN_PART_SIZE_BYTES: integer(8 * MEBIBYTE, 1024, 5 * 1024 * MEBIBYTE),
  REELIN_COPY_PART_ATTEMPTS: integer(6, 1, 50),
  REELIN_COPY_RETRY_BASE_DELAY_MS: integer(500, 1, 60_000),
  REELIN_COPY_RETRY_MAX_DELAY_MS: integer(30_000, 1, 600_000),
  REELIN_COPY_RETRY_AFTER_MAX_MS: integer(300_000, 0, 3_600_000),
  REELIN_COPY_PROGRESS_INTERVAL_MS: integer(1_000, 50, 2_000),
  REELIN_COPY_CHECKPOINT_INTERVAL_MS: integer(10_000, 50, 60_000),
  REELIN_SOURCE_HOST_MAX_CONNECTIONS: integer(40, 0, 100_000),
  REELIN_FFMPEG_PATH: z.string().min(1).optional(),
  REELIN_FFPROBE_PATH: z.string().min(1).optional(),
  REELIN_MEDIA_WORK_DIR: z.string().min(1).optional(),
  REELIN_INGEST_JOBS_PER_WORKER: integer(1, 1, 16),
  REELIN_CLIP_JOBS_PER_WORKER: integer(1, 1, 16),
  REELIN_THUMBNAIL_COUNT: integer(10, 1, 50),
  REELIN_MEDIA_PROGRESS_INTERVAL_MS: integer(1_000, 50, 10_000),
  REELIN_MEDIA_JOBS_PER_TEAM: integer(2, 0, 10_000),
  REELIN_MEDIA_TIME_LIMIT_FLOOR_SECONDS: integer(60, 1, 86_400),
  REELIN_MEDIA_TIME_LIMIT_PERCENT: integer(100, 1, 100_000),
  REELIN_MEDIA_MAX_DURATION_SECONDS: integer(48 * 3600, 1, 365 * 86_400),
  // Unset: 2 GiB + 256 MiB per CPU. ffmpeg's shared libraries alone map about 200 MB.
  REELIN_MEDIA_MEMORY_LIMIT_MB: z
    .string()
    .regex(/^[0-9]+$/, 'must be a whole number')
    .transform(Number)
    .pipe(
      z
        .number()
        .int()
        .max(16 * MEBIBYTE)
        .refine((mb) => mb === 0 || mb >= 256, 'must be 0 (no limit) or at least 256'),
    )
    .optional(),
  PATH: z.string().default(''),
  REELIN_QUEUE_SUPERVISE_INTERVAL_SECONDS: integer(10, 1, 3_600),
  REELIN_QUEUE_POLL_INTERVAL_SECONDS: integer(2, 1, 60),
  REELIN_SHUTDOWN_TIMEOUT_MS: integer(10_000, 0, 600_000),
  REELIN_S3_IMPORT_ENDPOINTS: endpointList.default([]),
  REELIN_S3_IMPORT_REGION: z
    .string()
    .regex(/^[a-z0-9-]{1,64}$/, 'must be a region name such as us-east-1')
    .default('us-east-1'),
  REELIN_WEBHOOK_KEY_ENCRYPTION_KEY: z
    .string()
    .refine(
      (text) => /^[A-Za-z0-9+/]{43}=$/.test(text.trim()) && Buffer.from(text.trim(), 'base64').length === 32,
      'must be 32 random bytes in base64 (44 characters; e.g. `openssl rand -base64 32`)',
    )
    .transform((text) => Buffer.from(text.trim(), 'base64'))
    .optional(),
  REELIN_WEBHOOK_KEY_ROTATION_DAYS: integer(90, 0, 3650),
  REELIN_WEBHOOK_KEY_OVERLAP_HOURS: integer(168, 1, 24 * 365),
  REELIN_WEBHOOK_TIMEOUT_MS: integer(10_000, 100, 60_000),
  REELIN_WEBHOOK_RETRY_BASE_DELAY_MS: integer(10_000, 1, 3_600_000),
  REELIN_WEBHOOK_RETRY_MAX_DELAY_MS: integer(3_600_000, 1, 24 * 3_600_000),
  REELIN_WEBHOOK_POLL_INTERVAL_MS: integer(1_000, 10, 60_000),
  REELIN_WEB_DIR: z.string().min(1).optional(),
  REELIN_EVENT_STREAMS_PER_KEY: integer(8, 1, 10_000),
  REELIN_EVENT_STREAM_HEARTBEAT_MS: integer(15_000, 10, 600_000),
  REELIN_EVENT_STREAM_RETENTION_MINUTES: integer(60, 1, 7 * 24 * 60),
});

export type StorageConfig = { kind: 'fs'; rootDir: string; directIo: boolean } | S3StorageConfig;

/** S3 or an S3-compatible store. Credentials come from the AWS SDK's default provider chain, never from here. */
export interface S3StorageConfig {
  kind: 's3';
  bucket: string;
  region: string;
  /** For MinIO, R2, B2, Ceph RGW...; null: AWS's own endpoint for the region. */
  endpoint: string | null;
  /**
   * The endpoint download links are signed for, when users reach the store by another address
   * than the service does (a store inside a private network behind a public name); null: `endpoint`.
   */
  publicEndpoint: string | null;
  /** Bucket in the path (`endpoint/bucket/key`) rather than the host name. */
  forcePathStyle: boolean;
  /** Prepended to every key: empty, or segments ending in `/`. */
  keyPrefix: string;
  /** Sockets per S3 agent; default 20 for each copy job a worker runs at once. */
  maxSockets: number;
  /** An upload younger than this is never swept (its import may not have recorded it yet). */
  sweepMinAgeMs: number;
}

export type DatabaseConfig = { kind: 'pglite'; dataDir: string } | { kind: 'postgres'; url: string };

export interface Config {
  http: {
    port: number;
    host: string;
    publicUrl: string | null;
    bodyLimitBytes: number;
    /** Requests one API key may make per minute, through all API processes together; 0: no limit (and no X-RateLimit-* headers). */
    rateLimitPerMinute: number;
  };
  dataDir: string;
  database: DatabaseConfig;
  storage: StorageConfig;
  admin: { apiKey: string | null; email: string };
  log: { level: string };
  outbound: {
    allowance: PrivateNetworkAllowance;
    /** Ports a source URL may use, sorted. */
    allowedPorts: readonly number[];
    connectTimeoutMs: number;
    headersTimeoutMs: number;
    idleTimeoutMs: number;
    dnsTimeoutMs: number;
  };
  /** Imports from S3 (`POST /v1/videos/in/s3`). */
  s3Import: {
    /** Self-hosted S3 endpoints a request may name (normalized base URLs); AWS needs none. */
    endpoints: readonly string[];
    /** The signing region for a self-hosted endpoint when the request names none. */
    defaultRegion: string;
  };
  copy: {
    jobsPerWorker: number;
    minPartSizeBytes: number;
    partAttempts: number;
    retryBaseDelayMs: number;
    retryMaxDelayMs: number;
    retryAfterMaxMs: number;
    /** How often progress is saved while copying (at most 2 s). */
    progressIntervalMs: number;
    /** How often finished parts are made durable and recorded (what a crash can cost). */
    checkpointIntervalMs: number;
    /**
     * Connections all running copies, on every worker together, may hold to one source host
     * (`host:port`); 0: no ceiling.
     */
    sourceHostMaxConnections: number;
  };
  media: {
    /** Explicit binaries; null: found on PATH, else the ones bundled in npm packages. */
    ffmpegPath: string | null;
    ffprobePath: string | null;
    /** The PATH searched for ffmpeg and ffprobe. */
    searchPath: string;
    /** Where ffmpeg writes outputs before they are stored (a fresh folder per job under it). */
    workDir: string;
    ingestJobsPerWorker: number;
    clipJobsPerWorker: number;
    /** Thumbnails (and full frames) a full ingestion makes. */
    thumbnailCount: number;
    /** How often ingestion and clip progress is saved. */
    progressIntervalMs: number;
    /**
     * Ingestions and clips one team may have running at once, on every worker together, so other
     * teams' videos keep moving; 0: no ceiling.
     */
    jobsPerTeam: number;
    /** Each ffmpeg/ffprobe run's wall-clock, CPU and memory limits, and the longest media a full ingestion takes. */
    limits: MediaLimitPolicy;
  };
  queue: { superviseIntervalSeconds: number; pollIntervalSeconds: number };
  /** The periodic sweep (sweep-uploads.job.ts), whatever the storage. */
  sweep: {
    /** How often a worker asks for it. */
    intervalSeconds: number;
    /**
     * How long a FAILED import keeps what a restart needs: its S3 multipart upload (S3 storage) and
     * the key pair of an S3 source (any storage). After it, the sweep aborts the one and deletes the other.
     */
    failedImportRetentionMs: number;
  };
  webhooks: WebhookConfig;
  /** The web application served at `/`. */
  web: {
    /** The built application (index.html and assets/); default: dist/web of this checkout or image. */
    dir: string;
  };
  /** The live event stream (`GET /api/v1/events/stream`, src/live). */
  liveEvents: LiveEventsConfig;
  shutdownTimeoutMs: number;
  /** Sentences to log as warnings at start (a loosened outbound policy). */
  warnings: string[];
}

export interface WebhookConfig {
  /**
   * The AES-256 key that encrypts the webhook signing keys' private parts in the database; null:
   * not configured (the embedded mode keeps a generated one in the data folder, see docs/webhooks.md).
   */
  keyEncryptionKey: Buffer | null;
  /** A new signing key is made when the active one is this old; 0: only by `reelin rotate-webhook-keys`. */
  keyRotationIntervalMs: number;
  /** How long a replaced signing key stays listed (and valid) after a rotation. */
  keyOverlapMs: number;
  /** One delivery attempt's time limit; the contract says 10 s. */
  timeoutMs: number;
  /** Backoff between attempts: the first retry's step, doubling up to the maximum. */
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
  /** How often workers look for new events and due deliveries. */
  pollIntervalMs: number;
}

/**
 * The web build next to the server's: this module is src/config/config.ts or dist/config/config.js,
 * two levels below the checkout (or the image's /app) either way, and Vite writes to dist/web there.
 */
const defaultWebDir = fileURLToPath(new URL('../../dist/web', import.meta.url));

export interface LiveEventsConfig {
  /** Streams one API key may hold open on one API process; the next is answered 429. */
  streamsPerKey: number;
  /** How often an open stream gets a `: heartbeat` comment, so proxies and clients see it alive. */
  heartbeatMs: number;
  /** How long changes stay resumable (`Last-Event-ID`); an older cursor is answered with `reset`. */
  retentionMs: number;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
  }
}

function describeWarnings(env: z.infer<typeof envSchema>): string[] {
  const warnings: string[] = [];
  const allowance = env.REELIN_ALLOW_PRIVATE_NETWORKS;
  if (allowance === true) {
    warnings.push(
      'REELIN_ALLOW_PRIVATE_NETWORKS=true: imports may reach loopback and private addresses; use this only for local development and tests',
    );
  } else if (allowance !== false) {
    warnings.push(
      `REELIN_ALLOW_PRIVATE_NETWORKS allows these non-public networks: ${allowance.map((range) => range.text).join(', ')}`,
    );
  }
  const ports = env.REELIN_ALLOWED_PORTS;
  if (ports.length !== 1 || ports[0] !== 443) {
    warnings.push(
      `REELIN_ALLOWED_PORTS=${ports.join(',')}: imports may use ports other than 443; use this only for local development and tests`,
    );
  }
  return warnings;
}

/** Validates the environment and builds the frozen configuration, or throws ConfigError listing every problem. */
export function loadConfig(
  environment: Record<string, string | undefined> = process.env,
  cwd = process.cwd(),
  cpuCount = os.availableParallelism(),
): Readonly<Config> {
  const parsed = envSchema.safeParse(environment);
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((issue) => `${issue.path.join('.') || '(environment)'}: ${issue.message}`);
  if (environment.REELIN_STORAGE === 's3' && !environment.REELIN_S3_BUCKET)
    problems.push('REELIN_S3_BUCKET: is required when REELIN_STORAGE=s3');
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  const env = parsed.data;
  const dataDir = path.resolve(cwd, env.REELIN_DATA_DIR);
  const config: Config = {
    http: {
      port: env.PORT,
      host: env.HOST,
      publicUrl: env.REELIN_PUBLIC_URL?.replace(/\/+$/, '') ?? null,
      bodyLimitBytes: env.REELIN_BODY_LIMIT_BYTES,
      rateLimitPerMinute: env.REELIN_RATE_LIMIT_PER_MINUTE,
    },
    dataDir,
    database: env.DATABASE_URL
      ? { kind: 'postgres', url: env.DATABASE_URL }
      : { kind: 'pglite', dataDir: path.join(dataDir, 'db') },
    storage: storageConfig(env, dataDir),
    admin: { apiKey: env.REELIN_ADMIN_API_KEY ?? null, email: env.REELIN_ADMIN_EMAIL },
    log: { level: env.REELIN_LOG_LEVEL },
    outbound: {
      allowance: env.REELIN_ALLOW_PRIVATE_NETWORKS,
      allowedPorts: env.REELIN_ALLOWED_PORTS,
      connectTimeoutMs: env.REELIN_CONNECT_TIMEOUT_MS,
      headersTimeoutMs: env.REELIN_HEADERS_TIMEOUT_MS,
      idleTimeoutMs: env.REELIN_IDLE_TIMEOUT_MS,
      dnsTimeoutMs: env.REELIN_DNS_TIMEOUT_MS,
    },
    s3Import: { endpoints: env.REELIN_S3_IMPORT_ENDPOINTS, defaultRegion: env.REELIN_S3_IMPORT_REGION },
    copy: {
      jobsPerWorker: env.REELIN_COPY_JOBS_PER_WORKER,
      minPartSizeBytes: env.REELIN_COPY_MIN_PART_SIZE_BYTES,
      partAttempts: env.REELIN_COPY_PART_ATTEMPTS,
      retryBaseDelayMs: env.REELIN_COPY_RETRY_BASE_DELAY_MS,
      retryMaxDelayMs: env.REELIN_COPY_RETRY_MAX_DELAY_MS,
      retryAfterMaxMs: env.REELIN_COPY_RETRY_AFTER_MAX_MS,
      progressIntervalMs: env.REELIN_COPY_PROGRESS_INTERVAL_MS,
      checkpointIntervalMs: env.REELIN_COPY_CHECKPOINT_INTERVAL_MS,
      sourceHostMaxConnections: env.REELIN_SOURCE_HOST_MAX_CONNECTIONS,
    },
    media: {
      ffmpegPath: env.REELIN_FFMPEG_PATH ? path.resolve(cwd, env.REELIN_FFMPEG_PATH) : null,
      ffprobePath: env.REELIN_FFPROBE_PATH ? path.resolve(cwd, env.REELIN_FFPROBE_PATH) : null,
      searchPath: env.PATH,
      workDir: env.REELIN_MEDIA_WORK_DIR ? path.resolve(cwd, env.REELIN_MEDIA_WORK_DIR) : path.join(dataDir, 'work'),
      ingestJobsPerWorker: env.REELIN_INGEST_JOBS_PER_WORKER,
      clipJobsPerWorker: env.REELIN_CLIP_JOBS_PER_WORKER,
      thumbnailCount: env.REELIN_THUMBNAIL_COUNT,
      progressIntervalMs: env.REELIN_MEDIA_PROGRESS_INTERVAL_MS,
      jobsPerTeam: env.REELIN_MEDIA_JOBS_PER_TEAM,
      limits: {
        floorMs: env.REELIN_MEDIA_TIME_LIMIT_FLOOR_SECONDS * 1000,
        scale: env.REELIN_MEDIA_TIME_LIMIT_PERCENT / 100,
        cpuCount,
        addressSpaceBytes:
          env.REELIN_MEDIA_MEMORY_LIMIT_MB === undefined
            ? defaultAddressSpaceBytes(cpuCount)
            : env.REELIN_MEDIA_MEMORY_LIMIT_MB === 0
              ? null
              : env.REELIN_MEDIA_MEMORY_LIMIT_MB * MEBIBYTE,
        maxDurationMs: env.REELIN_MEDIA_MAX_DURATION_SECONDS * 1000,
      },
    },
    queue: {
      superviseIntervalSeconds: env.REELIN_QUEUE_SUPERVISE_INTERVAL_SECONDS,
      pollIntervalSeconds: env.REELIN_QUEUE_POLL_INTERVAL_SECONDS,
    },
    sweep: {
      intervalSeconds: env.REELIN_S3_SWEEP_INTERVAL_SECONDS,
      failedImportRetentionMs: env.REELIN_S3_FAILED_UPLOAD_RETENTION_HOURS * 3_600_000,
    },
    webhooks: {
      keyEncryptionKey: env.REELIN_WEBHOOK_KEY_ENCRYPTION_KEY ?? null,
      keyRotationIntervalMs: env.REELIN_WEBHOOK_KEY_ROTATION_DAYS * 86_400_000,
      keyOverlapMs: env.REELIN_WEBHOOK_KEY_OVERLAP_HOURS * 3_600_000,
      timeoutMs: env.REELIN_WEBHOOK_TIMEOUT_MS,
      retryBaseDelayMs: env.REELIN_WEBHOOK_RETRY_BASE_DELAY_MS,
      retryMaxDelayMs: env.REELIN_WEBHOOK_RETRY_MAX_DELAY_MS,
      pollIntervalMs: env.REELIN_WEBHOOK_POLL_INTERVAL_MS,
    },
    web: { dir: env.REELIN_WEB_DIR ? path.resolve(cwd, env.REELIN_WEB_DIR) : defaultWebDir },
    liveEvents: {
      streamsPerKey: env.REELIN_EVENT_STREAMS_PER_KEY,
      heartbeatMs: env.REELIN_EVENT_STREAM_HEARTBEAT_MS,
      retentionMs: env.REELIN_EVENT_STREAM_RETENTION_MINUTES * 60_000,
    },
    shutdownTimeoutMs: env.REELIN_SHUTDOWN_TIMEOUT_MS,
    warnings: describeWarnings(env),
  };
  return deepFreeze(config);
}

function storageConfig(env: z.infer<typeof envSchema>, dataDir: string): StorageConfig {
  if (env.REELIN_STORAGE === 'fs' || env.REELIN_S3_BUCKET === undefined)
    return { kind: 'fs', rootDir: path.join(dataDir, 'storage'), directIo: env.REELIN_FS_DIRECT_IO };
  return {
    kind: 's3',
    bucket: env.REELIN_S3_BUCKET,
    region: env.REELIN_S3_REGION,
    endpoint: env.REELIN_S3_ENDPOINT?.replace(/\/+$/, '') ?? null,
    publicEndpoint: env.REELIN_S3_PUBLIC_ENDPOINT?.replace(/\/+$/, '') ?? null,
    forcePathStyle: env.REELIN_S3_FORCE_PATH_STYLE,
    keyPrefix: env.REELIN_S3_KEY_PREFIX,
    maxSockets: env.REELIN_S3_MAX_SOCKETS === 0 ? 20 * env.REELIN_COPY_JOBS_PER_WORKER : env.REELIN_S3_MAX_SOCKETS,
    sweepMinAgeMs: env.REELIN_S3_SWEEP_MIN_AGE_SECONDS * 1000,
  };
}

function deepFreeze<T>(value: T): Readonly<T> {
  // Buffers (keys) cannot be frozen; they are never handed out for writing.
  if (value && typeof value === 'object' && !ArrayBuffer.isView(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
