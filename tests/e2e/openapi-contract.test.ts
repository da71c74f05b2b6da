import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startE2eFixture, type E2eFixture } from '../support/e2e-fixture.js';
import { openEventStream } from '../support/event-stream.js';
import { ContractChecker, openApiDocument } from '../support/openapi-contract.js';
import { backends } from '../support/test-database.js';
import type { ApiResponse } from '../support/test-service.js';

const MISSING = '00000000-0000-4000-8000-000000000000';

/** Operations whose 2xx this suite cannot reach, and why; their error bodies are still checked. */
const WITHOUT_2XX: Record<string, string> = {
  createMasterVideoFromS3: 'needs an S3 service (tests/e2e/s3-import.test.ts)',
  getVideoThumbnails: 'needs a full ingestion with ffmpeg (tests/e2e/ingestion.test.ts)',
  getVideoFullFrames: 'needs a full ingestion with ffmpeg',
  generateWebVideoDownloadUrl: 'needs a full ingestion with ffmpeg',
  getVideoArtifactFileHeaders: 'needs a full ingestion with ffmpeg',
  downloadVideoArtifactFile: 'needs a full ingestion with ffmpeg',
};

describe.each(backends)('responses match the OpenAPI document (%s)', (backend) => {
  let fx: E2eFixture;
  const checker = new ContractChecker();

  async function call(
    method: string,
    url: string,
    status: number,
    options: { body?: unknown; apiKey?: string | null; headers?: Record<string, string> } = {},
  ): Promise<ApiResponse<any>> {
    const response = await fx.service.api(method, url, options);
    expect(response.status, `${method} ${url}: ${response.text}`).toBe(status);
    checker.check(method, url, response);
    return response;
  }

  beforeAll(async () => {
    fx = await startE2eFixture(backend, {}, { webhookReceiver: true });
    fx.origin.setFile('/a.mp4', { body: randomBytes(50_000) });
  });
  afterAll(async () => {
    await fx?.close();
  });

  it('answers the operations on accounts, teams and projects as documented', async () => {
    await call('GET', '/healthz', 200, { apiKey: null });
    await call('GET', '/readyz', 200, { apiKey: null });
    await call('GET', '/healthz?x=%00', 400, { apiKey: null });
    const account = await call('GET', '/api/v1/account', 200);
    await call('GET', '/api/v1/account', 401, { apiKey: null });
    const teamId = account.body.defaultTeam.id as string;
    await call('GET', '/api/v1/teams?pageSize=5', 200);
    await call('GET', '/api/v1/teams?pageSize=0', 400);
    await call('GET', `/api/v1/teams/${teamId}`, 200);
    await call('GET', `/api/v1/teams/${MISSING}`, 404);
    await call('PATCH', `/api/v1/teams/${teamId}`, 200, { body: { freeClipEnabled: false } });
    const project = await call('POST', '/api/v1/projects', 201, { body: { name: 'Contract' } });
    await call('POST', '/api/v1/projects', 400, { body: { name: '' } });
    await call('GET', '/api/v1/projects?sortDirection=DESC', 200);
    await call('GET', '/api/v1/projects/default', 200);
    await call('GET', `/api/v1/projects/${project.body.id}`, 200);
    await call('GET', `/api/v1/projects/${MISSING}`, 404);
    await call('PATCH', `/api/v1/projects/${project.body.id}`, 200, { body: { name: 'Renamed' } });
    await call('DELETE', `/api/v1/projects/${project.body.id}`, 204);
  });

  it('answers the operations on imports, videos and downloads as documented', async () => {
    const created = await call('POST', '/api/v1/videos/in/https?maxConcurrentConnections=2', 201, {
      body: { name: 'Contract video', url: fx.url('/a.mp4'), fileName: 'a.mp4' },
    });
    await call('POST', '/api/v1/videos/in/https?maxConcurrentConnections=x', 400, {
      body: { name: 'x', url: fx.url('/a.mp4') },
    });
    await call('POST', '/api/v1/videos/in/s3', 400, { body: { name: 'x', objectKey: 'a' } });
    const videoId = created.body.videoId as string;
    await fx.service.waitForUpload(videoId, 'DONE');
    await call('GET', `/api/v1/videos/${videoId}/in/status`, 200);
    await call('GET', `/api/v1/videos/${MISSING}/in/status`, 404);
    await call('POST', `/api/v1/videos/${videoId}/in/restart`, 409);
    await call('DELETE', `/api/v1/videos/${videoId}/in/abandon`, 409);

    // A wrong CRC32C fails the copy: one such import is restarted, another abandoned.
    for (const action of ['restart', 'abandon']) {
      const failing = await call('POST', '/api/v1/videos/in/https?crc32c=1', 201, {
        body: { name: `Mismatch ${action}`, url: fx.url('/a.mp4') },
      });
      const id = failing.body.videoId as string;
      await fx.service.waitForUpload(id, 'FAILED');
      if (action === 'restart') await call('POST', `/api/v1/videos/${id}/in/restart?skipChecksumValidation=true`, 200);
      else await call('DELETE', `/api/v1/videos/${id}/in/abandon`, 204);
    }

    await call('GET', '/api/v1/videos?pageSize=100&clipMode=EXCLUDE', 200);
    await call('GET', '/api/v1/videos?unknown=1', 400);
    await call('GET', `/api/v1/videos/${videoId}`, 200);
    await call('GET', '/api/v1/videos/not-a-uuid', 400);
    await call('PATCH', `/api/v1/videos/${videoId}`, 200, { body: { description: 'described' } });
    await call('GET', `/api/v1/videos/${videoId}/derived`, 200);
    await call('GET', `/api/v1/videos/${videoId}/thumbnails`, 409);
    await call('GET', `/api/v1/videos/${videoId}/full-frames`, 409);
    await call('POST', `/api/v1/videos/${videoId}/web-video/out/https`, 409);

    const link = await call('POST', `/api/v1/videos/${videoId}/out/https?durationMinutes=5`, 200);
    await call('POST', `/api/v1/videos/${videoId}/out/https?durationMinutes=61`, 400);
    const url = link.body.presignedUrl as string;
    await call('HEAD', url, 200, { apiKey: null });
    await call('GET', url, 200, { apiKey: null });
    await call('GET', url, 206, { apiKey: null, headers: { range: 'bytes=0-9' } });
    await call('GET', url, 416, { apiKey: null, headers: { range: 'bytes=90000-' } });
    await call('HEAD', url.replace('/a.mp4?', '/b.mp4?'), 403, { apiKey: null });
    await call('GET', url.replace('/a.mp4?', '/b.mp4?'), 403, { apiKey: null });
    const artifactPath = `/api/downloads/${videoId}/artifacts/${MISSING}/a.jpg?expires=1&signature=x`;
    await call('GET', artifactPath, 403, { apiKey: null });
    await call('HEAD', artifactPath, 403, { apiKey: null });

    await call('DELETE', `/api/v1/videos/${videoId}`, 200);
    await call('DELETE', `/api/v1/videos/${videoId}`, 404);
  });

  it('answers the operations on webhooks as documented', async () => {
    const hook = await call('POST', '/api/v1/webhooks', 201, {
      body: { name: 'hook', url: fx.hookUrl('/hook'), eventTypes: ['video_in.started', 'video_in.done'] },
    });
    await call('POST', '/api/v1/webhooks', 400, { body: { name: 'hook', url: fx.hookUrl('/hook'), eventTypes: [] } });
    const id = hook.body.id as string;
    await call('GET', '/api/v1/webhooks', 200);
    await call('GET', `/api/v1/webhooks/${id}`, 200);
    await call('GET', `/api/v1/webhooks/${MISSING}`, 404);
    await call('PATCH', `/api/v1/webhooks/${id}`, 200, { body: { name: 'renamed' } });
    await call('POST', `/api/v1/webhooks/${id}/deactivate`, 200);
    await call('POST', `/api/v1/webhooks/${id}/test`, 409);
    await call('POST', `/api/v1/webhooks/${id}/activate`, 200);
    const event = await call('POST', `/api/v1/webhooks/${id}/test?eventType=video_in.done`, 201);
    await call('GET', `/api/v1/webhooks/events?testMode=ONLY&webhookId=${id}`, 200);
    await call('GET', '/api/v1/webhooks/events?occurredAtFrom=yesterday', 400);
    await call('GET', `/api/v1/webhooks/events/${event.body.id}`, 200);
    const keys = await call('GET', '/api/v1/webhooks/public-keys', 200);
    expect(keys.body.length).toBeGreaterThan(0);
    await call('GET', `/api/v1/webhooks/public-keys/${keys.body[0].id}`, 200);
    await call('GET', `/api/v1/webhooks/public-keys/${MISSING}`, 404);
    await call('DELETE', `/api/v1/webhooks/${id}`, 204);
  });

  it('answers the live event stream as documented: an event stream, or a JSON error before it starts', async () => {
    const { reader } = await openEventStream(fx.service.url);
    try {
      expect(reader.status).toBe(200);
      // The body never ends; the checker checks status and type (a text/event-stream has no JSON schema).
      checker.check('GET', '/api/v1/events/stream', { status: 200, headers: reader.headers, body: null, text: '' });
      await reader.waitFor('the ready event', (event) => event.event === 'ready');
    } finally {
      await reader.close();
    }
    await call('GET', '/api/v1/events/stream', 401, { apiKey: null });
    await call('GET', `/api/v1/events/stream?teamId=${MISSING}`, 404);
  });

  it('answers every /api/v1 operation given an unknown query parameter with the documented 400', async () => {
    for (const [template, byMethod] of Object.entries(openApiDocument.paths)) {
      if (!template.startsWith('/api/v1/')) continue;
      for (const method of Object.keys(byMethod)) {
        const response = await call(
          method.toUpperCase(),
          `${template.replace(/\{[^}]+\}/g, MISSING)}?unknownFilter=1`,
          400,
        );
        expect(response.body.validationErrors).toEqual([
          { field: 'unknownFilter', value: '1', message: 'is not a query parameter of this operation' },
        ]);
      }
    }
  });

  it('has seen a 2xx of every operation but those listed, and an error body of every /api/v1 operation', () => {
    const operations = Object.values(openApiDocument.paths).flatMap((byMethod) =>
      Object.values(byMethod).map((operation) => operation.operationId),
    );
    const statuses = (id: string) => [...(checker.seen.get(id) ?? [])];
    expect(operations.filter((id) => !statuses(id).some((status) => status < 300)).sort()).toEqual(
      Object.keys(WITHOUT_2XX).sort(),
    );
    const apiOperations = Object.entries(openApiDocument.paths)
      .filter(([path]) => path.startsWith('/api/v1/'))
      .flatMap(([, byMethod]) => Object.values(byMethod).map((operation) => operation.operationId));
    const withoutError = apiOperations.filter((id) => !statuses(id).some((status) => status >= 400));
    expect(withoutError.sort()).toEqual([]);
  });
});
