/**
 * Builds the S3 client and store from the configuration. Credentials come from the AWS SDK's
 * default provider chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, AWS_PROFILE,
 * web identity, container and instance metadata) unless a caller passes them (tests).
 */
import { S3Client } from '@aws-sdk/client-s3';
import type { Logger } from 'pino';
import type { S3StorageConfig } from '../config/config.js';
import type { S3Credentials } from '../domain/s3-object.js';
import { createS3HttpHandler } from '../net/s3-http-handler.js';
import { S3BlobStore, s3ClientDefaults } from './s3-blob-store.js';

export interface S3StoreOptions {
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  /** Extra trusted CA certificates (PEM); for tests whose S3 server has its own CA. */
  extraCaCertificates?: readonly string[];
  /** Explicit credentials instead of the default provider chain. */
  credentials?: S3Credentials;
  /** Where the SDK's own warnings and errors go (else the SDK writes them to the console). */
  log?: Logger;
}

export interface S3StoreHandle {
  store: S3BlobStore;
  /** Closes the client's sockets. */
  destroy(): void;
}

export function createS3Store(
  config: Omit<S3StorageConfig, 'kind' | 'sweepMinAgeMs' | 'publicEndpoint'> & { publicEndpoint?: string | null },
  options: S3StoreOptions,
): S3StoreHandle {
  const shared = {
    ...s3ClientDefaults(),
    region: config.region,
    forcePathStyle: config.forcePathStyle,
    ...(options.credentials ? { credentials: options.credentials } : {}),
  };
  const client = new S3Client({
    ...shared,
    ...(config.endpoint !== null ? { endpoint: config.endpoint } : {}),
    // The SDK logs every request at info level; those go to trace so a normal log stays readable.
    ...(options.log ? { logger: sdkLogger(options.log) } : {}),
    requestHandler: createS3HttpHandler({
      maxSockets: config.maxSockets,
      connectTimeoutMs: options.connectTimeoutMs,
      idleTimeoutMs: options.idleTimeoutMs,
      ...(options.extraCaCertificates ? { extraCaCertificates: options.extraCaCertificates } : {}),
    }),
  });
  // Pre-signing is local computation: this client only signs links for the address users reach.
  const publicEndpoint = config.publicEndpoint ?? null;
  const downloadClient = publicEndpoint === null ? client : new S3Client({ ...shared, endpoint: publicEndpoint });
  return {
    store: new S3BlobStore({ client, downloadClient, bucket: config.bucket, keyPrefix: config.keyPrefix }),
    destroy: () => {
      client.destroy();
      if (downloadClient !== client) downloadClient.destroy();
    },
  };
}

/**
 * The SDK's own log lines. Its errors repeat a failure our code reports with its context, and they
 * carry the whole command input (a part's stream internals included), so only their gist is kept.
 */
function sdkLogger(log: Logger) {
  const gist = (content: unknown[]) =>
    content.map((item) => {
      if (typeof item === 'string') return item;
      const entry = item as { commandName?: unknown; error?: { name?: unknown; message?: unknown } } | null;
      return { command: entry?.commandName, error: entry?.error?.name, message: entry?.error?.message };
    });
  return {
    trace: (...content: unknown[]) => log.trace({ sdk: gist(content) }, 'S3 client'),
    debug: (...content: unknown[]) => log.trace({ sdk: gist(content) }, 'S3 client'),
    info: (...content: unknown[]) => log.trace({ sdk: gist(content) }, 'S3 client'),
    warn: (...content: unknown[]) => log.debug({ sdk: gist(content) }, 'S3 client warning'),
    error: (...content: unknown[]) => log.debug({ sdk: gist(content) }, 'S3 client error'),
  };
}
