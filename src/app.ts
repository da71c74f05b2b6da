/**
 * The composition root: builds every adapter and service once, for the process's role, and passes
 * each unit only what it uses. No logic lives here beyond the order of start and stop.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import type { Config } from './config/config.js';
import type { RateLimit } from './api/rate-limit.js';
import { buildServer } from './api/server.js';
import { createLogger } from './logging.js';
import {
  assertMigrated,
  migrateDatabase,
  openDatabase,
  pingDatabase,
  type Database,
  type DatabaseConnection,
} from './db/database.js';
import { listenForEvents, listenOnChannel } from './webhooks/event-bell.js';
import { presentVideo } from './api/presenters.js';
import { LIVE_CHANNEL, listLiveChanges, pruneLiveChanges, readLiveHorizon } from './db/queries/live-changes.queries.js';
import { listVideoViewsByIds } from './db/queries/videos.queries.js';
import { LiveEvents } from './live/live-events.js';
import { createCopyVideoExhaustedHandler } from './jobs/copy-video-exhausted.job.js';
import { createCopyVideoHandler } from './jobs/copy-video.job.js';
import { createCutClipHandler } from './jobs/cut-clip.job.js';
import { createSweepUploadsHandler, type SweepPolicy } from './jobs/sweep-uploads.job.js';
import { createIngestVideoHandler } from './jobs/ingest-video.job.js';
import { createCutClipExhaustedHandler, createIngestVideoExhaustedHandler } from './jobs/media-job-exhausted.job.js';
import { DeletedVideoWatch } from './jobs/deleted-video-watch.js';
import { discoverMediaTools, findConfinement } from './media/ffmpeg-tools.js';
import { FfmpegIngestionMedia } from './media/media-toolkit.js';
import { ChildProcessRunner, type ProcessRunner } from './media/process-runner.js';
import { createApiRequestCounter } from './services/api-request-counter.js';
import { ArtifactService } from './services/artifact.service.js';
import { DownloadService } from './services/download.service.js';
import { PgBossJobQueue } from './jobs/job-queue.js';
import { OutboundClient, warmHttpParser } from './net/outbound-client.js';
import { SystemResolver, type HostResolver } from './net/resolver.js';
import { bootstrapAdmin } from './services/bootstrap.service.js';
import { loadDownloadLinkKey, sealPlaintextWebhookSecrets } from './secrets/secrets-at-rest.js';
import { ProjectService } from './services/project.service.js';
import { TenancyService } from './services/tenancy.service.js';
import { VideoImportService } from './services/video-import.service.js';
import { VideoService } from './services/video.service.js';
import { DownloadLinkSigner } from './storage/download-links.js';
import type { BlobStore } from './storage/blob-store.js';
import { tightenDataDir } from './storage/data-dir-permissions.js';
import { FsBlobStore } from './storage/fs-blob-store.js';
import type { S3Credentials } from './domain/s3-object.js';
import { releaseAllLeases } from './db/queries/webhook-deliveries.queries.js';
import { WebhookService } from './services/webhook.service.js';
import { resolveKeyEncryptionKey } from './secrets/key-encryption-key.js';
import { SigningKeyRing } from './webhooks/signing-keys.js';
import { WebhookWorker } from './webhooks/webhook-worker.js';

export type Role = 'serve' | 'api' | 'worker' | 'migrate';

/**
 * How often a worker looks whether the videos of its running media jobs still exist, besides
 * when the event bell says videos were deleted: the backstop for a ring missed.
 */
const DELETION_POLL_INTERVAL_MS = 1_000;

/** Test seams: replace what a test must control (DNS, TLS trust, logging, media processes). */
export interface AppOverrides {
  resolver?: HostResolver;
  /** Runs ffmpeg and ffprobe (the benchmark wraps the real runner to record and time commands). */
  mediaRunner?: ProcessRunner;
  extraCaCertificates?: readonly string[];
  logger?: Logger;
  /** S3 credentials instead of the AWS SDK's default provider chain (tests' own S3 server). */
  s3Credentials?: S3Credentials;
  /** The API rate limit's window instead of one minute (tests watch windows change in seconds). */
  rateLimitWindowSeconds?: number;
}

export interface RunningApp {
  config: Readonly<Config>;
  log: Logger;
  connection: DatabaseConnection;
  /** The address the API listens on (`http://host:port`), null for roles without an API. */
  url: string | null;
  server: FastifyInstance | null;
  /** An API key generated on first start, to show the operator once; null otherwise. */
  generatedApiKey: string | null;
  stop(): Promise<void>;
}

/** Finds ffmpeg and ffprobe and what they can do; logs features they cannot provide. */
async function startMedia(config: Readonly<Config>, log: Logger, runner: ProcessRunner): Promise<FfmpegIngestionMedia> {
  const tools = await discoverMediaTools({
    ...(config.media.ffmpegPath ? { ffmpegPath: config.media.ffmpegPath } : {}),
    ...(config.media.ffprobePath ? { ffprobePath: config.media.ffprobePath } : {}),
    pathEnv: config.media.searchPath,
    runner,
  });
  log.info({ ffmpeg: tools.ffmpegPath, version: tools.ffmpegVersion, source: tools.source }, 'media tools found');
  for (const [feature, reason] of tools.unavailable) log.warn({ feature }, `media feature unavailable: ${reason}`);
  await fs.mkdir(config.media.workDir, { recursive: true });
  return new FfmpegIngestionMedia(runner, tools, {
    thumbnailCount: config.media.thumbnailCount,
    limits: config.media.limits,
  });
}

/** Tightens the data folder (see data-dir-permissions.ts), the embedded database's files always, and says what it changed. */
async function secureDataDir(config: Readonly<Config>, log: Logger): Promise<void> {
  const { dataDir, database } = config;
  const databaseFolder = database.kind === 'pglite' ? path.relative(dataDir, database.dataDir) : null;
  const isInside =
    databaseFolder !== null &&
    databaseFolder !== '' &&
    !databaseFolder.startsWith('..') &&
    !path.isAbsolute(databaseFolder);
  const report = await tightenDataDir(dataDir, { alwaysWalk: isInside ? [databaseFolder] : [] });
  if (report.tightened > 0) {
    log.info(
      { dataDir, tightened: report.tightened, examples: report.examples },
      'tightened the data folder: group and others can no longer read or change it (folders 0700, files 0600)',
    );
  }
  for (const failure of report.failures)
    log.warn(
      { dataDir, ...failure },
      'could not tighten the mode of an entry of the data folder: it belongs to another user',
    );
}

/** The API rate limit of `requestsPerMinute` (0: none), counted in the database. */
function rateLimitOf(db: Database, requestsPerMinute: number, windowSeconds: number): RateLimit | null {
  if (requestsPerMinute === 0) return null;
  return {
    policy: { requestsPerWindow: requestsPerMinute, windowSeconds },
    counter: createApiRequestCounter(db, windowSeconds),
  };
}

function sweepPolicy(config: Readonly<Config>): SweepPolicy {
  return {
    minAgeMs: config.storage.kind === 's3' ? config.storage.sweepMinAgeMs : Number.POSITIVE_INFINITY,
    failedRetentionMs: config.sweep.failedImportRetentionMs,
  };
}

/** Asks for an upload sweep now and every interval (the singleton job collapses the asks of all workers); returns the stop. */
function requestSweeps(
  connection: DatabaseConnection,
  queue: PgBossJobQueue,
  intervalSeconds: number,
  log: Logger,
): () => Promise<void> {
  const request = () => {
    connection.db
      .transaction((tx) => queue.send(tx, 'sweep-uploads', {}))
      .catch((error: unknown) => log.warn({ err: error }, 'could not ask for an upload sweep'));
  };
  request();
  const timer = setInterval(request, intervalSeconds * 1000);
  timer.unref();
  return async () => clearInterval(timer);
}

/**
 * The configured BlobStore; an S3 client's sockets are closed at stop. The AWS SDK is loaded only
 * for S3 storage: it adds about 25 MB to a process that stores on its own disk.
 */
async function openStore(
  config: Readonly<Config>,
  overrides: AppOverrides,
  log: Logger,
  stack: (() => Promise<void>)[],
): Promise<BlobStore> {
  if (config.storage.kind === 'fs')
    return new FsBlobStore(config.storage.rootDir, { directIo: config.storage.directIo });
  const { createS3Store } = await import('./storage/s3-client.js');
  const handle = createS3Store(config.storage, {
    connectTimeoutMs: config.outbound.connectTimeoutMs,
    idleTimeoutMs: config.outbound.idleTimeoutMs,
    ...(overrides.extraCaCertificates ? { extraCaCertificates: overrides.extraCaCertificates } : {}),
    ...(overrides.s3Credentials ? { credentials: overrides.s3Credentials } : {}),
    log: log.child({ component: 's3' }),
  });
  stack.push(async () => handle.destroy());
  return handle.store;
}

/** The live event stream's service, reading the change log and listening for its notifications. */
async function startLiveEvents(
  connection: DatabaseConnection,
  config: Readonly<Config>,
  log: Logger,
): Promise<LiveEvents> {
  const { db } = connection;
  const live = new LiveEvents({
    source: {
      horizon: () => readLiveHorizon(db),
      changes: (range) => listLiveChanges(db, range),
      videos: (teamId, videoIds) => listVideoViewsByIds(db, teamId, videoIds),
    },
    presentVideo,
    listen: (onPayload) =>
      listenOnChannel(connection, LIVE_CHANNEL, onPayload, (error) =>
        log.warn({ err: error }, 'the database connection listening for live changes broke; reconnecting'),
      ),
    prune: (before) => pruneLiveChanges(db, before),
    config: config.liveEvents,
    log,
  });
  await live.start();
  return live;
}

export async function startApp(
  config: Readonly<Config>,
  role: Role,
  overrides: AppOverrides = {},
): Promise<RunningApp> {
  const log = overrides.logger ?? createLogger({ level: config.log.level, role });
  for (const warning of config.warnings) log.warn(warning);
  const connection = await openDatabase(config.database, (error) =>
    log.warn({ err: error }, 'an idle database connection broke; it will be replaced'),
  );
  const stack: (() => Promise<void>)[] = [() => connection.close()];
  const stopAll = async () => {
    for (const stop of stack.reverse())
      await stop().catch((error: unknown) => log.error({ err: error }, 'error while stopping'));
  };
  try {
    if (role === 'serve' || role === 'migrate' || connection.kind === 'pglite') await migrateDatabase(connection);
    else await assertMigrated(connection);
    const hasApi = role === 'serve' || role === 'api';
    const hasWorker = role === 'serve' || role === 'worker';
    const { generatedApiKey } =
      role === 'worker' ? { generatedApiKey: null } : await bootstrapAdmin(connection.db, config.admin);

    const store = await openStore(config, overrides, log, stack);
    await store.checkWritable();
    await secureDataDir(config, log);
    const queue = await PgBossJobQueue.start(
      connection,
      { supervise: hasWorker || role === 'migrate', ...config.queue },
      log,
    );
    const shutdown = new AbortController();
    // A worker's ffmpeg runs are confined by prlimit (CPU time, memory) and setpriv (they die with it).
    const confinement =
      hasWorker && overrides.mediaRunner === undefined ? await findConfinement(config.media.searchPath) : null;
    if (confinement !== null && confinement.setprivPath === null)
      log.warn('setpriv (util-linux) was not found on PATH: an ffmpeg run may outlive a worker killed outright');
    const mediaRunner = overrides.mediaRunner ?? new ChildProcessRunner(confinement);
    stack.push(async () => {
      shutdown.abort(new Error('the service is shutting down'));
      await queue.stop(config.shutdownTimeoutMs);
      // Jobs abort their ffmpeg runs themselves; this ends any a job left behind past the grace period.
      if (mediaRunner instanceof ChildProcessRunner) mediaRunner.killAll();
    });
    if (role === 'migrate') {
      await stopAll();
      return { config, log, connection, url: null, server: null, generatedApiKey, stop: async () => undefined };
    }

    await warmHttpParser().catch((error: unknown) =>
      log.debug({ err: error }, 'could not warm the HTTP parser; the first outbound connection compiles it'),
    );
    const client = new OutboundClient({
      policy: { allowedPorts: new Set(config.outbound.allowedPorts), allowance: config.outbound.allowance },
      resolver: overrides.resolver ?? new SystemResolver(config.outbound.dnsTimeoutMs),
      timeouts: config.outbound,
      ...(overrides.extraCaCertificates ? { extraCaCertificates: overrides.extraCaCertificates } : {}),
    });

    const { kek, warning: kekWarning } = await resolveKeyEncryptionKey({
      configured: config.webhooks.keyEncryptionKey,
      databaseKind: connection.kind,
      dataDir: config.dataDir,
      db: connection.db,
    });
    if (kekWarning !== null) log.warn(kekWarning);
    const signingKeys = new SigningKeyRing({ db: connection.db, kek });
    await signingKeys.ensureActiveKey();
    const sealedWebhookSecrets = await sealPlaintextWebhookSecrets(connection.db, kek);
    if (sealedWebhookSecrets > 0)
      log.info({ count: sealedWebhookSecrets }, 'sealed webhook secrets an earlier version stored in plaintext');

    if (hasWorker) {
      const media = await startMedia(config, log, mediaRunner);
      // The embedded database has one process, which just started: every claim left is a dead one's.
      if (connection.kind === 'pglite') await releaseAllLeases(connection.db);
      const bell = await listenForEvents(connection, (error) =>
        log.warn(
          { err: error },
          'the database connection listening for events broke; reconnecting (webhooks are polled meanwhile)',
        ),
      );
      stack.push(() => bell.close());
      const deletions = new DeletedVideoWatch({
        db: connection.db,
        bell,
        pollIntervalMs: DELETION_POLL_INTERVAL_MS,
        log,
      });
      deletions.start();
      stack.push(async () => deletions.stop());
      const mediaJobs = {
        db: connection.db,
        store,
        queue,
        media,
        workDir: config.media.workDir,
        progressIntervalMs: config.media.progressIntervalMs,
        shutdownSignal: shutdown.signal,
        log,
        deletions,
        jobsPerTeam: config.media.jobsPerTeam,
        maxDurationMs: config.media.limits.maxDurationMs,
        hiddenPaths: [
          { text: config.media.workDir, label: '<work dir>' },
          { text: config.dataDir, label: '<data dir>' },
        ],
      };
      const webhookWorker = new WebhookWorker({
        db: connection.db,
        client,
        keys: signingKeys,
        kek,
        config: config.webhooks,
        log,
        bell,
      });
      webhookWorker.start();
      stack.push(() => webhookWorker.stop());
      await queue.work(
        {
          'copy-video': createCopyVideoHandler({
            db: connection.db,
            store,
            client,
            queue,
            copy: config.copy,
            kek,
            log,
            shutdownSignal: shutdown.signal,
          }),
          'copy-video-exhausted': createCopyVideoExhaustedHandler({ db: connection.db, log }),
          'ingest-video': createIngestVideoHandler(mediaJobs),
          'ingest-video-exhausted': createIngestVideoExhaustedHandler({ db: connection.db, log }),
          'cut-clip': createCutClipHandler(mediaJobs),
          'cut-clip-exhausted': createCutClipExhaustedHandler({ db: connection.db, log }),
          'sweep-uploads': createSweepUploadsHandler({ db: connection.db, store, policy: sweepPolicy(config), log }),
        },
        {
          concurrency: {
            'copy-video': config.copy.jobsPerWorker,
            'copy-video-exhausted': 1,
            'ingest-video': config.media.ingestJobsPerWorker,
            'ingest-video-exhausted': 1,
            'cut-clip': config.media.clipJobsPerWorker,
            'cut-clip-exhausted': 1,
            'sweep-uploads': 1,
          },
          // The queue's part of the per-team media ceiling (jobs/media-slots.ts).
          ...(config.media.jobsPerTeam === 0
            ? {}
            : { groupConcurrency: { 'ingest-video': config.media.jobsPerTeam, 'cut-clip': config.media.jobsPerTeam } }),
        },
      );
      // Every storage: besides S3's uploads, the sweep deletes expired S3 key pairs of failed imports.
      stack.push(requestSweeps(connection, queue, config.sweep.intervalSeconds, log));
    }

    let server: FastifyInstance | null = null;
    let url: string | null = null;
    if (hasApi) {
      const live = await startLiveEvents(connection, config, log);
      stack.push(() => live.stop());
      const linkKey = await loadDownloadLinkKey(connection.db, kek);
      if (linkKey.sealedNow) log.info('sealed the download-link signing key an earlier version stored in plaintext');
      const signer = new DownloadLinkSigner(linkKey.key);
      const tenancy = new TenancyService(connection.db);
      const videos = new VideoService({ db: connection.db, store, queue, signer, log });
      server = await buildServer({
        log,
        bodyLimitBytes: config.http.bodyLimitBytes,
        rateLimit: rateLimitOf(connection.db, config.http.rateLimitPerMinute, overrides.rateLimitWindowSeconds ?? 60),
        publicUrl: config.http.publicUrl,
        store,
        signer,
        tenancy,
        projects: new ProjectService(connection.db),
        imports: new VideoImportService({
          db: connection.db,
          queue,
          client,
          store,
          minPartSizeBytes: config.copy.minPartSizeBytes,
          s3: { ...config.s3Import, kek },
          log,
        }),
        videos,
        artifacts: new ArtifactService({ db: connection.db, videos, store, signer }),
        downloads: new DownloadService(connection.db),
        webhooks: new WebhookService({ db: connection.db, client, kek }),
        webApp: { dir: config.web.dir, storage: config.storage, publicUrl: config.http.publicUrl },
        live,
        readinessChecks: {
          database: () => pingDatabase(connection.db),
          queue: () => queue.ping(),
          storage: () => store.checkWritable(),
        },
      });
      const listening = server;
      // Stopped first: no new requests while the workers wind down. Requests under way (a long
      // download) get the grace period, then their connections are closed.
      stack.push(async () => {
        const cutOff = setTimeout(() => listening.server.closeAllConnections(), config.shutdownTimeoutMs);
        // Event streams never end by themselves: ended here, their connections close with the rest.
        live.closeAll();
        try {
          await listening.close();
        } finally {
          clearTimeout(cutOff);
        }
      });
      url = await server.listen({ port: config.http.port, host: config.http.host });
    }
    log.info({ database: connection.kind, url }, 'reelin started');
    return { config, log, connection, url, server, generatedApiKey, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/**
 * `reelin rotate-webhook-keys`: makes a new active signing key; the previous one stays listed and
 * valid for the configured overlap. Resolves with the new key's id and the old one's expiry.
 */
export async function rotateWebhookKeys(config: Readonly<Config>): Promise<{ keyId: string; previousExpiresAt: Date }> {
  const connection = await openDatabase(config.database);
  try {
    if (connection.kind === 'pglite') await migrateDatabase(connection);
    else await assertMigrated(connection);
    const { kek } = await resolveKeyEncryptionKey({
      configured: config.webhooks.keyEncryptionKey,
      databaseKind: connection.kind,
      dataDir: config.dataDir,
      db: connection.db,
    });
    const ring = new SigningKeyRing({ db: connection.db, kek });
    await ring.ensureActiveKey();
    const previousExpiresAt = new Date(Date.now() + config.webhooks.keyOverlapMs);
    const row = await ring.rotate(config.webhooks.keyOverlapMs);
    return { keyId: row.id, previousExpiresAt };
  } finally {
    await connection.close();
  }
}
