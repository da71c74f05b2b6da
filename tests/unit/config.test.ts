import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';

const cwd = '/srv/reelin';
const MEBIBYTE = 1024 * 1024;

function configErrorOf(environment: Record<string, string | undefined>): ConfigError {
  try {
    loadConfig(environment, cwd);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError, but the configuration loaded');
}

/** The variable names a ConfigError's problems mention, sorted. */
function problemNames(error: ConfigError): string[] {
  return error.problems.map((problem) => problem.slice(0, problem.indexOf(':'))).sort();
}

describe('loadConfig defaults', () => {
  it('builds the whole default configuration from an empty environment', () => {
    expect(loadConfig({}, cwd, 4)).toEqual({
      http: { port: 8080, host: '127.0.0.1', publicUrl: null, bodyLimitBytes: 65_536, rateLimitPerMinute: 600 },
      dataDir: '/srv/reelin/data',
      database: { kind: 'pglite', dataDir: '/srv/reelin/data/db' },
      storage: { kind: 'fs', rootDir: '/srv/reelin/data/storage', directIo: true },
      admin: { apiKey: null, email: 'admin@localhost.localdomain' },
      log: { level: 'info' },
      outbound: {
        allowance: false,
        allowedPorts: [443],
        connectTimeoutMs: 10_000,
        headersTimeoutMs: 30_000,
        idleTimeoutMs: 30_000,
        dnsTimeoutMs: 5_000,
      },
      copy: {
        jobsPerWorker: 4,
        minPartSizeBytes: 8 * MEBIBYTE,
        partAttempts: 6,
        retryBaseDelayMs: 500,
        retryMaxDelayMs: 30_000,
        retryAfterMaxMs: 300_000,
        progressIntervalMs: 1_000,
        checkpointIntervalMs: 10_000,
        sourceHostMaxConnections: 40,
      },
      media: {
        ffmpegPath: null,
        ffprobePath: null,
        searchPath: '',
        workDir: '/srv/reelin/data/work',
        ingestJobsPerWorker: 1,
        clipJobsPerWorker: 1,
        thumbnailCount: 10,
        progressIntervalMs: 1_000,
        jobsPerTeam: 2,
        limits: {
          floorMs: 60_000,
          scale: 1,
          cpuCount: 4,
          addressSpaceBytes: (2048 + 4 * 256) * MEBIBYTE,
          maxDurationMs: 48 * 3_600_000,
        },
      },
      queue: { superviseIntervalSeconds: 10, pollIntervalSeconds: 2 },
      sweep: { intervalSeconds: 3_600, failedImportRetentionMs: 7 * 86_400_000 },
      s3Import: { endpoints: [], defaultRegion: 'us-east-1' },
      webhooks: {
        keyEncryptionKey: null,
        keyRotationIntervalMs: 90 * 86_400_000,
        keyOverlapMs: 168 * 3_600_000,
        timeoutMs: 10_000,
        retryBaseDelayMs: 10_000,
        retryMaxDelayMs: 3_600_000,
        pollIntervalMs: 1_000,
      },
      // The build next to the server's output in this checkout, whatever the working folder.
      web: { dir: fileURLToPath(new URL('../../dist/web', import.meta.url)) },
      liveEvents: { streamsPerKey: 8, heartbeatMs: 15_000, retentionMs: 60 * 60_000 },
      shutdownTimeoutMs: 10_000,
      warnings: [],
    });
  });

  it('takes the web application folder from REELIN_WEB_DIR, relative to the working folder', () => {
    expect(loadConfig({ REELIN_WEB_DIR: 'public/app' }, cwd).web.dir).toBe('/srv/reelin/public/app');
    expect(loadConfig({ REELIN_WEB_DIR: '/opt/reelin-web' }, cwd).web.dir).toBe('/opt/reelin-web');
  });

  it('allows exactly port 443 by default', () => {
    expect([...loadConfig({}, cwd).outbound.allowedPorts]).toEqual([443]);
  });

  it('ignores variables it does not know', () => {
    expect(loadConfig({ HOME: '/root', PATH: '/usr/bin', REELIN_UNKNOWN: 'x' }, cwd).warnings).toEqual([]);
  });
});

describe('loadConfig paths and database', () => {
  it('resolves a relative data directory against cwd and puts the database and storage under it', () => {
    const config = loadConfig({ REELIN_DATA_DIR: '../shared/reelin' }, cwd);
    expect(config.dataDir).toBe('/srv/shared/reelin');
    expect(config.database).toEqual({ kind: 'pglite', dataDir: '/srv/shared/reelin/db' });
    expect(config.storage).toEqual({ kind: 'fs', rootDir: '/srv/shared/reelin/storage', directIo: true });
  });

  it.each([
    ['false', false],
    ['0', false],
    ['TRUE', true],
  ])('reads REELIN_FS_DIRECT_IO=%s as %s', (value, directIo) => {
    expect(loadConfig({ REELIN_FS_DIRECT_IO: value }, cwd).storage).toEqual({
      kind: 'fs',
      rootDir: '/srv/reelin/data/storage',
      directIo,
    });
  });

  it('refuses a REELIN_FS_DIRECT_IO that is not a boolean', () => {
    expect(() => loadConfig({ REELIN_FS_DIRECT_IO: 'sometimes' }, cwd)).toThrow(/REELIN_FS_DIRECT_IO: /);
  });

  it('keeps an absolute data directory whatever cwd is', () => {
    const config = loadConfig({ REELIN_DATA_DIR: '/var/lib/reelin/' }, cwd);
    expect(config.dataDir).toBe('/var/lib/reelin');
    expect(config.database).toEqual({ kind: 'pglite', dataDir: '/var/lib/reelin/db' });
  });

  it.each(['postgres://reelin:secret@db:5432/reelin', 'postgresql://db/reelin?sslmode=require'])(
    'switches to PostgreSQL for DATABASE_URL=%s',
    (url) => {
      const config = loadConfig({ DATABASE_URL: url }, cwd);
      expect(config.database).toEqual({ kind: 'postgres', url });
      expect(config.storage).toEqual({ kind: 'fs', rootDir: '/srv/reelin/data/storage', directIo: true });
    },
  );

  it('reads the HTTP settings', () => {
    const config = loadConfig(
      {
        PORT: '3000',
        HOST: '127.0.0.1',
        REELIN_PUBLIC_URL: 'https://video.example.com/base//',
        REELIN_BODY_LIMIT_BYTES: '1048576',
        REELIN_RATE_LIMIT_PER_MINUTE: '0',
      },
      cwd,
    );
    expect(config.http).toEqual({
      port: 3000,
      host: '127.0.0.1',
      publicUrl: 'https://video.example.com/base',
      bodyLimitBytes: 1_048_576,
      rateLimitPerMinute: 0,
    });
  });

  it('reads the admin key and e-mail', () => {
    const apiKey = 'k'.repeat(24);
    expect(loadConfig({ REELIN_ADMIN_API_KEY: apiKey, REELIN_ADMIN_EMAIL: 'ops@example.com' }, cwd).admin).toEqual({
      apiKey,
      email: 'ops@example.com',
    });
  });
});

describe('loadConfig validation', () => {
  it('reports every invalid variable in one ConfigError', () => {
    const error = configErrorOf({
      PORT: 'abc',
      DATABASE_URL: 'mysql://db/reelin',
      REELIN_LOG_LEVEL: 'loud',
      REELIN_ALLOW_PRIVATE_NETWORKS: '10.0.0.0/33',
      REELIN_ALLOWED_PORTS: '0,70000',
      REELIN_COPY_PART_ATTEMPTS: '0',
      REELIN_PUBLIC_URL: 'ftp://files.example.com',
    });
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.name).toBe('ConfigError');
    expect(error.problems).toHaveLength(7);
    expect(problemNames(error)).toEqual([
      'DATABASE_URL',
      'PORT',
      'REELIN_ALLOWED_PORTS',
      'REELIN_ALLOW_PRIVATE_NETWORKS',
      'REELIN_COPY_PART_ATTEMPTS',
      'REELIN_LOG_LEVEL',
      'REELIN_PUBLIC_URL',
    ]);
    expect(error.problems).toContain('PORT: must be a whole number');
    expect(error.problems).toContain('DATABASE_URL: must be a postgres:// or postgresql:// URL');
    expect(error.problems).toContain(
      'REELIN_ALLOWED_PORTS: must be a comma-separated list of ports 1..65535 (bad: 0, 70000)',
    );
    expect(error.message).toBe(
      `invalid configuration:\n${error.problems.map((problem) => `  - ${problem}`).join('\n')}`,
    );
  });

  it.each([
    ['PORT', '65536'],
    ['PORT', '-1'],
    ['PORT', '80.5'],
    ['PORT', ''],
    ['REELIN_BODY_LIMIT_BYTES', '1023'],
    ['REELIN_COPY_MIN_PART_SIZE_BYTES', '512'],
    ['REELIN_COPY_PROGRESS_INTERVAL_MS', '2001'],
    ['REELIN_COPY_CHECKPOINT_INTERVAL_MS', '60001'],
    ['REELIN_COPY_JOBS_PER_WORKER', '65'],
    ['REELIN_ADMIN_EMAIL', 'not-an-email'],
    ['HOST', ''],
  ])('rejects %s=%j', (name, value) => {
    expect(problemNames(configErrorOf({ [name]: value }))).toEqual([name]);
  });

  it('rejects a short admin key without repeating the key', () => {
    const error = configErrorOf({ REELIN_ADMIN_API_KEY: 'hunter2-secret' });
    expect(error.problems).toEqual(['REELIN_ADMIN_API_KEY: must be at least 24 characters']);
    expect(error.message).not.toContain('hunter2-secret');
  });

  it('rejects an admin key with a space', () => {
    expect(configErrorOf({ REELIN_ADMIN_API_KEY: `${'k'.repeat(24)} x` }).problems).toEqual([
      'REELIN_ADMIN_API_KEY: must be printable ASCII without spaces',
    ]);
  });
});

describe('REELIN_ALLOW_PRIVATE_NETWORKS', () => {
  it.each(['true', 'TRUE', '1', ' true '])('allows every private network for %j, with a warning', (value) => {
    const config = loadConfig({ REELIN_ALLOW_PRIVATE_NETWORKS: value }, cwd);
    expect(config.outbound.allowance).toBe(true);
    expect(config.warnings).toEqual([
      'REELIN_ALLOW_PRIVATE_NETWORKS=true: imports may reach loopback and private addresses; use this only for local development and tests',
    ]);
  });

  it.each(['false', 'FALSE', '0', '', '  '])('allows no private network for %j, without a warning', (value) => {
    const config = loadConfig({ REELIN_ALLOW_PRIVATE_NETWORKS: value }, cwd);
    expect(config.outbound.allowance).toBe(false);
    expect(config.warnings).toEqual([]);
  });

  it('allows the listed CIDR ranges, with a warning that names them', () => {
    const config = loadConfig({ REELIN_ALLOW_PRIVATE_NETWORKS: '10.0.0.0/8, FD00::/8,127.0.0.1' }, cwd);
    const allowance = config.outbound.allowance;
    expect(Array.isArray(allowance)).toBe(true);
    expect((allowance as readonly { text: string }[]).map((range) => range.text)).toEqual([
      '10.0.0.0/8',
      'fd00::/8',
      '127.0.0.1/32',
    ]);
    expect(config.warnings).toEqual([
      'REELIN_ALLOW_PRIVATE_NETWORKS allows these non-public networks: 10.0.0.0/8, fd00::/8, 127.0.0.1/32',
    ]);
  });

  it.each([
    ['a word', 'yes', 'invalid network "yes"'],
    ['a prefix too long', '10.0.0.0/33', 'the prefix length must be a whole number from 0 to 32'],
    ['host bits after the prefix', '10.0.0.1/8', 'it has bits set after the /8 prefix'],
    ['an empty entry', '10.0.0.0/8,,192.168.0.0/16', 'the list has an empty entry'],
  ])('rejects %s', (_label, value, detail) => {
    const error = configErrorOf({ REELIN_ALLOW_PRIVATE_NETWORKS: value });
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(
      /^REELIN_ALLOW_PRIVATE_NETWORKS: must be true, false or a comma-separated CIDR list: /,
    );
    expect(error.problems[0]).toContain(detail);
  });
});

describe('REELIN_ALLOWED_PORTS', () => {
  it.each([
    ['443', [443]],
    [' 443 ', [443]],
    ['443,443', [443]],
  ])('keeps the strict policy for %j, without a warning', (value, ports) => {
    const config = loadConfig({ REELIN_ALLOWED_PORTS: value }, cwd);
    expect([...config.outbound.allowedPorts]).toEqual(ports);
    expect(config.warnings).toEqual([]);
  });

  it.each([
    ['8443', [8443], '8443'],
    ['443, 8443', [443, 8443], '443,8443'],
    ['9443,443,1', [1, 443, 9443], '1,443,9443'],
    ['65535', [65535], '65535'],
  ])('allows the ports %j, with a warning that lists them in order', (value, ports, listed) => {
    const config = loadConfig({ REELIN_ALLOWED_PORTS: value }, cwd);
    expect([...config.outbound.allowedPorts]).toEqual(ports);
    expect(config.warnings).toEqual([
      `REELIN_ALLOWED_PORTS=${listed}: imports may use ports other than 443; use this only for local development and tests`,
    ]);
  });

  it.each([
    ['0', 'bad: 0'],
    ['65536', 'bad: 65536'],
    ['443,abc', 'bad: abc'],
    ['443,-1', 'bad: -1'],
    ['1.5', 'bad: 1.5'],
    ['123456', 'bad: 123456'],
    ['', 'bad: empty'],
    [' , ', 'bad: empty'],
  ])('rejects %j', (value, detail) => {
    expect(configErrorOf({ REELIN_ALLOWED_PORTS: value }).problems).toEqual([
      `REELIN_ALLOWED_PORTS: must be a comma-separated list of ports 1..65535 (${detail})`,
    ]);
  });
});

describe('warnings', () => {
  it('lists both loosenings when both are configured', () => {
    const config = loadConfig({ REELIN_ALLOW_PRIVATE_NETWORKS: 'true', REELIN_ALLOWED_PORTS: '8443' }, cwd);
    expect(config.warnings).toHaveLength(2);
    expect(config.warnings[0]).toMatch(/^REELIN_ALLOW_PRIVATE_NETWORKS=true: /);
    expect(config.warnings[1]).toMatch(/^REELIN_ALLOWED_PORTS=8443: /);
  });

  it('gives no warning for settings that do not loosen the outbound policy', () => {
    const config = loadConfig(
      { PORT: '9000', DATABASE_URL: 'postgres://db/x', REELIN_LOG_LEVEL: 'debug', REELIN_COPY_PART_ATTEMPTS: '10' },
      cwd,
    );
    expect(config.warnings).toEqual([]);
  });
});

describe('the returned configuration', () => {
  it('is frozen, nested objects and lists included', () => {
    const config = loadConfig({ REELIN_ALLOW_PRIVATE_NETWORKS: '10.0.0.0/8', REELIN_ALLOWED_PORTS: '8443' }, cwd);
    expect(Object.isFrozen(config)).toBe(true);
    for (const part of [
      config.http,
      config.database,
      config.storage,
      config.admin,
      config.log,
      config.outbound,
      config.copy,
      config.queue,
      config.warnings,
    ]) {
      expect(Object.isFrozen(part)).toBe(true);
    }
    expect(Object.isFrozen(config.outbound.allowance)).toBe(true);
  });

  it('refuses changes', () => {
    const config = loadConfig({}, cwd);
    expect(() => {
      (config.http as { port: number }).port = 1;
    }).toThrow(TypeError);
    expect(() => {
      (config.warnings as string[]).push('x');
    }).toThrow(TypeError);
    expect(config.http.port).toBe(8080);
    expect(config.warnings).toEqual([]);
  });

  it('freezes the allowed ports too', () => {
    const config = loadConfig({}, cwd);
    expect(() => {
      (config.outbound.allowedPorts as number[]).push(22);
    }).toThrow(TypeError);
    expect(config.outbound.allowedPorts).toEqual([443]);
  });

  it('is a new object on every call', () => {
    const first = loadConfig({}, cwd);
    const second = loadConfig({ PORT: '1' }, cwd);
    expect(first.http.port).toBe(8080);
    expect(second.http.port).toBe(1);
    expect(first.outbound.allowedPorts).not.toBe(second.outbound.allowedPorts);
  });
});

describe('loadConfig webhook settings', () => {
  it('reads a 32-byte base64 key-encryption key', () => {
    const key = Buffer.alloc(32, 7);
    const config = loadConfig({ REELIN_WEBHOOK_KEY_ENCRYPTION_KEY: key.toString('base64') }, cwd);
    expect(config.webhooks.keyEncryptionKey?.equals(key)).toBe(true);
  });

  it.each([
    ['text that is not base64', 'not-a-key-but-secret-text'],
    ['16 bytes of base64', Buffer.alloc(16, 1).toString('base64')],
    ['33 bytes of base64', Buffer.alloc(33, 1).toString('base64')],
  ])('refuses a key-encryption key of %s, without echoing it', (_label, value) => {
    const error = configErrorOf({ REELIN_WEBHOOK_KEY_ENCRYPTION_KEY: value });
    expect(error.problems).toEqual([
      'REELIN_WEBHOOK_KEY_ENCRYPTION_KEY: must be 32 random bytes in base64 (44 characters; e.g. `openssl rand -base64 32`)',
    ]);
    expect(error.message).not.toContain(value);
  });

  it('reads rotation days, overlap hours and delivery timings in their units', () => {
    const config = loadConfig(
      {
        REELIN_WEBHOOK_KEY_ROTATION_DAYS: '0',
        REELIN_WEBHOOK_KEY_OVERLAP_HOURS: '2',
        REELIN_WEBHOOK_TIMEOUT_MS: '1500',
        REELIN_WEBHOOK_POLL_INTERVAL_MS: '50',
      },
      cwd,
    );
    expect(config.webhooks).toMatchObject({
      keyRotationIntervalMs: 0,
      keyOverlapMs: 7_200_000,
      timeoutMs: 1500,
      pollIntervalMs: 50,
    });
  });
});

describe('loadConfig media containment settings', () => {
  it('reads the per-team ceiling, the time limits, the longest full ingestion and the memory limit in their units', () => {
    const media = loadConfig(
      {
        REELIN_MEDIA_JOBS_PER_TEAM: '3',
        REELIN_MEDIA_TIME_LIMIT_FLOOR_SECONDS: '5',
        REELIN_MEDIA_TIME_LIMIT_PERCENT: '250',
        REELIN_MEDIA_MAX_DURATION_SECONDS: '3600',
        REELIN_MEDIA_MEMORY_LIMIT_MB: '1024',
      },
      cwd,
      8,
    ).media;
    expect(media.jobsPerTeam).toBe(3);
    expect(media.limits).toEqual({
      floorMs: 5_000,
      scale: 2.5,
      cpuCount: 8,
      addressSpaceBytes: 1024 * MEBIBYTE,
      maxDurationMs: 3_600_000,
    });
  });

  it('turns the ceiling and the memory limit off with 0, and grows the default memory limit with the CPUs', () => {
    const off = loadConfig({ REELIN_MEDIA_JOBS_PER_TEAM: '0', REELIN_MEDIA_MEMORY_LIMIT_MB: '0' }, cwd, 8).media;
    expect(off.jobsPerTeam).toBe(0);
    expect(off.limits.addressSpaceBytes).toBeNull();
    expect(loadConfig({}, cwd, 1).media.limits.addressSpaceBytes).toBe(2304 * MEBIBYTE);
    expect(loadConfig({}, cwd, 64).media.limits.addressSpaceBytes).toBe((2048 + 64 * 256) * MEBIBYTE);
  });

  it.each([
    ['REELIN_MEDIA_JOBS_PER_TEAM', '-1', 'must be a whole number'],
    ['REELIN_MEDIA_JOBS_PER_TEAM', '10001', 'Too big: expected number to be <=10000'],
    ['REELIN_MEDIA_TIME_LIMIT_FLOOR_SECONDS', '0', 'Too small: expected number to be >=1'],
    ['REELIN_MEDIA_TIME_LIMIT_PERCENT', '0', 'Too small: expected number to be >=1'],
    ['REELIN_MEDIA_TIME_LIMIT_PERCENT', '1.5', 'must be a whole number'],
    ['REELIN_MEDIA_MAX_DURATION_SECONDS', '0', 'Too small: expected number to be >=1'],
    ['REELIN_MEDIA_MEMORY_LIMIT_MB', '100', 'must be 0 (no limit) or at least 256'],
    ['REELIN_MEDIA_MEMORY_LIMIT_MB', 'lots', 'must be a whole number'],
  ])('rejects %s=%s: %s', (name, value, message) => {
    expect(configErrorOf({ [name]: value }).problems).toEqual([`${name}: ${message}`]);
  });
});
