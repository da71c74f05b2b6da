import { randomBytes, randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertAccount, insertApiKey } from '../../src/db/queries/tenancy.queries.js';
import {
  projects,
  teamMembers,
  teams,
  videoImports,
  videoIngestions,
  videos as videosTable,
} from '../../src/db/schema.js';
import { hashApiKey } from '../../src/services/tenancy.service.js';
import { startE2eFixture, type E2eFixture } from '../support/e2e-fixture.js';
import { backends } from '../support/test-database.js';
import { until } from '../support/wait.js';

const OTHER_KEY = 'rln_other_team_key_abcdefghijklmnopqrstuvwxyz012345';
const MULTI_KEY = 'rln_multi_team_key_abcdefghijklmnopqrstuvwxyz012345';
const anyRequestId = expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
const anyTimestamp = expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);

describe.each(backends)('the API contract (%s)', (backend) => {
  let fx: E2eFixture;
  let videoId: string;
  let teamId: string;
  let otherTeamId: string;

  beforeAll(async () => {
    fx = await startE2eFixture(backend);
    fx.origin.setFile('/a.mp4', { body: randomBytes(100_000) });
    const created = await fx.service.api('POST', '/api/v1/videos/in/https', {
      body: { name: 'Team A video', url: fx.url('/a.mp4') },
    });
    videoId = created.body.videoId;
    await fx.service.waitForUpload(videoId, 'DONE');
    teamId = (await fx.service.api('GET', `/api/v1/videos/${videoId}`)).body.teamId;
    const db = fx.service.app.connection.db;
    const other = await insertAccount(db, {
      email: 'other@example.com',
      userName: 'Other',
      teamName: 'Other team',
      projectName: 'Other default',
    });
    otherTeamId = other.teamId;
    await insertApiKey(db, {
      userId: other.userId,
      name: 'other',
      description: null,
      keyHash: hashApiKey(OTHER_KEY),
      keyHint: OTHER_KEY.slice(-3),
    });
  });
  afterAll(async () => {
    await fx?.close();
  });

  describe('authentication', () => {
    it('answers 401 MISSING_API_KEY with the contract error body when no key is sent', async () => {
      const response = await fx.service.api('GET', '/api/v1/videos?pageSize=2', { apiKey: null });
      expect(response.status).toBe(401);
      expect(response.body).toMatchObject({
        statusCode: 401,
        errorCode: 'MISSING_API_KEY',
        requestPath: '/api/v1/videos',
        validationErrors: [],
        errorDetails: null,
      });
      expect(response.body.requestId).toMatch(/^[0-9a-f-]{36}$/);
      expect(response.headers['x-request-id']).toBe(response.body.requestId);
      expect(new Date(response.body.timestamp).toISOString()).toBe(response.body.timestamp);
    });

    it('answers 401 INVALID_API_KEY for an unknown key, before looking at the body', async () => {
      const response = await fx.service.api('POST', '/api/v1/videos/in/https', {
        apiKey: 'rln_nope',
        rawBody: '{not json',
        headers: { 'content-type': 'application/json' },
      });
      expect(response.status).toBe(401);
      expect(response.body.errorCode).toBe('INVALID_API_KEY');
    });
  });

  describe('request validation', () => {
    const longText = (length: number) => 'x'.repeat(length);
    const length255 = 'must be 1 to 255 characters';
    it.each([
      ['an empty name', { name: '', url: 'https://example.com/a.mp4' }, [['name', length255]]],
      ['a 256-character name', { name: longText(256), url: 'https://example.com/a.mp4' }, [['name', length255]]],
      [
        'a 512-character description',
        { name: 'n', description: longText(512), url: 'https://example.com/a.mp4' },
        [['description', 'must be at most 511 characters']],
      ],
      ['an empty file name', { name: 'n', fileName: '', url: 'https://example.com/a.mp4' }, [['fileName', length255]]],
      [
        'a file name with a path separator',
        { name: 'n', fileName: '../etc/passwd', url: 'https://example.com/a.mp4' },
        [['fileName', 'must not contain /, \\ or control characters']],
      ],
      [
        'a 4097-character URL',
        { name: 'n', url: `https://example.com/${longText(4077)}` },
        [['url', 'must be 1 to 4096 characters']],
      ],
      [
        'a project id that is not a UUID',
        { name: 'n', projectId: 'abc', url: 'https://example.com/a.mp4' },
        [['projectId', 'must be a UUID']],
      ],
      [
        'neither name nor url',
        {},
        [
          ['name', 'is required'],
          ['url', 'is required'],
        ],
      ],
    ])('refuses a body with %s, naming every bad field and why', async (_label, body, expected) => {
      const response = await fx.service.api('POST', '/api/v1/videos/in/https', { body });
      expect(response.status).toBe(400);
      expect(response.body.errorCode).toBe('VALIDATION_ERROR');
      const errors = response.body.validationErrors as { field: string; message: string; value: unknown }[];
      expect(errors.map((error) => [error.field, error.message]).sort()).toEqual(expected);
      for (const error of errors) {
        // The value as sent (every one here is a string), cut to 200 characters; a missing one JSON-encoded.
        const sent = (body as Record<string, string | undefined>)[error.field];
        const quoted = sent === undefined ? 'null' : sent.length > 200 ? `${sent.slice(0, 200)}…` : sent;
        expect(error.value).toBe(quoted);
      }
    });

    it.each([
      ['maxConcurrentConnections=0', 'maxConcurrentConnections'],
      ['maxConcurrentConnections=21', 'maxConcurrentConnections'],
      ['maxConcurrentConnections=ten', 'maxConcurrentConnections'],
      ['crc32c=-1', 'crc32c'],
      ['crc32c=4294967296', 'crc32c'],
      ['crc32c=1.5', 'crc32c'],
      ['fullIngestion=yes', 'fullIngestion'],
      ['selectTeamId=team-a', 'selectTeamId'],
    ])('refuses the query %s', async (query, field) => {
      const response = await fx.service.api('POST', `/api/v1/videos/in/https?${query}`, {
        body: { name: 'n', url: fx.url('/a.mp4') },
      });
      expect(response.status).toBe(400);
      expect(response.body.errorCode).toBe('VALIDATION_ERROR');
      expect(response.body.validationErrors).toEqual([expect.objectContaining({ field, value: query.split('=')[1] })]);
    });

    it('refuses, on every operation of the document, a query parameter it does not declare', async () => {
      const paths = (await fx.service.api('GET', '/api/docs/json', { apiKey: null })).body.paths as Record<
        string,
        Record<string, unknown>
      >;
      const operations = Object.entries(paths)
        .filter(([path]) => path.startsWith('/api/v1/'))
        .flatMap(([path, methods]) => Object.keys(methods).map((method) => [method.toUpperCase(), path] as const));
      expect(operations.length).toBeGreaterThanOrEqual(35);
      for (const [method, template] of operations) {
        const path = template.replace(/\{[^}]+\}/g, randomUUID());
        const response = await fx.service.api(method as 'GET', `${path}?orderBy=name`, {
          ...(['POST', 'PATCH'].includes(method) ? { body: {} } : {}),
        });
        expect(response.status, `${method} ${template}`).toBe(400);
        expect(response.body).toEqual({
          timestamp: anyTimestamp,
          requestId: anyRequestId,
          requestPath: path,
          statusCode: 400,
          errorCode: 'VALIDATION_ERROR',
          errorCodeEnum: 'VALIDATION_ERROR',
          message: 'the request is not valid: orderBy: is not a query parameter of this operation',
          validationErrors: [
            { field: 'orderBy', value: 'name', message: 'is not a query parameter of this operation' },
          ],
          errorDetails: null,
        });
      }
    });

    it('quotes an unknown parameter named like a secret as [redacted], and a repeated one as a JSON array', async () => {
      const response = await fx.service.api('GET', '/api/v1/account?access_token=abc123&tag=a&tag=b');
      expect(response.status).toBe(400);
      expect(response.body.validationErrors).toEqual([
        { field: 'access_token', value: '[redacted]', message: 'is not a query parameter of this operation' },
        { field: 'tag', value: '["a","b"]', message: 'is not a query parameter of this operation' },
      ]);
      expect(JSON.stringify(response.body)).not.toContain('abc123');
    });

    it.each([
      ['GET', '/api/v1/videos', 'teamId={team}&projectId={uuid}&masterVideoId={uuid}&clipId={uuid}&clipMode=EXCLUDE'],
      ['GET', '/api/v1/videos/{video}/derived', 'selectTeamId={team}&teamId={team}'],
      ['GET', '/api/v1/projects', 'teamId={team}'],
      ['GET', '/api/v1/teams', ''],
      ['GET', '/api/v1/webhooks', 'teamId={team}'],
      [
        'GET',
        '/api/v1/webhooks/events',
        'teamId={team}&webhookId={uuid}&successfulMode=ONLY&testMode=EXCLUDE&occurredAtFrom=2026-01-01T00:00:00Z&occurredAtUntil=2027-01-01T00:00:00Z',
      ],
    ])('still accepts every documented parameter of %s %s', async (method, template, filters) => {
      const query = `pageNumber=0&pageSize=5&sortDirection=DESC&sortBy=updatedAt${filters === '' ? '' : `&${filters}`}`;
      const url = `${template}?${query}`
        .replaceAll('{team}', teamId)
        .replaceAll('{video}', videoId)
        .replaceAll('{uuid}', randomUUID());
      const response = await fx.service.api(method as 'GET', url);
      expect(response.status, JSON.stringify(response.body)).toBe(200);
      expect(response.body.pageSize).toBe(5);
    });

    it('still accepts the documented parameters of the single-object operations', async () => {
      const link = await fx.service.api('POST', `/api/v1/videos/${videoId}/out/https?durationMinutes=5`);
      expect(link.status).toBe(200);
      const restart = await fx.service.api('POST', `/api/v1/videos/${videoId}/in/restart?skipChecksumValidation=true`);
      expect([restart.status, restart.body.errorCode]).toEqual([409, 'VIDEO_IN_OPERATION_NOT_FAILED']);
      const status = await fx.service.api('GET', `/api/v1/videos/${videoId}/in/status?selectTeamId=${teamId}`);
      expect(status.status).toBe(200);
    });

    it('answers 400 MISSING_REQUEST_BODY to an import without a body', async () => {
      const response = await fx.service.api('POST', '/api/v1/videos/in/https', {
        headers: { 'content-type': 'application/json', 'content-length': '0' },
      });
      expect(response.status).toBe(400);
      expect(response.body.errorCode).toBe('MISSING_REQUEST_BODY');
    });

    it('answers 400 INVALID_REQUEST_BODY to malformed JSON', async () => {
      const response = await fx.service.api('POST', '/api/v1/videos/in/https', {
        rawBody: '{"name": "n",',
        headers: { 'content-type': 'application/json' },
      });
      expect(response.status).toBe(400);
      expect(response.body.errorCode).toBe('INVALID_REQUEST_BODY');
    });

    it('answers 415 UNSUPPORTED_CONTENT_TYPE to a body that is not JSON', async () => {
      const response = await fx.service.api('POST', '/api/v1/videos/in/https', {
        rawBody: 'name=n',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(response.status).toBe(415);
      expect(response.body.errorCode).toBe('UNSUPPORTED_CONTENT_TYPE');
    });

    it('answers 415 UNSUPPORTED_CONTENT_TYPE to plain text', async () => {
      const response = await fx.service.api('POST', '/api/v1/videos/in/https', {
        rawBody: 'hello',
        headers: { 'content-type': 'text/plain' },
      });
      expect(response.status).toBe(415);
      expect(response.body.errorCode).toBe('UNSUPPORTED_CONTENT_TYPE');
    });

    it('answers a malformed URL with the contract error body', async () => {
      const response = await fx.service.api('GET', '/api/v1/videos/%E0%A4%A');
      expect(response.status).toBe(400);
      expect(response.body).toMatchObject({ statusCode: 400, errorCode: 'BAD_REQUEST', validationErrors: [] });
    });

    it('answers 413 PAYLOAD_TOO_LARGE to a body over the limit', async () => {
      const response = await fx.service.api('POST', '/api/v1/videos/in/https', {
        body: { name: 'n', url: 'https://example.com/a', description: longText(70_000) },
      });
      expect(response.status).toBe(413);
      expect(response.body.errorCode).toBe('PAYLOAD_TOO_LARGE');
    });

    it('accepts body-less requests that carry Content-Type: application/json', async () => {
      const response = await fx.service.api('GET', '/api/v1/account', {
        headers: { 'content-type': 'application/json' },
      });
      expect(response.status).toBe(200);
    });

    it("answers 404 NOT_FOUND for an unknown endpoint and keeps a caller's UUID request id", async () => {
      const requestId = randomUUID();
      const response = await fx.service.api('GET', '/api/v1/nothing-here', { headers: { 'x-request-id': requestId } });
      expect(response.status).toBe(404);
      expect(response.body).toMatchObject({ errorCode: 'NOT_FOUND', requestId });
    });
  });

  describe('tenancy', () => {
    it("hides a video from another team's key on every endpoint (404, never 403)", async () => {
      const asOther = { apiKey: OTHER_KEY };
      const attempts = [
        ['GET', `/api/v1/videos/${videoId}`],
        ['PATCH', `/api/v1/videos/${videoId}`],
        ['DELETE', `/api/v1/videos/${videoId}`],
        ['GET', `/api/v1/videos/${videoId}/in/status`],
        ['POST', `/api/v1/videos/${videoId}/in/restart`],
        ['DELETE', `/api/v1/videos/${videoId}/in/abandon`],
        ['POST', `/api/v1/videos/${videoId}/out/https`],
        ['GET', `/api/v1/videos/${videoId}/derived`],
      ] as const;
      for (const [method, path] of attempts) {
        const response = await fx.service.api(method, path, {
          ...asOther,
          ...(method === 'PATCH' ? { body: { name: 'stolen' } } : {}),
        });
        expect(response.status, `${method} ${path}`).toBe(404);
        expect(response.body.errorCode).toBe('RESOURCE_NOT_FOUND');
      }
      expect((await fx.service.api('GET', '/api/v1/videos', asOther)).body.totalElements).toBe(0);
      const mine = await fx.service.api('GET', `/api/v1/videos/${videoId}`);
      expect(mine.status).toBe(200);
      expect(mine.body.name).toBe('Team A video');
    });

    it('answers 404 TEAM_NOT_FOUND when selecting a team the key owner is not a member of', async () => {
      for (const path of [
        `/api/v1/videos?teamId=${otherTeamId}`,
        `/api/v1/videos/${videoId}?selectTeamId=${otherTeamId}`,
        `/api/v1/teams/${otherTeamId}`,
        `/api/v1/projects?teamId=${randomUUID()}`,
      ]) {
        const response = await fx.service.api('GET', path);
        expect(response.status, path).toBe(404);
        expect(response.body.errorCode).toBe('TEAM_NOT_FOUND');
      }
    });

    it("refuses to import into another team's project", async () => {
      const otherProject = (await fx.service.api('GET', '/api/v1/projects/default', { apiKey: OTHER_KEY })).body.id;
      const response = await fx.service.api('POST', '/api/v1/videos/in/https', {
        body: { name: 'n', projectId: otherProject, url: fx.url('/a.mp4') },
      });
      expect(response.status).toBe(404);
      expect(response.body.errorCode).toBe('RESOURCE_NOT_FOUND');
    });
  });

  describe('objects of a second team, by id', () => {
    const asMulti = { apiKey: MULTI_KEY };
    let multiUserId: string;
    let firstTeamId: string;
    let secondTeamId: string;
    let closedTeamId: string;

    beforeAll(async () => {
      const db = fx.service.app.connection.db;
      const multi = await insertAccount(db, {
        email: 'multi@example.com',
        userName: 'Multi',
        teamName: 'First team',
        projectName: 'First default',
      });
      multiUserId = multi.userId;
      firstTeamId = multi.teamId;
      await insertApiKey(db, {
        userId: multi.userId,
        name: 'multi',
        description: null,
        keyHash: hashApiKey(MULTI_KEY),
        keyHint: MULTI_KEY.slice(-3),
      });
      const second = await insertAccount(db, {
        email: 'second-owner@example.com',
        userName: 'Second owner',
        teamName: 'Second team',
        projectName: 'Second default',
      });
      secondTeamId = second.teamId;
      await db.insert(teamMembers).values({ teamId: secondTeamId, userId: multiUserId, role: 'MEMBER' });
      // A third team of theirs without API access. Memberships are set up before the user's first
      // request: the service remembers a caller's teams for API_KEY_CACHE_TTL_MS.
      const [closed] = await db.insert(teams).values({ name: 'No API', apiEnabled: false }).returning();
      closedTeamId = closed!.id;
      await db.insert(teamMembers).values({ teamId: closedTeamId, userId: multiUserId, role: 'MEMBER' });
    });

    it('creates in the second team with selectTeamId, then reaches every object by id without it', async () => {
      const select = `?selectTeamId=${secondTeamId}`;
      const project = await fx.service.api('POST', `/api/v1/projects${select}`, {
        ...asMulti,
        body: { name: 'Second project' },
      });
      expect(project.status).toBe(201);
      expect(project.body.teamId).toBe(secondTeamId);
      const projectId: string = project.body.id;

      const created = await fx.service.api('POST', `/api/v1/videos/in/https${select}`, {
        ...asMulti,
        body: { name: 'Second team video', projectId, url: fx.url('/a.mp4') },
      });
      expect(created.status).toBe(201);
      const id: string = created.body.videoId;

      // Polled with the multi-team key and no team: the status call Pixop's client makes.
      const status = await until(
        `import ${id} to end`,
        () => fx.service.api('GET', `/api/v1/videos/${id}/in/status`, asMulti),
        (found) => found.status !== 200 || ['DONE', 'FAILED'].includes(found.body.upload?.uploadState.uploadStatus),
        { timeoutMs: 30_000, intervalMs: 50 },
      );
      expect(status.status, JSON.stringify(status.body)).toBe(200);
      expect(status.body.upload.uploadState.uploadStatus).toBe('DONE');
      expect(status.body.videoId).toBe(id);

      const video = await fx.service.api('GET', `/api/v1/videos/${id}`, asMulti);
      expect([video.status, video.body.teamId, video.body.projectId]).toEqual([200, secondTeamId, projectId]);
      const renamed = await fx.service.api('PATCH', `/api/v1/videos/${id}`, { ...asMulti, body: { name: 'Renamed' } });
      expect([renamed.status, renamed.body.name]).toEqual([200, 'Renamed']);
      const derived = await fx.service.api('GET', `/api/v1/videos/${id}/derived`, asMulti);
      expect(derived.status).toBe(200);
      expect(derived.body.totalElements).toBe(0);
      const link = await fx.service.api('POST', `/api/v1/videos/${id}/out/https`, asMulti);
      expect([link.status, link.body.videoId, link.body.fileSize]).toEqual([200, id, 100_000]);
      // Found, and refused for what the import is, not for where it lives: restart and abandon need a FAILED copy.
      for (const [method, path] of [
        ['POST', `/api/v1/videos/${id}/in/restart`],
        ['DELETE', `/api/v1/videos/${id}/in/abandon`],
      ] as const) {
        const response = await fx.service.api(method, path, asMulti);
        expect([response.status, response.body.errorCode], `${method} ${path}`).toEqual([
          409,
          'VIDEO_IN_OPERATION_NOT_FAILED',
        ]);
      }
      const thumbnails = await fx.service.api('GET', `/api/v1/videos/${id}/thumbnails`, asMulti);
      expect([thumbnails.status, thumbnails.body.errorCode]).toEqual([409, 'VIDEO_NOT_FULLY_INGESTED']);

      // Lists still default to the default team (the first one) when no team is named.
      expect((await fx.service.api('GET', '/api/v1/videos', asMulti)).body.totalElements).toBe(0);
      const listed = await fx.service.api('GET', `/api/v1/videos?teamId=${secondTeamId}`, asMulti);
      expect(listed.body.items.map((item: { id: string }) => item.id)).toEqual([id]);
      expect((await fx.service.api('GET', '/api/v1/projects/default', asMulti)).body.teamId).toBe(firstTeamId);

      const readProject = await fx.service.api('GET', `/api/v1/projects/${projectId}`, asMulti);
      expect([readProject.status, readProject.body.teamId]).toEqual([200, secondTeamId]);
      const renamedProject = await fx.service.api('PATCH', `/api/v1/projects/${projectId}`, {
        ...asMulti,
        body: { name: 'Second renamed' },
      });
      expect([renamedProject.status, renamedProject.body.name]).toEqual([200, 'Second renamed']);

      const hook = await fx.service.api('POST', `/api/v1/webhooks${select}`, {
        ...asMulti,
        body: { name: 'second', url: fx.url('/hook'), eventTypes: ['video.deleted'] },
      });
      expect([hook.status, hook.body.teamId]).toEqual([201, secondTeamId]);
      const hookId: string = hook.body.id;
      expect((await fx.service.api('GET', `/api/v1/webhooks/${hookId}`, asMulti)).status).toBe(200);
      const patchedHook = await fx.service.api('PATCH', `/api/v1/webhooks/${hookId}`, {
        ...asMulti,
        body: { name: 'second hook' },
      });
      expect([patchedHook.status, patchedHook.body.name]).toEqual([200, 'second hook']);
      const off = await fx.service.api('POST', `/api/v1/webhooks/${hookId}/deactivate`, asMulti);
      expect([off.status, off.body.active]).toEqual([200, false]);
      const on = await fx.service.api('POST', `/api/v1/webhooks/${hookId}/activate`, asMulti);
      expect([on.status, on.body.active]).toEqual([200, true]);
      const test = await fx.service.api('POST', `/api/v1/webhooks/${hookId}/test?videoId=${id}`, asMulti);
      expect([test.status, test.body.teamId, test.body.payload.data.videoId]).toEqual([201, secondTeamId, id]);
      const event = await fx.service.api('GET', `/api/v1/webhooks/events/${test.body.id}`, asMulti);
      expect([event.status, event.body.id]).toEqual([200, test.body.id]);
      expect((await fx.service.api('DELETE', `/api/v1/webhooks/${hookId}`, asMulti)).status).toBe(204);

      const deleted = await fx.service.api('DELETE', `/api/v1/videos/${id}`, asMulti);
      expect([deleted.status, deleted.body]).toEqual([200, [id]]);
      expect((await fx.service.api('DELETE', `/api/v1/projects/${projectId}`, asMulti)).status).toBe(204);
    });

    it('restarts and abandons a FAILED import of the second team by id, which 404s for anyone outside that team', async () => {
      /** An import into the second team whose copy FAILS its CRC32C check, polled as a Pixop client would. */
      const failedImport = async (name: string): Promise<string> => {
        const created = await fx.service.api('POST', `/api/v1/videos/in/https?selectTeamId=${secondTeamId}&crc32c=1`, {
          ...asMulti,
          body: { name, url: fx.url('/a.mp4') },
        });
        expect(created.status, JSON.stringify(created.body)).toBe(201);
        const id: string = created.body.videoId;
        const failed = await until(
          `import ${id} to fail`,
          () => fx.service.api('GET', `/api/v1/videos/${id}/in/status`, asMulti),
          (response) => response.status !== 200 || response.body.upload.uploadState.uploadStatus === 'FAILED',
          { timeoutMs: 30_000, intervalMs: 50 },
        );
        expect([failed.status, failed.body.upload.uploadState.error.code]).toEqual([200, 'CHECKSUM_MISMATCH']);
        return id;
      };
      const restartable = await failedImport('Second team restart');
      const abandonable = await failedImport('Second team abandon');

      for (const id of [restartable, abandonable]) {
        for (const [method, action] of [
          ['POST', 'restart'],
          ['DELETE', 'abandon'],
        ] as const) {
          const path = `/api/v1/videos/${id}/in/${action}`;
          // A user outside the second team: the import does not exist for them.
          const stranger = await fx.service.api(method, path, { apiKey: OTHER_KEY });
          expect([stranger.status, stranger.body.errorCode], `${method} ${path}`).toEqual([404, 'RESOURCE_NOT_FOUND']);
          // The importing user naming a team they are not a member of.
          const notMember = await fx.service.api(method, `${path}?selectTeamId=${otherTeamId}`, asMulti);
          expect([notMember.status, notMember.body.errorCode], `${method} ${path}`).toEqual([404, 'TEAM_NOT_FOUND']);
        }
        // The refused attempts changed nothing.
        const status = await fx.service.api('GET', `/api/v1/videos/${id}/in/status`, asMulti);
        expect(status.body.upload.uploadState.uploadStatus).toBe('FAILED');
      }

      const restarted = await fx.service.api(
        'POST',
        `/api/v1/videos/${restartable}/in/restart?skipChecksumValidation=true`,
        asMulti,
      );
      expect([restarted.status, restarted.body.videoId], JSON.stringify(restarted.body)).toEqual([200, restartable]);
      const done = await until(
        `restarted import ${restartable} to finish`,
        () => fx.service.api('GET', `/api/v1/videos/${restartable}/in/status`, asMulti),
        (response) =>
          response.status !== 200 || ['DONE', 'FAILED'].includes(response.body.upload.uploadState.uploadStatus),
        { timeoutMs: 30_000, intervalMs: 50 },
      );
      expect([done.status, done.body.upload.uploadState.uploadStatus, done.body.upload.file.size]).toEqual([
        200,
        'DONE',
        100_000,
      ]);

      const abandoned = await fx.service.api('DELETE', `/api/v1/videos/${abandonable}/in/abandon`, asMulti);
      expect([abandoned.status, abandoned.text]).toEqual([204, '']);
      const gone = await fx.service.api('GET', `/api/v1/videos/${abandonable}`, asMulti);
      expect([gone.status, gone.body.errorCode]).toEqual([404, 'RESOURCE_NOT_FOUND']);

      // Leaves the second team as it found it, for the other tests that list it.
      const deleted = await fx.service.api('DELETE', `/api/v1/videos/${restartable}`, asMulti);
      expect(deleted.status).toBe(200);
      expect(deleted.body).toContain(restartable);
    });

    it("answers 404 with the exact contract body for another user's video, project and webhook", async () => {
      const project = (await fx.service.api('GET', '/api/v1/projects/default')).body;
      const hook = await fx.service.api('POST', '/api/v1/webhooks', {
        body: { name: 'main', url: fx.url('/hook'), eventTypes: ['video.deleted'], active: false },
      });
      expect(hook.status).toBe(201);
      for (const [path, message, errorDetails] of [
        [`/api/v1/videos/${videoId}`, `video ${videoId} was not found`, { videoId }],
        [`/api/v1/videos/${videoId}/in/status`, `video ${videoId} was not found`, { videoId }],
        [`/api/v1/projects/${project.id}`, `project ${project.id} was not found`, { projectId: project.id }],
        [`/api/v1/webhooks/${hook.body.id}`, `webhook ${hook.body.id} was not found`, { webhookId: hook.body.id }],
      ] as const) {
        const response = await fx.service.api('GET', path, asMulti);
        expect(response.status, path).toBe(404);
        expect(response.body).toEqual({
          timestamp: anyTimestamp,
          requestId: anyRequestId,
          requestPath: path,
          statusCode: 404,
          errorCode: 'RESOURCE_NOT_FOUND',
          errorCodeEnum: 'RESOURCE_NOT_FOUND',
          message,
          validationErrors: [],
          errorDetails,
        });
      }
      expect((await fx.service.api('DELETE', `/api/v1/webhooks/${hook.body.id}`)).status).toBe(204);
    });

    it("answers 403 FORBIDDEN for an object in a team of the caller's without API access, as naming the team does", async () => {
      const db = fx.service.app.connection.db;
      const closed = { id: closedTeamId };
      const [project] = await db.insert(projects).values({ teamId: closed.id, name: 'Closed' }).returning();
      const path = `/api/v1/projects/${project!.id}`;
      const forbidden = {
        timestamp: anyTimestamp,
        requestId: anyRequestId,
        requestPath: path,
        statusCode: 403,
        errorCode: 'FORBIDDEN',
        errorCodeEnum: 'FORBIDDEN',
        message: `team ${closed.id} does not have API access enabled`,
        validationErrors: [],
        errorDetails: { teamId: closed.id },
      };
      const byId = await fx.service.api('GET', path, asMulti);
      expect([byId.status, byId.body]).toEqual([403, forbidden]);
      const named = await fx.service.api('GET', `${path}?selectTeamId=${closed.id}`, asMulti);
      expect([named.status, named.body]).toEqual([403, forbidden]);
      const renamed = await fx.service.api('PATCH', path, { ...asMulti, body: { name: 'Opened' } });
      expect(renamed.status).toBe(403);
      const [unchanged] = await db.select().from(projects).where(eq(projects.id, project!.id));
      expect(unchanged?.name).toBe('Closed');
    });
  });

  describe('GET /v1/videos?clipId=', () => {
    it('answers the master whose clip it is, and nothing for a master or an unknown id', async () => {
      const db = fx.service.app.connection.db;
      const [master] = await db.select().from(videosTable).where(eq(videosTable.id, videoId));
      const [clip] = await db
        .insert(videosTable)
        .values({
          teamId: master!.teamId,
          userId: master!.userId,
          projectId: master!.projectId,
          masterVideoId: videoId,
          isClip: true,
          name: 'clip',
          fileName: 'clip.mp4',
          mimeType: 'video/mp4',
        })
        .returning();
      try {
        const found = await fx.service.api('GET', `/api/v1/videos?clipId=${clip!.id}`);
        expect(found.status).toBe(200);
        expect(found.body).toMatchObject({ totalElements: 1, numberOfElements: 1 });
        expect(found.body.items.map((item: { id: string }) => item.id)).toEqual([videoId]);
        for (const other of [videoId, randomUUID()]) {
          const none = await fx.service.api('GET', `/api/v1/videos?clipId=${other}`);
          expect([none.status, none.body.totalElements, none.body.items]).toEqual([200, 0, []]);
        }
        // Another team's clip id finds nothing of theirs.
        const asOther = await fx.service.api('GET', `/api/v1/videos?clipId=${clip!.id}`, { apiKey: OTHER_KEY });
        expect(asOther.body.totalElements).toBe(0);
      } finally {
        await db.delete(videosTable).where(eq(videosTable.id, clip!.id));
      }
    });
  });

  describe('GET /v1/videos filters (extension)', () => {
    it('finds videos by the state of their copy and ingestion and by a part of their name, wildcards literal', async () => {
      const db = fx.service.app.connection.db;
      const [master] = await db.select().from(videosTable).where(eq(videosTable.id, videoId));
      const [project] = await db.insert(projects).values({ teamId: master!.teamId, name: 'Filters' }).returning();
      const projectId = project!.id;
      const insertVideo = async (name: string, masterVideoId: string | null = null) => {
        const [row] = await db
          .insert(videosTable)
          .values({
            teamId: master!.teamId,
            userId: master!.userId,
            projectId,
            masterVideoId,
            isClip: masterVideoId !== null,
            name,
            fileName: 'file.mp4',
            mimeType: 'video/mp4',
          })
          .returning();
        return row!.id;
      };
      const importOf = (id: string, status: 'DONE' | 'FAILED') => ({
        videoId: id,
        sourceUrl: 'https://origin.example/file.mp4',
        fetchUrl: 'https://origin.example/file.mp4',
        pinnedAddresses: ['203.0.113.10'],
        totalBytes: 1_000,
        partSizeBytes: 1_000,
        maxConnections: 1,
        fullIngestion: false,
        status,
      });
      const interviewFinal = await insertVideo('Interview 100% final');
      const interviewRaw = await insertVideo('interview_raw');
      const broll = await insertVideo('b-roll\\take 2');
      const interviewExtra = await insertVideo('INTERVIEWXRAW extra');
      const clip = await insertVideo('Cut', interviewFinal);
      await db
        .insert(videoImports)
        .values([
          importOf(interviewFinal, 'DONE'),
          importOf(interviewRaw, 'FAILED'),
          importOf(broll, 'DONE'),
          importOf(interviewExtra, 'DONE'),
        ]);
      const ingestionFailure = { code: 'MEDIA_UNREADABLE', message: 'no video stream', details: { streams: 0 } };
      await db.insert(videoIngestions).values([
        { videoId: interviewFinal, full: false, status: 'DONE' },
        {
          videoId: broll,
          full: false,
          status: 'FAILED',
          errorCode: ingestionFailure.code,
          errorMessage: ingestionFailure.message,
          errorDetails: ingestionFailure.details,
        },
      ]);
      const idsOf = async (query: string) => {
        const response = await fx.service.api('GET', `/api/v1/videos?projectId=${projectId}&pageSize=100&${query}`);
        expect(response.status).toBe(200);
        const ids = response.body.items.map((item: { id: string }) => item.id) as string[];
        expect(response.body.totalElements).toBe(ids.length);
        return ids.sort();
      };
      const sorted = (...ids: string[]) => ids.sort();
      try {
        expect(await idsOf('uploadStatus=FAILED')).toEqual([interviewRaw]);
        expect(await idsOf('uploadStatus=DONE')).toEqual(sorted(interviewFinal, broll, interviewExtra));
        expect(await idsOf('uploadStatus=IN_PROGRESS')).toEqual([]);
        expect(await idsOf('ingestionStatus=DONE')).toEqual([interviewFinal]);
        expect(await idsOf('ingestionStatus=FAILED')).toEqual([broll]);
        // Not ingested yet: shown INITIAL, found as INITIAL.
        expect(await idsOf('ingestionStatus=INITIAL')).toEqual(sorted(interviewRaw, interviewExtra, clip));
        expect(await idsOf('nameContains=interview')).toEqual(sorted(interviewFinal, interviewRaw, interviewExtra));
        expect(await idsOf('nameContains=INTERVIEW&uploadStatus=DONE')).toEqual(sorted(interviewFinal, interviewExtra));
        // `_` is an underscore, not any one character ("WXR" does not match).
        expect(await idsOf('nameContains=w_r')).toEqual([interviewRaw]);
        // `%` is a percent sign, not any run of characters.
        expect(await idsOf(`nameContains=${encodeURIComponent('0% f')}`)).toEqual([interviewFinal]);
        expect(await idsOf(`nameContains=${encodeURIComponent('w%a')}`)).toEqual([]);
        // `\` is a backslash, not LIKE's escape character (which would make "l\t" mean "lt").
        expect(await idsOf(`nameContains=${encodeURIComponent('l\\t')}`)).toEqual([broll]);
        expect(await idsOf(`nameContains=${encodeURIComponent('\\')}`)).toEqual([broll]);

        // The ingestion's failure reason is on the video.
        const failed = await fx.service.api('GET', `/api/v1/videos?projectId=${projectId}&ingestionStatus=FAILED`);
        expect(failed.body.items[0].ingestion.ingestionState).toMatchObject({
          ingestionStatus: 'FAILED',
          error: ingestionFailure,
        });

        for (const [query, field, value] of [
          ['uploadStatus=BROKEN', 'uploadStatus', 'BROKEN'],
          ['ingestionStatus=done', 'ingestionStatus', 'done'],
          ['nameContains=', 'nameContains', ''],
        ]) {
          const refused = await fx.service.api('GET', `/api/v1/videos?${query}`);
          expect(refused.status).toBe(400);
          expect(refused.body.errorCode).toBe('VALIDATION_ERROR');
          expect(refused.body.validationErrors).toEqual([expect.objectContaining({ field, value })]);
        }
      } finally {
        await db.delete(videosTable).where(eq(videosTable.projectId, projectId));
        await db.delete(projects).where(eq(projects.id, projectId));
      }
    });
  });

  describe('account, teams and projects', () => {
    it('shows the account with its default team', async () => {
      const response = await fx.service.api('GET', '/api/v1/account');
      expect(response.status).toBe(200);
      expect(response.body.user).toMatchObject({ email: 'admin@localhost.localdomain', hasConfirmedEmail: true });
      expect(response.body.defaultTeam).toMatchObject({ id: teamId, apiEnabled: true });
      const teams = await fx.service.api('GET', '/api/v1/teams');
      expect(teams.body).toMatchObject({ totalElements: 1, items: [{ id: teamId }] });
    });

    it("creates, lists, renames and deletes projects by the contract's rules", async () => {
      const created = await fx.service.api('POST', '/api/v1/projects', { body: { name: 'Archive 1998' } });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ name: 'Archive 1998', isSample: false, teamId });
      const tooLong = await fx.service.api('POST', '/api/v1/projects', { body: { name: 'p'.repeat(48) } });
      expect(tooLong.status).toBe(400);

      const imported = await fx.service.api('POST', '/api/v1/videos/in/https', {
        body: { name: 'In project', projectId: created.body.id, url: fx.url('/a.mp4') },
      });
      expect(imported.status).toBe(201);
      const video = (await fx.service.api('GET', `/api/v1/videos/${imported.body.videoId}`)).body;
      expect(video.projectId).toBe(created.body.id);
      const inProject = await fx.service.api('GET', `/api/v1/videos?projectId=${created.body.id}`);
      expect(inProject.body.totalElements).toBe(1);

      const busy = await fx.service.api('DELETE', `/api/v1/projects/${created.body.id}`);
      expect(busy.status).toBe(409);
      expect(busy.body.errorCode).toBe('PROJECT_WITH_VIDEOS_CANNOT_BE_DELETED');

      const defaultProject = (await fx.service.api('GET', '/api/v1/projects/default')).body;
      const keepDefault = await fx.service.api('DELETE', `/api/v1/projects/${defaultProject.id}`);
      expect(keepDefault.status).toBe(409);

      const renamed = await fx.service.api('PATCH', `/api/v1/projects/${created.body.id}`, {
        body: { name: 'Archive 1999' },
      });
      expect(renamed.body.name).toBe('Archive 1999');
      await fx.service.waitForUpload(imported.body.videoId, 'DONE');
      expect((await fx.service.api('DELETE', `/api/v1/videos/${imported.body.videoId}`)).status).toBe(200);
      expect((await fx.service.api('DELETE', `/api/v1/projects/${created.body.id}`)).status).toBe(204);
      expect((await fx.service.api('GET', `/api/v1/projects/${created.body.id}`)).status).toBe(404);
    });
  });

  describe('operations', () => {
    it('serves health, readiness and the OpenAPI document', async () => {
      expect((await fx.service.api('GET', '/healthz', { apiKey: null })).body).toEqual({ status: 'ok' });
      const ready = await fx.service.api('GET', '/readyz', { apiKey: null });
      expect(ready.status).toBe(200);
      expect(ready.body).toEqual({
        status: 'ready',
        checks: { database: { status: 'up' }, queue: { status: 'up' }, storage: { status: 'up' } },
      });
      const openapi = await fx.service.api('GET', '/api/docs/json', { apiKey: null });
      expect(openapi.status).toBe(200);
      expect(Object.keys(openapi.body.paths)).toEqual(
        expect.arrayContaining([
          '/api/v1/videos/in/https',
          '/api/v1/videos/{videoId}/in/status',
          '/api/v1/videos/{videoId}/in/restart',
          '/api/v1/videos/{videoId}/in/abandon',
          '/api/v1/videos',
          '/api/v1/videos/{videoId}',
          '/api/v1/videos/{videoId}/out/https',
        ]),
      );
      expect(
        openapi.body.paths['/api/v1/videos/in/https'].post.requestBody.content['application/json'].schema.properties.url
          .maxLength,
      ).toBe(4096);
      // The rate limit's headers, set by a hook, are documented on every API-key answer.
      expect(Object.keys(openapi.body.components.headers).sort()).toEqual([
        'Retry-After',
        'X-RateLimit-Limit',
        'X-RateLimit-Remaining',
        'X-RateLimit-Reset',
      ]);
      const listing = openapi.body.paths['/api/v1/videos'].get.responses;
      expect(listing['200'].headers).toEqual({
        'X-RateLimit-Limit': { $ref: '#/components/headers/X-RateLimit-Limit' },
        'X-RateLimit-Remaining': { $ref: '#/components/headers/X-RateLimit-Remaining' },
        'X-RateLimit-Reset': { $ref: '#/components/headers/X-RateLimit-Reset' },
      });
      const tooMany = Object.entries(
        openapi.body.paths as Record<
          string,
          Record<string, { responses: Record<string, { headers?: Record<string, unknown> }> }>
        >,
      )
        .flatMap(([, operations]) => Object.values(operations).map((operation) => operation.responses['429']))
        .filter((response) => response !== undefined);
      expect(tooMany.length).toBeGreaterThan(0);
      for (const response of tooMany)
        expect(response.headers?.['Retry-After']).toEqual({ $ref: '#/components/headers/Retry-After' });
      expect(openapi.body.paths['/healthz'].get.responses['200'].headers).toBeUndefined();
      const ui = await fx.service.api('GET', '/api/docs', { apiKey: null });
      expect([200, 302]).toContain(ui.status);
      // A browser opening the service's root gets the web application (or, unbuilt, the way to build it).
      const root = await fx.service.api('GET', '/', { apiKey: null });
      expect(root.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      if (root.status === 200) expect(root.text).toContain('<div id="root">');
      else expect(root.body).toMatchObject({ statusCode: 503, errorCode: 'SERVICE_UNAVAILABLE' });
    });
  });
});
