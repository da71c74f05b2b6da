import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';

const cwd = '/srv/reelin';

function problemsOf(environment: Record<string, string>): string[] {
  try {
    loadConfig(environment, cwd);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError, but the configuration loaded');
}

describe('S3 storage configuration', () => {
  it('keeps the filesystem store by default and ignores S3 settings then', () => {
    expect(loadConfig({ REELIN_S3_BUCKET: 'unused' }, cwd).storage).toEqual({
      kind: 'fs',
      rootDir: '/srv/reelin/data/storage',
      directIo: true,
    });
  });

  it('builds the S3 section with its defaults from REELIN_STORAGE=s3 and a bucket', () => {
    expect(loadConfig({ REELIN_STORAGE: 's3', REELIN_S3_BUCKET: 'videos' }, cwd).storage).toEqual({
      kind: 's3',
      bucket: 'videos',
      region: 'us-east-1',
      endpoint: null,
      publicEndpoint: null,
      forcePathStyle: false,
      keyPrefix: '',
      maxSockets: 80,
      sweepMinAgeMs: 86_400_000,
    });
  });

  it('reads every S3 setting', () => {
    expect(
      loadConfig(
        {
          REELIN_STORAGE: 's3',
          REELIN_S3_BUCKET: 'media.example-1',
          REELIN_S3_REGION: 'auto',
          REELIN_S3_ENDPOINT: 'http://minio.internal:9000/',
          REELIN_S3_PUBLIC_ENDPOINT: 'https://media.example.com/',
          REELIN_S3_FORCE_PATH_STYLE: 'TRUE',
          REELIN_S3_KEY_PREFIX: 'reelin/prod//',
          REELIN_S3_MAX_SOCKETS: '32',
          REELIN_S3_SWEEP_INTERVAL_SECONDS: '600',
          REELIN_S3_SWEEP_MIN_AGE_SECONDS: '7200',
          REELIN_S3_FAILED_UPLOAD_RETENTION_HOURS: '48',
          REELIN_COPY_JOBS_PER_WORKER: '2',
        },
        cwd,
      ),
    ).toMatchObject({
      sweep: { intervalSeconds: 600, failedImportRetentionMs: 48 * 3_600_000 },
      storage: {
        kind: 's3',
        bucket: 'media.example-1',
        region: 'auto',
        endpoint: 'http://minio.internal:9000',
        publicEndpoint: 'https://media.example.com',
        forcePathStyle: true,
        keyPrefix: 'reelin/prod/',
        maxSockets: 32,
        sweepMinAgeMs: 7_200_000,
      },
    });
  });

  it('sweeps every storage: the retention of FAILED imports also holds with the filesystem store', () => {
    expect(loadConfig({}, cwd).sweep).toEqual({ intervalSeconds: 3_600, failedImportRetentionMs: 7 * 86_400_000 });
    expect(
      loadConfig({ REELIN_S3_FAILED_UPLOAD_RETENTION_HOURS: '2', REELIN_S3_SWEEP_INTERVAL_SECONDS: '60' }, cwd).sweep,
    ).toEqual({ intervalSeconds: 60, failedImportRetentionMs: 7_200_000 });
  });

  it('sizes the S3 connection pool at 20 per copy job when not set', () => {
    const storage = loadConfig(
      { REELIN_STORAGE: 's3', REELIN_S3_BUCKET: 'videos', REELIN_COPY_JOBS_PER_WORKER: '3' },
      cwd,
    ).storage;
    expect(storage.kind === 's3' && storage.maxSockets).toBe(60);
  });

  it('requires a bucket with REELIN_STORAGE=s3, reported together with the other problems', () => {
    expect(problemsOf({ REELIN_STORAGE: 's3', PORT: 'eighty' })).toEqual([
      'PORT: must be a whole number',
      'REELIN_S3_BUCKET: is required when REELIN_STORAGE=s3',
    ]);
  });

  it.each([
    ['REELIN_STORAGE', 'gcs'],
    ['REELIN_S3_ENDPOINT', 'ftp://minio:21'],
    ['REELIN_S3_ENDPOINT', 'minio:9000'],
    ['REELIN_S3_FORCE_PATH_STYLE', 'yes'],
    ['REELIN_S3_KEY_PREFIX', '/absolute'],
    ['REELIN_S3_KEY_PREFIX', 'a/../b'],
    ['REELIN_S3_KEY_PREFIX', 'a//b'],
    ['REELIN_S3_BUCKET', 'no spaces'],
    ['REELIN_S3_REGION', 'US East'],
    ['REELIN_S3_SWEEP_INTERVAL_SECONDS', '5'],
  ])('refuses %s=%s', (name, value) => {
    const problems = problemsOf({ REELIN_STORAGE: 's3', REELIN_S3_BUCKET: 'videos', [name]: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]?.startsWith(`${name}: `)).toBe(true);
  });
});
