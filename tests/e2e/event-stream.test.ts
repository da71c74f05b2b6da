/**
 * The live event stream (issue 16) against the real service: a copy from the local HTTPS origin
 * shows up as `video` events with rising bytes, renames and deletions and webhook deliveries
 * arrive, another team's changes never do, a reconnect with Last-Event-ID gets exactly what
 * happened meanwhile, streams per key are limited, heartbeats flow, and shutdown ends streams.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertAccount, insertApiKey } from '../../src/db/queries/tenancy.queries.js';
import { hashApiKey } from '../../src/services/tenancy.service.js';
import { startE2eFixture, type E2eFixture } from '../support/e2e-fixture.js';
import { openEventStream, type EventStreamReader, type StreamEvent } from '../support/event-stream.js';
import { backends } from '../support/test-database.js';
import { until } from '../support/wait.js';

const OTHER_KEY = 'rln_stream_other_key_abcdefghijklmnopqrstuvwxyz0123';
const FILE_SIZE = 1_200_000;

const ids = (events: StreamEvent[]) => events.map((event) => Number(event.id));
const videoEventsOf = (reader: EventStreamReader, videoId: string) =>
  reader.named('video').filter((event) => event.data.id === videoId);

async function openReady(baseUrl: string, options: Parameters<typeof openEventStream>[1] = {}) {
  const { reader } = await openEventStream(baseUrl, options);
  expect(reader.status).toBe(200);
  await reader.waitFor('the ready event', (event) => event.event === 'ready');
  return reader;
}

describe.each(backends)('the live event stream (%s)', (backend) => {
  let fx: E2eFixture;
  let teamId: string;
  const readers: EventStreamReader[] = [];
  const open = async (options: Parameters<typeof openEventStream>[1] = {}) => {
    const reader = await openReady(fx.service.url, options);
    readers.push(reader);
    return reader;
  };

  async function importVideo(name: string, apiKey?: string): Promise<string> {
    const created = await fx.service.api('POST', '/api/v1/videos/in/https?maxConcurrentConnections=1', {
      body: { name, url: fx.url('/slow.mp4') },
      ...(apiKey ? { apiKey } : {}),
    });
    expect(created.status, created.text).toBe(201);
    return created.body.videoId as string;
  }

  beforeAll(async () => {
    fx = await startE2eFixture(backend, { REELIN_EVENT_STREAM_HEARTBEAT_MS: '60000' }, { webhookReceiver: true });
    fx.origin.setFile('/slow.mp4', { body: randomBytes(FILE_SIZE) });
    // About 2.4 s per copy on one connection: the copy saves progress many times (every 100 ms here).
    fx.origin.setBehaviour('/slow.mp4', { throttleBytesPerSecondPerConnection: 500_000 });
    teamId = (await fx.service.api('GET', '/api/v1/account')).body.defaultTeam.id;
    const db = fx.service.app.connection.db;
    const other = await insertAccount(db, {
      email: 'stream-other@example.com',
      userName: 'Other',
      teamName: 'Other team',
      projectName: 'Other default',
    });
    await insertApiKey(db, {
      userId: other.userId,
      name: 'other',
      description: null,
      keyHash: hashApiKey(OTHER_KEY),
      keyHint: OTHER_KEY.slice(-3),
    });
  }, 120_000);
  afterAll(async () => {
    await Promise.all(readers.map((reader) => reader.close()));
    await fx?.close();
  });

  it('answers 401 with the contract error body without an API key, and 404 for a team not the caller’s', async () => {
    const anonymous = await openEventStream(fx.service.url, { apiKey: null });
    expect(anonymous.reader.status).toBe(401);
    expect(anonymous.errorBody).toMatchObject({ statusCode: 401, errorCode: 'MISSING_API_KEY' });
    const other = await openEventStream(fx.service.url, { teamId: '00000000-0000-4000-8000-000000000000' });
    expect(other.reader.status).toBe(404);
    expect(other.errorBody).toMatchObject({ statusCode: 404, errorCode: 'TEAM_NOT_FOUND' });
  });

  it('starts with retry and ready, as an event stream that no proxy buffers', async () => {
    const reader = await open();
    expect(reader.headers['content-type']).toBe('text/event-stream');
    expect(reader.headers['cache-control']).toBe('no-cache');
    expect(reader.headers['x-accel-buffering']).toBe('no');
    expect(reader.retryMs).toBe(2000);
    const [ready] = reader.events;
    expect(ready).toMatchObject({ event: 'ready', data: { teamId } });
    expect(ready?.id).toMatch(/^[0-9]+$/);
  });

  it('shows a copy as video events whose copied bytes rise until it is DONE', async () => {
    const reader = await open();
    const videoId = await importVideo('Live copy');
    await reader.waitFor('the DONE copy', (event) => event.data.id === videoId && isUploadDone(event.data), 60_000);
    const events = videoEventsOf(reader, videoId);
    const copied = events.map((event) => event.data.upload.uploadState.bytesCopied as number);
    // Rising, through several saved checkpoints, to the whole file.
    expect(new Set(copied).size).toBeGreaterThanOrEqual(3);
    expect(copied).toEqual([...copied].sort((a, b) => a - b));
    expect(copied.at(-1)).toBe(FILE_SIZE);
    expect(events.at(-1)?.data.upload.uploadState).toMatchObject({ totalBytes: FILE_SIZE, progressPercentage: 100 });
    // Exactly the video GET /api/v1/videos/{videoId} presents.
    const read = await fx.service.api('GET', `/api/v1/videos/${videoId}`);
    await until(
      'the stream to catch up with the read',
      () => videoEventsOf(reader, videoId).at(-1)?.data,
      (data) => JSON.stringify(data) === JSON.stringify(read.body),
    );
    const all = ids(reader.events);
    expect(all).toEqual([...all].sort((a, b) => a - b));
    expect(new Set(ids(reader.events.slice(1))).size).toBe(reader.events.length - 1);
  });

  it('sends a rename as a video event and a deletion as video.deleted', async () => {
    const reader = await open();
    const videoId = await importVideo('Before');
    await fx.service.waitForUpload(videoId, 'DONE');
    const renamed = await fx.service.api('PATCH', `/api/v1/videos/${videoId}`, { body: { name: 'After' } });
    expect(renamed.status).toBe(200);
    const event = await reader.waitFor('the rename', (item) => item.data.id === videoId && item.data.name === 'After');
    expect(event.data.updatedAt).toBe(renamed.body.updatedAt);
    const deleted = await fx.service.api('DELETE', `/api/v1/videos/${videoId}`);
    expect(deleted.status).toBe(200);
    const gone = await reader.waitFor('the deletion', (item) => item.event === 'video.deleted');
    expect(gone.data).toEqual({ videoId });
    expect(Number(gone.id)).toBeGreaterThan(Number(event.id));
  });

  it('sends webhook.delivery when a delivery attempt is recorded', async () => {
    const reader = await open();
    const hook = await fx.service.api('POST', '/api/v1/webhooks', {
      body: { name: 'live', url: fx.hookUrl('/live'), eventTypes: ['video_in.done'] },
    });
    expect(hook.status, hook.text).toBe(201);
    const test = await fx.service.api('POST', `/api/v1/webhooks/${hook.body.id}/test`);
    expect(test.status, test.text).toBe(201);
    const delivery = await reader.waitFor('the delivery', (item) => item.event === 'webhook.delivery');
    expect(delivery.data).toEqual({ webhookId: hook.body.id, webhookEventId: test.body.id });
  });

  it("never sends one team's changes to another team's stream", async () => {
    const ours = await open();
    const theirs = await open({ apiKey: OTHER_KEY });
    expect(theirs.events[0]?.data.teamId).not.toBe(teamId);
    const theirVideo = await importVideo('Theirs', OTHER_KEY);
    await theirs.waitFor(
      'their copy to finish',
      (event) => event.data.id === theirVideo && isUploadDone(event.data),
      60_000,
    );
    const ourVideo = await importVideo('Ours');
    await ours.waitFor('our copy to finish', (event) => event.data.id === ourVideo && isUploadDone(event.data), 60_000);
    const foreign = ours.events.filter(
      (event) => event.data.id === theirVideo || (event.data.teamId !== undefined && event.data.teamId !== teamId),
    );
    expect(foreign).toEqual([]);
    expect(ours.named('video').every((event) => event.data.teamId === teamId)).toBe(true);
    expect(theirs.named('video').map((event) => event.data.id)).not.toContain(ourVideo);
    expect(theirs.named('video').every((event) => event.data.id === theirVideo)).toBe(true);
  });

  it('resumes from Last-Event-ID with the latest state of what changed meanwhile, and nothing before', async () => {
    const before = await importVideo('Changed before');
    const kept = await importVideo('Kept');
    const removed = await importVideo('Removed');
    // Their copies and ingestions settled: after the cursor, only what the test does changes them.
    for (const id of [before, kept, removed]) await fx.service.waitForVideo(id, hasSettled);
    const first = await open();
    const lastId = first.events.at(-1)?.id as string;
    await first.close();

    await fx.service.api('PATCH', `/api/v1/videos/${kept}`, { body: { name: 'Kept 1' } });
    await fx.service.api('PATCH', `/api/v1/videos/${kept}`, { body: { name: 'Kept 2' } });
    await fx.service.api('DELETE', `/api/v1/videos/${removed}`);

    const resumed = await open({ lastEventId: lastId });
    await resumed.waitFor('the deletion', (event) => event.event === 'video.deleted');
    expect(resumed.events[0]).toMatchObject({ event: 'ready', id: lastId });
    const ours = new Set([before, kept, removed]);
    const caughtUp = resumed.events.slice(1).filter((event) => ours.has(event.data.videoId ?? event.data.id));
    expect(caughtUp.map((event) => [event.event, event.data.videoId ?? event.data.id, event.data.name])).toEqual([
      ['video', kept, 'Kept 2'],
      ['video.deleted', removed, undefined],
    ]);
    const all = ids(resumed.events.slice(1));
    expect(all.every((id) => id > Number(lastId))).toBe(true);
    expect(all).toEqual([...all].sort((a, b) => a - b));
  });

  it('answers a cursor it never sent, or one from the future, with ready and reset', async () => {
    for (const lastEventId of ['not-a-cursor', '999999999999']) {
      const reader = await open({ lastEventId });
      await reader.waitFor('the reset', (event) => event.event === 'reset');
      expect(reader.events.map((event) => event.event)).toEqual(['ready', 'reset']);
      expect(reader.events[1]?.data.reason).toMatch(/refetch/);
    }
  });
});

describe.each(backends)('limits, heartbeats and shutdown of the live event stream (%s)', (backend) => {
  let fx: E2eFixture | null;

  beforeAll(async () => {
    fx = await startE2eFixture(backend, {
      REELIN_EVENT_STREAMS_PER_KEY: '2',
      REELIN_EVENT_STREAM_HEARTBEAT_MS: '100',
      REELIN_SHUTDOWN_TIMEOUT_MS: '5000',
    });
  }, 120_000);
  afterAll(async () => {
    await fx?.close();
  });

  it('sends a heartbeat comment at the configured interval', async () => {
    const reader = await openWhenAdmitted(fx!.service.url);
    await until(
      'two heartbeats',
      () => reader.comments.filter((comment) => comment === 'heartbeat').length,
      (n) => n >= 2,
    );
    await reader.close();
  });

  it('answers 429 with the contract error body past the streams a key may hold, and admits one again after a close', async () => {
    const url = fx!.service.url;
    const held = [await openWhenAdmitted(url), await openReady(url)];
    const refused = await openEventStream(url);
    expect(refused.reader.status).toBe(429);
    expect(refused.errorBody).toMatchObject({
      statusCode: 429,
      errorCode: 'TOO_MANY_REQUESTS',
      requestPath: '/api/v1/events/stream',
      errorDetails: { limit: 2 },
    });
    await held[0]!.close();
    const again = await openWhenAdmitted(url);
    await Promise.all([again.close(), held[1]!.close()]);
  });

  it('ends open streams promptly when the service stops', async () => {
    const reader = await openWhenAdmitted(fx!.service.url);
    const started = performance.now();
    const closing = fx!.close();
    fx = null;
    await reader.ended;
    const endedAfterMs = performance.now() - started;
    await closing;
    // Left open, a stream would hold the server's close until the 5 s shutdown timeout cut it.
    expect(endedAfterMs).toBeLessThan(2_000);
    expect(reader.events.map((event) => event.event)).toEqual(['ready']);
  });
});

/**
 * Opens a stream once the service admits it: a stream the test closed a moment ago counts against
 * the key until the service has seen its connection close.
 */
async function openWhenAdmitted(baseUrl: string): Promise<EventStreamReader> {
  const reader = await until(
    'a stream to be admitted',
    async () => (await openEventStream(baseUrl)).reader,
    (candidate) => candidate.status === 200,
    { intervalMs: 50 },
  );
  await reader.waitFor('the ready event', (event) => event.event === 'ready');
  return reader;
}

function hasSettled(video: any): boolean {
  return isUploadDone(video) && ['DONE', 'FAILED'].includes(video.ingestion.ingestionState.ingestionStatus);
}

function isUploadDone(video: any): boolean {
  return video.upload?.uploadState?.uploadStatus === 'DONE';
}
