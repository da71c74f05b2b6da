/**
 * The holes of issue 13, each tried through the real service the way it was found: what used to be
 * a 500 (or a routing failure, or a leak) now gets the contract's answer, asserted exactly.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import net from 'node:net';
import contentDisposition from 'content-disposition';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { teamMembers, teams } from '../../src/db/schema.js';
import { createLogger } from '../../src/logging.js';
import { startOriginServer, type OriginServer } from '../support/origin-server.js';
import { ScriptedResolver } from '../support/scripted-resolver.js';
import { backends } from '../support/test-database.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import { startTestService, TEST_API_KEY, type ApiResponse, type TestService } from '../support/test-service.js';

const ORIGIN_HOST = 'origin.reelin.test';
const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const anyRequestId = expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
const anyTimestamp = expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);

interface ExpectedError {
  status: number;
  path: string;
  code: string;
  message: string;
  validationErrors?: { field: string; value: unknown; message: string }[];
  errorDetails?: Record<string, unknown> | null;
}

/** The whole contract error body, every field. */
function expectError(response: Pick<ApiResponse<any>, 'status' | 'body' | 'headers'>, expected: ExpectedError): void {
  expect(response.status, JSON.stringify(response.body)).toBe(expected.status);
  expect(response.body).toEqual({
    timestamp: anyTimestamp,
    requestId: anyRequestId,
    requestPath: expected.path,
    statusCode: expected.status,
    errorCode: expected.code,
    // Every code these tests expect is one Pixop documents, so the body repeats it for Pixop's clients.
    errorCodeEnum: expected.code,
    message: expected.message,
    validationErrors: expected.validationErrors ?? [],
    errorDetails: expected.errorDetails ?? null,
  });
  expect(response.headers['x-request-id']).toBe(response.body.requestId);
}

const NUL_MESSAGE = 'must not contain the NUL character (U+0000)';
const nulError = (path: string, fields: [string, unknown][]): ExpectedError => ({
  status: 400,
  path,
  code: 'VALIDATION_ERROR',
  message: `the request is not valid: ${fields.map(([field]) => field).join(', ')}: ${NUL_MESSAGE}`,
  validationErrors: fields.map(([field, value]) => ({ field, value, message: NUL_MESSAGE })),
});

interface RawAnswer {
  statusLine: string;
  headers: Record<string, string>;
  body: any;
}

/** Sends bytes on a plain TCP connection and reads the answer until the server closes it. */
async function rawExchange(url: string, bytes: string): Promise<RawAnswer> {
  const { hostname, port } = new URL(url);
  const text = await new Promise<string>((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => socket.write(bytes));
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      data += chunk;
    });
    socket.on('close', () => resolve(data));
    // The server may close while we still send (a header over the limit): what it answered counts.
    socket.on('error', (error) => (data === '' ? reject(error) : resolve(data)));
  });
  const [head = '', body = ''] = text.split('\r\n\r\n');
  const [statusLine = '', ...headerLines] = head.split('\r\n');
  const headers = Object.fromEntries(
    headerLines.map((line) => [
      line.slice(0, line.indexOf(':')).toLowerCase(),
      line.slice(line.indexOf(':') + 1).trim(),
    ]),
  );
  return { statusLine, headers, body: JSON.parse(body) };
}

describe.each(backends)('closed input holes (%s)', (backend) => {
  let pki: TestPki;
  let origin: OriginServer;
  let service: TestService;
  let teamId: string;
  let videoId: string;
  let projectId: string;
  let webhookId: string;
  const logLines: string[] = [];
  const resolver = new ScriptedResolver().set(ORIGIN_HOST, ['127.0.0.1']);
  const originUrl = (path: string) => origin.url(path, ORIGIN_HOST);
  const s3Endpoint = () => `https://${ORIGIN_HOST}:${origin.port}/s3-prefix`;

  async function importFile(body: Record<string, unknown>): Promise<string> {
    const created = await service.api('POST', '/api/v1/videos/in/https', { body: { name: 'video', ...body } });
    expect(created.status, created.text).toBe(201);
    await service.waitForUpload(created.body.videoId, 'DONE');
    return created.body.videoId as string;
  }

  beforeAll(async () => {
    pki = await createTestPki();
    origin = await startOriginServer({ pki });
    service = await startTestService({
      backend,
      caCertificates: [pki.caCertPem],
      resolver,
      env: { REELIN_ALLOWED_PORTS: String(origin.port), REELIN_S3_IMPORT_ENDPOINTS: s3Endpoint() },
      logger: createLogger({
        level: 'trace',
        role: 'serve',
        destination: { write: (line: string) => void logLines.push(line) },
      }),
    });
    origin.setFile('/a.mov', { body: randomBytes(50_000) });
    videoId = await importFile({ url: originUrl('/a.mov') });
    // Its ingestion (of random bytes: it fails) ends first, so the video does not change under the tests that compare it.
    await service.waitForVideo(videoId, (video) =>
      ['DONE', 'FAILED'].includes(video.ingestion.ingestionState.ingestionStatus),
    );
    teamId = (await service.api('GET', `/api/v1/videos/${videoId}`)).body.teamId;
    const project = await service.api('POST', '/api/v1/projects', { body: { name: 'holes' } });
    projectId = project.body.id;
    const webhook = await service.api('POST', '/api/v1/webhooks', {
      body: {
        name: 'hook',
        description: 'd',
        url: originUrl('/hook'),
        eventTypes: ['video_in.done'],
        secret: SECRET,
        active: false,
      },
    });
    expect(webhook.status, webhook.text).toBe(201);
    webhookId = webhook.body.id;
  });
  afterAll(async () => {
    await service?.stop();
    await origin?.close();
    await pki?.cleanup();
  });

  describe('the NUL character', () => {
    it.each<[string, string, string, Record<string, unknown> | (() => Record<string, unknown>), [string, unknown][]]>([
      [
        'a video name',
        'POST',
        '/api/v1/videos/in/https',
        () => ({ name: 'a\u0000b', url: originUrl('/a.mov') }),
        [['name', 'a\u0000b']],
      ],
      [
        'a file name',
        'POST',
        '/api/v1/videos/in/https',
        () => ({ name: 'n', fileName: 'a\u0000.mov', url: originUrl('/a.mov') }),
        [['fileName', 'a\u0000.mov']],
      ],
      ['a project name', 'POST', '/api/v1/projects', { name: '\u0000' }, [['name', '\u0000']]],
      [
        'an object key of the body',
        'POST',
        '/api/v1/projects',
        { name: 'ok', ['na\u0000me']: 'x' },
        [['na\u0000me', 'x']],
      ],
      [
        'webhook fields, quoting no secret',
        'POST',
        '/api/v1/webhooks',
        () => ({
          name: 'n',
          description: 'd\u0000',
          url: originUrl('/hook'),
          eventTypes: ['video_in.done\u0000'],
          secret: `${SECRET}\u0000`,
        }),
        [
          ['description', 'd\u0000'],
          ['eventTypes.0', 'video_in.done\u0000'],
          ['secret', '[redacted]'],
        ],
      ],
      [
        'nested S3 fields',
        'POST',
        '/api/v1/videos/in/s3',
        {
          name: 'n',
          objectKey: 'k\u0000',
          s3Bucket: { bucket: 'bucket', accessKey: 'AK\u0000', secretAccessKey: 'S3cret\u0000' },
        },
        [
          ['objectKey', 'k\u0000'],
          ['s3Bucket.accessKey', 'AK\u0000'],
          ['s3Bucket.secretAccessKey', '[redacted]'],
        ],
      ],
    ])('refuses %s with 400 VALIDATION_ERROR naming each field', async (_label, method, path, body, fields) => {
      const response = await service.api(method, path, { body: typeof body === 'function' ? body() : body });
      expectError(response, nulError(path, fields));
    });

    it('refuses it in a PATCH of a video, a project and a webhook, changing nothing', async () => {
      const before = (await service.api('GET', `/api/v1/videos/${videoId}`)).body;
      expectError(
        await service.api('PATCH', `/api/v1/videos/${videoId}`, { body: { description: 'x\u0000y' } }),
        nulError(`/api/v1/videos/${videoId}`, [['description', 'x\u0000y']]),
      );
      expectError(
        await service.api('PATCH', `/api/v1/projects/${projectId}`, { body: { name: '\u0000' } }),
        nulError(`/api/v1/projects/${projectId}`, [['name', '\u0000']]),
      );
      expectError(
        await service.api('PATCH', `/api/v1/webhooks/${webhookId}`, {
          body: { name: 'n\u0000', secret: `${SECRET}\u0000` },
        }),
        nulError(`/api/v1/webhooks/${webhookId}`, [
          ['name', 'n\u0000'],
          ['secret', '[redacted]'],
        ]),
      );
      expect((await service.api('GET', `/api/v1/videos/${videoId}`)).body).toEqual(before);
    });

    it('refuses it in query strings and path parameters', async () => {
      expectError(
        await service.api('GET', '/api/v1/videos?sortBy=%00'),
        nulError('/api/v1/videos', [['sortBy', '\u0000']]),
      );
      expectError(
        await service.api('GET', '/api/v1/webhooks/events?occurredAtFrom=2026-01-01T00:00:00Z%00'),
        nulError('/api/v1/webhooks/events', [['occurredAtFrom', '2026-01-01T00:00:00Z\u0000']]),
      );
      expectError(
        await service.api('GET', `/api/downloads/${videoId}/a%00.mov?expires=1&signature=x`, { apiKey: null }),
        nulError(`/api/downloads/${videoId}/a%00.mov`, [['fileName', 'a\u0000.mov']]),
      );
    });

    it('left no error in the log, and no log line carries a secret or the parameters of a query', () => {
      expect(logLines.length).toBeGreaterThan(20);
      const errors = logLines.filter((line) => (JSON.parse(line) as { level: number }).level >= 50);
      expect(errors).toEqual([]);
      for (const line of logLines) {
        expect(line).not.toContain(SECRET.slice(6));
        expect(line).not.toContain('"params"');
        expect(line).not.toContain('params: ');
        expect(line).not.toContain(TEST_API_KEY);
      }
    });
  });

  describe('deeply nested JSON', () => {
    const nested = (depth: number, open: string, close: string, leaf: string) =>
      `${open.repeat(depth)}${leaf}${close.repeat(depth)}`;
    const tooDeep = (path: string): ExpectedError => ({
      status: 400,
      path,
      code: 'INVALID_REQUEST_BODY',
      message:
        'the request body nests arrays and objects more than 16 levels deep; no request of this API needs more than 2',
      errorDetails: { maxDepth: 16 },
    });

    it('answers a body nested 3,000 levels deep with 400 INVALID_REQUEST_BODY, arrays or objects', async () => {
      const headers = { 'content-type': 'application/json' };
      expectError(
        await service.api('POST', '/api/v1/projects', { rawBody: `{"name": ${nested(3000, '[', ']', '1')}}`, headers }),
        tooDeep('/api/v1/projects'),
      );
      expectError(
        await service.api('PATCH', `/api/v1/videos/${videoId}`, { rawBody: nested(3000, '{"a":', '}', '1'), headers }),
        tooDeep(`/api/v1/videos/${videoId}`),
      );
      expectError(
        await service.api('POST', '/api/v1/webhooks', {
          rawBody: `[${nested(2999, '{"x":[', ']}', '"]]]"')}]`,
          headers,
        }),
        tooDeep('/api/v1/webhooks'),
      );
    });

    it('parses 16 levels (then validates them) and refuses 17', async () => {
      const headers = { 'content-type': 'application/json' };
      const sixteen = await service.api('POST', '/api/v1/projects', {
        rawBody: `{"name": ${nested(15, '[', ']', '1')}}`,
        headers,
      });
      expect([sixteen.status, sixteen.body.errorCode, sixteen.body.validationErrors[0].field]).toEqual([
        400,
        'VALIDATION_ERROR',
        'name',
      ]);
      expectError(
        await service.api('POST', '/api/v1/projects', { rawBody: `{"name": ${nested(16, '[', ']', '1')}}`, headers }),
        tooDeep('/api/v1/projects'),
      );
      // Brackets inside strings are text, not nesting.
      const quoted = await service.api('POST', '/api/v1/projects', {
        rawBody: JSON.stringify({ name: `${'['.repeat(20)}\\"{` }),
        headers,
      });
      expect(quoted.status, quoted.text).toBe(201);
    });
  });

  describe('dates in query strings', () => {
    const outOfRange = (value: string): ExpectedError => ({
      status: 400,
      path: '/api/v1/webhooks/events',
      code: 'VALIDATION_ERROR',
      message:
        'the request is not valid: occurredAtFrom: must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z',
      validationErrors: [
        {
          field: 'occurredAtFrom',
          value,
          message: 'must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z',
        },
      ],
    });

    it.each([
      ['year 0000', '0000-01-01T00:00:00Z'],
      ['year 0001 with an offset that puts it in year 0', '0001-01-01T00:30:00+01:00'],
      ['year 9999 with an offset that puts it in year 10000', '9999-12-31T23:59:59-01:00'],
    ])('answers %s with 400 VALIDATION_ERROR', async (_label, value) => {
      expectError(
        await service.api('GET', `/api/v1/webhooks/events?occurredAtFrom=${encodeURIComponent(value)}`),
        outOfRange(value),
      );
    });

    it('answers a date that is not RFC 3339 with 400, and accepts the first and last instants', async () => {
      const malformed = await service.api('GET', '/api/v1/webhooks/events?occurredAtUntil=10000-01-01T00:00:00Z');
      expectError(malformed, {
        status: 400,
        path: '/api/v1/webhooks/events',
        code: 'VALIDATION_ERROR',
        message:
          'the request is not valid: occurredAtUntil: must be an RFC 3339 date-time with an offset, e.g. 2026-11-28T10:07:50Z',
        validationErrors: [
          {
            field: 'occurredAtUntil',
            value: '10000-01-01T00:00:00Z',
            message: 'must be an RFC 3339 date-time with an offset, e.g. 2026-11-28T10:07:50Z',
          },
        ],
      });
      const whole = await service.api(
        'GET',
        '/api/v1/webhooks/events?occurredAtFrom=0001-01-01T00:00:00Z&occurredAtUntil=9999-12-31T23:59:59.999Z',
      );
      expect([whole.status, whole.body.totalElements]).toEqual([200, 0]);
    });
  });

  describe('requests the HTTP parser refuses', () => {
    it('answers headers over 16 KiB with 431 HEADERS_TOO_LARGE in the contract body', async () => {
      const answer = await rawExchange(
        service.url,
        `GET /api/v1/videos?pageSize=2 HTTP/1.1\r\nHost: x\r\nX-API-Key: ${TEST_API_KEY}\r\nX-Filler: ${'x'.repeat(20_000)}\r\n\r\n`,
      );
      expect(answer.statusLine).toBe('HTTP/1.1 431 Request Header Fields Too Large');
      expect(answer.headers).toMatchObject({
        'content-type': 'application/json; charset=utf-8',
        'x-request-id': answer.body.requestId,
        'x-content-type-options': 'nosniff',
        connection: 'close',
      });
      expect(answer.body).toEqual({
        timestamp: anyTimestamp,
        requestId: anyRequestId,
        requestPath: '/api/v1/videos',
        statusCode: 431,
        errorCode: 'HEADERS_TOO_LARGE',
        message: 'the request line and headers are larger than 16 KiB: send a shorter URL or fewer headers',
        validationErrors: [],
        errorDetails: null,
      });
    });

    it('answers a URL over 16 KiB with 431, without quoting it', async () => {
      const answer = await rawExchange(
        service.url,
        `GET /api/v1/videos/${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
      );
      expect(answer.statusLine).toBe('HTTP/1.1 431 Request Header Fields Too Large');
      expect(answer.body).toMatchObject({
        requestPath: '',
        statusCode: 431,
        errorCode: 'HEADERS_TOO_LARGE',
        validationErrors: [],
        errorDetails: null,
      });
    });

    it.each([
      [
        'a malformed request line',
        'GET /api/v1/account HTTP/1.1 extra\r\nHost: x\r\n\r\n',
        'HPE_INVALID_VERSION',
        '/api/v1/account',
      ],
      [
        'a header name with a space',
        'GET /api/v1/account HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n',
        'HPE_INVALID_HEADER_TOKEN',
        '/api/v1/account',
      ],
      ['an unknown method', 'FETCH!ME /api/v1/account HTTP/1.1\r\nHost: x\r\n\r\n', 'HPE_INVALID_METHOD', ''],
    ])('answers %s with 400 BAD_REQUEST in the contract body', async (_label, bytes, parserCode, requestPath) => {
      const answer = await rawExchange(service.url, bytes);
      expect(answer.statusLine).toBe('HTTP/1.1 400 Bad Request');
      expect(answer.body).toEqual({
        timestamp: anyTimestamp,
        requestId: anyRequestId,
        requestPath,
        statusCode: 400,
        errorCode: 'BAD_REQUEST',
        errorCodeEnum: 'BAD_REQUEST',
        message: `the request is not valid HTTP/1.1 (${parserCode}): check the request line and headers`,
        validationErrors: [],
        errorDetails: null,
      });
      expect(answer.headers['x-request-id']).toBe(answer.body.requestId);
      expect(
        logLines.some(
          (line) =>
            line.includes(answer.body.requestId) && line.includes('refused a request the HTTP parser could not read'),
        ),
      ).toBe(true);
    });
  });

  describe('download links', () => {
    it('are relative without REELIN_PUBLIC_URL, whatever Host the request names', async () => {
      const link = await service.api('POST', `/api/v1/videos/${videoId}/out/https`, {
        headers: { host: 'attacker.example', 'x-forwarded-host': 'attacker.example' },
      });
      expect(link.status).toBe(200);
      expect(link.body.presignedUrl).toMatch(
        new RegExp(`^/api/downloads/${videoId}/a\\.mov\\?expires=[0-9]+&signature=[A-Za-z0-9_-]{43}$`),
      );
    });

    it('cover the file name: a link with another name is 403 ACCESS_DENIED', async () => {
      const link = (await service.api('POST', `/api/v1/videos/${videoId}/out/https`)).body.presignedUrl as string;
      const tampered = link.replace('/a.mov?', '/a.html?');
      const path = tampered.split('?')[0] ?? '';
      for (const method of ['GET', 'HEAD']) {
        const response = await service.api(method, tampered, { apiKey: null });
        if (method === 'GET') {
          expectError(response, {
            status: 403,
            path,
            code: 'ACCESS_DENIED',
            message: 'the download link is not valid: request a new one with POST /api/v1/videos/{videoId}/out/https',
          });
        } else {
          expect(response.status).toBe(403);
        }
        expect(response.headers['x-content-type-options']).toBe('nosniff');
      }
    });

    it('send X-Content-Type-Options: nosniff on whole, ranged and HEAD answers', async () => {
      const link = (await service.api('POST', `/api/v1/videos/${videoId}/out/https`)).body.presignedUrl as string;
      const whole = await request(`${service.url}${link}`);
      await whole.body.dump();
      const ranged = await request(`${service.url}${link}`, { headers: { range: 'bytes=0-9' } });
      await ranged.body.dump();
      const head = await request(`${service.url}${link}`, { method: 'HEAD' });
      await head.body.dump();
      expect([whole.statusCode, ranged.statusCode, head.statusCode]).toEqual([200, 206, 200]);
      for (const answer of [whole, ranged, head]) expect(answer.headers['x-content-type-options']).toBe('nosniff');
    });

    it.each([
      ['255 two-byte characters', `${'é'.repeat(251)}.mov`],
      ['255 three-byte characters', `${'映'.repeat(251)}.mp4`],
      ['255 characters with spaces and percent signs', `${'a% b'.repeat(62)}abc.mov`],
    ])('work for a file name of %s', async (_label, fileName) => {
      expect(fileName).toHaveLength(255);
      const bytes = randomBytes(3000);
      origin.setFile('/long.mov', { body: bytes });
      const id = await importFile({ url: originUrl('/long.mov'), fileName });
      const link = (await service.api('POST', `/api/v1/videos/${id}/out/https`)).body;
      expect(link.suggestedFileName).toBe(fileName);
      const answer = await request(`${service.url}${link.presignedUrl}`);
      expect(answer.statusCode).toBe(200);
      expect(Buffer.from(await answer.body.arrayBuffer()).equals(bytes)).toBe(true);
      expect(contentDisposition.parse(String(answer.headers['content-disposition'])).parameters.filename).toBe(
        fileName,
      );
    });

    it.each(['.', '..'])('refuses the file name %j, which a link could not carry', async (fileName) => {
      const response = await service.api('POST', '/api/v1/videos/in/https', {
        body: { name: 'n', fileName, url: originUrl('/a.mov') },
      });
      expectError(response, {
        status: 400,
        path: '/api/v1/videos/in/https',
        code: 'VALIDATION_ERROR',
        message: 'the request is not valid: fileName: must not be . or ..',
        validationErrors: [{ field: 'fileName', value: fileName, message: 'must not be . or ..' }],
      });
    });
  });

  describe('a team without API access', () => {
    it('answers PATCH /v1/teams/{id} with 403 FORBIDDEN, as every other route does, and changes nothing', async () => {
      const db = service.app.connection.db;
      const [closed] = await db.insert(teams).values({ name: 'No API', apiEnabled: false }).returning();
      const userId = (await service.api('GET', '/api/v1/account')).body.user.id;
      await db.insert(teamMembers).values({ teamId: closed!.id, userId, role: 'MEMBER' });
      const path = `/api/v1/teams/${closed!.id}`;
      const forbidden = {
        status: 403,
        path,
        code: 'FORBIDDEN',
        message: `team ${closed!.id} does not have API access enabled`,
        errorDetails: { teamId: closed!.id },
      };
      expectError(await service.api('PATCH', path, { body: { freeClipEnabled: false } }), forbidden);
      expectError(await service.api('PATCH', path), forbidden);
      expectError(await service.api('GET', `/api/v1/projects?teamId=${closed!.id}`), {
        ...forbidden,
        path: '/api/v1/projects',
      });
      const team = await service.api('GET', path);
      expect([team.status, team.body.freeClipEnabled, team.body.apiEnabled]).toEqual([200, true, false]);
    });
  });

  describe('S3 object keys', () => {
    const dotSegment =
      'must not have a . or .. segment: URL parsers resolve them as path steps, which would leave the bucket';
    const s3Body = (objectKey: string) => ({
      name: 'n',
      objectKey,
      s3Bucket: { bucket: 'masters', accessKey: 'AK', secretAccessKey: 'SK', endpoint: s3Endpoint() },
    });

    it.each(['../other-bucket/x', '..', 'a/./b', 'a/..', './x'])(
      'refuses the key %j with 400 before any request',
      async (objectKey) => {
        origin.resetStats();
        expectError(await service.api('POST', '/api/v1/videos/in/s3', { body: s3Body(objectKey) }), {
          status: 400,
          path: '/api/v1/videos/in/s3',
          code: 'VALIDATION_ERROR',
          message: `the request is not valid: objectKey: ${dotSegment}`,
          validationErrors: [{ field: 'objectKey', value: objectKey, message: dotSegment }],
        });
        expect(origin.stats.requests).toEqual([]);
      },
    );

    it.each([
      ['a/%2e%2e/b', '/s3-prefix/masters/a/%252e%252e/b'],
      ['%2E%2E/x', '/s3-prefix/masters/%252E%252E/x'],
      ['.%2e/y', '/s3-prefix/masters/.%252e/y'],
      ['..x/...', '/s3-prefix/masters/..x/...'],
      ['a\\..\\b', '/s3-prefix/masters/a%5C..%5Cb'],
    ])("sends the key %j inside the bucket under the endpoint's prefix, as %s", async (objectKey, sentPath) => {
      origin.resetStats();
      const response = await service.api('POST', '/api/v1/videos/in/s3', { body: s3Body(objectKey) });
      // The origin is no S3 service: it answers 404, which is the object missing.
      expect([response.status, response.body.errorCode], response.text).toEqual([404, 'RESOURCE_NOT_FOUND']);
      const paths = origin.stats.requests.map((record) => `${record.method} ${record.path}`);
      expect(paths).toEqual([`HEAD ${sentPath}`, `GET ${sentPath}`]);
    });
  });

  describe('request URLs in the log', () => {
    it('have signatures and key-, token- and signature-like query values redacted', async () => {
      const values = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
      const listed = await service.api(
        'GET',
        `/api/v1/videos?apiKey=${values[0]}&pageSize=2&access_token=${values[1]}&X-Amz-Signature=${values[2]}&X-Amz-Credential=${values[3]}`,
      );
      // None of them is a parameter of the list, so it is refused; the URL is logged all the same.
      expect(listed.status).toBe(400);
      const link = (await service.api('POST', `/api/v1/videos/${videoId}/out/https`)).body.presignedUrl as string;
      const signature = new URL(link, service.url).searchParams.get('signature') ?? '';
      const expires = new URL(link, service.url).searchParams.get('expires') ?? '';
      expect((await service.api('GET', link, { apiKey: null })).status).toBe(200);
      // A request is logged once answered (its response finished), which may be just after the client
      // has read it; earlier tests downloaded this video too, so the wait is for this link's own line.
      const loggedUrls = () =>
        logLines
          .map((line) => JSON.parse(line) as { req?: { url?: string } })
          .flatMap((entry) => (entry.req?.url ? [entry.req.url] : []));
      const downloadUrl = `${link.split('?')[0]}?expires=${expires}&signature=[redacted]`;
      await vi.waitFor(() => expect(loggedUrls()).toContain(downloadUrl), { timeout: 10_000 });

      expect(loggedUrls()).toContain(
        '/api/v1/videos?apiKey=[redacted]&pageSize=2&access_token=[redacted]&X-Amz-Signature=[redacted]&X-Amz-Credential=[redacted]',
      );
      for (const line of logLines) {
        for (const value of [...values, signature]) expect(line).not.toContain(value);
      }
    });
  });

  describe('request bodies', () => {
    it('delete a video without a body, with the expected derived ids, and refuse a wrong list with 409', async () => {
      const first = await importFile({ url: originUrl('/a.mov') });
      const second = await importFile({ url: originUrl('/a.mov') });
      const wrong = randomUUID();
      expectError(await service.api('DELETE', `/api/v1/videos/${first}`, { body: [wrong] }), {
        status: 409,
        path: `/api/v1/videos/${first}`,
        code: 'CONFLICTING_DERIVED_VIDEO_IDS',
        message: `video ${first} has derived videos [], not the [${wrong}] given: list exactly the derived videos to delete`,
        errorDetails: { derivedVideoIds: [] },
      });
      const withList = await service.api('DELETE', `/api/v1/videos/${first}`, { body: [] });
      expect([withList.status, withList.body]).toEqual([200, [first]]);
      const without = await service.api('DELETE', `/api/v1/videos/${second}`, {
        headers: { 'content-type': 'application/json', 'content-length': '0' },
      });
      expect([without.status, without.body]).toEqual([200, [second]]);
    });

    it('say in the OpenAPI document that the DELETE body and every PATCH body are optional', async () => {
      const document = (await service.api('GET', '/api/docs/json', { apiKey: null })).body;
      const deletion = document.paths['/api/v1/videos/{videoId}'].delete.requestBody;
      expect(deletion.required).toBe(false);
      expect(JSON.stringify(deletion.content['application/json'].schema)).toContain('"type":"array"');
      const patches = Object.entries(document.paths as Record<string, Record<string, any>>).flatMap(
        ([path, operations]) => (operations.patch ? [[path, operations.patch.requestBody.required]] : []),
      );
      expect(patches.sort()).toEqual([
        ['/api/v1/projects/{projectId}', false],
        ['/api/v1/teams/{teamId}', false],
        ['/api/v1/videos/{videoId}', false],
        ['/api/v1/webhooks/{webhookId}', false],
      ]);
      for (const path of Object.keys(document.paths)) {
        for (const operation of Object.values(document.paths[path] as Record<string, any>)) {
          if (
            operation.requestBody !== undefined &&
            ![
              '/api/v1/videos/{videoId}',
              '/api/v1/teams/{teamId}',
              '/api/v1/projects/{projectId}',
              '/api/v1/webhooks/{webhookId}',
            ].includes(path)
          ) {
            expect(operation.requestBody.required, path).toBe(true);
          }
        }
      }
    });

    it.each<[string, () => string]>([
      ['a video', () => `/api/v1/videos/${videoId}`],
      ['a project', () => `/api/v1/projects/${projectId}`],
      ['a team', () => `/api/v1/teams/${teamId}`],
      ['a webhook', () => `/api/v1/webhooks/${webhookId}`],
    ])('answer an empty PATCH of %s with 200 and the object unchanged, updatedAt included', async (_label, path) => {
      const before = await service.api('GET', path());
      expect(before.status).toBe(200);
      const empty = await service.api('PATCH', path(), {
        headers: { 'content-type': 'application/json', 'content-length': '0' },
      });
      const bare = await service.api('PATCH', path());
      const emptyObject = await service.api('PATCH', path(), { body: {} });
      for (const answer of [empty, bare, emptyObject]) expect([answer.status, answer.body]).toEqual([200, before.body]);
      expect((await service.api('GET', path())).body).toEqual(before.body);
    });
  });
});
