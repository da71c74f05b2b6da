/**
 * The live event stream across processes, on PostgreSQL: two `api` processes and a `worker`
 * process, each a real child process. A copy the worker runs reaches the streams open on both API
 * processes (the worker's progress saves commit to the change log, whose NOTIFY wakes every API
 * process), with its copied bytes rising to the whole file.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChildServices, callApi, childEnvironment } from '../support/child-service.js';
import { openEventStream, type EventStreamReader } from '../support/event-stream.js';
import { startOriginServer, type OriginServer } from '../support/origin-server.js';
import { createPostgresTestDatabase, type PostgresTestDatabase } from '../support/test-database.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';

const API_KEY = 'rln_stream_processes_key_abcdefghijklmnopqrstuvwxyz';
const FILE_SIZE = 2 * 1024 * 1024;

describe.runIf(process.env.TEST_DATABASE_URL)('the live event stream with API and worker in separate processes', () => {
  let pki: TestPki;
  let origin: OriginServer;
  let workDir: string;
  let database: PostgresTestDatabase;
  const children = new ChildServices(() => workDir);
  const readers: EventStreamReader[] = [];

  beforeAll(async () => {
    pki = await createTestPki();
    origin = await startOriginServer({ pki });
    origin.setFile('/master.mov', { body: randomBytes(FILE_SIZE) });
    origin.setBehaviour('/master.mov', { throttleBytesPerSecondPerConnection: 700_000 });
    workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-stream-'));
    database = await createPostgresTestDatabase();
  });
  afterAll(async () => {
    await Promise.all(readers.map((reader) => reader.close()));
    await children.killAll();
    await database?.drop();
    await origin?.close();
    await pki?.cleanup();
    await fs.rm(workDir, { recursive: true, force: true });
  });

  it("brings a worker's copy progress to streams on every API process", async () => {
    const env = childEnvironment(
      {
        dataDir: workDir,
        apiKey: API_KEY,
        caCertPath: pki.caCertPath,
        allowedPorts: [origin.port],
        databaseUrl: database.url,
      },
      {
        REELIN_COPY_MIN_PART_SIZE_BYTES: String(256 * 1024),
        REELIN_COPY_PROGRESS_INTERVAL_MS: '200',
        REELIN_COPY_CHECKPOINT_INTERVAL_MS: '200',
      },
    );
    await children.start('migrate', env);
    const apis = [await children.start('api', env), await children.start('api', env)];
    await children.start('worker', env);
    for (const api of apis) {
      const { reader } = await openEventStream(api.url ?? '', { apiKey: API_KEY });
      readers.push(reader);
      expect(reader.status).toBe(200);
      await reader.waitFor('the ready event', (event) => event.event === 'ready');
    }

    const created = await callApi(apis[0]?.url ?? '', API_KEY, 'POST', '/api/v1/videos/in/https', {
      name: 'Across processes',
      url: origin.url('/master.mov', '127.0.0.1'),
    });
    expect(created.status).toBe(201);
    const videoId = created.body.videoId as string;

    for (const reader of readers) {
      await reader.waitFor(
        'the DONE copy',
        (event) => event.data.id === videoId && event.data.upload?.uploadState.uploadStatus === 'DONE',
        60_000,
      );
      const copied = reader
        .named('video')
        .filter((event) => event.data.id === videoId)
        .map((event) => event.data.upload.uploadState.bytesCopied as number);
      expect(new Set(copied).size).toBeGreaterThanOrEqual(3);
      expect(copied).toEqual([...copied].sort((a, b) => a - b));
      expect(copied.at(-1)).toBe(FILE_SIZE);
    }
  }, 120_000);
});
