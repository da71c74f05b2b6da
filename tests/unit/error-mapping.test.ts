import Fastify, { type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { buildErrorBody, httpStatusOf, quoteValue, registerErrorHandling } from '../../src/api/errors.js';
import {
  AppError,
  contractErrorCodes,
  errorCodeEnumOf,
  pixopErrorCodes,
  serviceErrorCodes,
  type ErrorCode,
} from '../../src/domain/errors.js';

const allCodes: readonly ErrorCode[] = [...contractErrorCodes, ...serviceErrorCodes];

describe('httpStatusOf', () => {
  it('has a status for every error code of the catalog, and nothing else', () => {
    expect(Object.keys(httpStatusOf).sort()).toEqual([...allCodes].sort());
    expect(allCodes).toHaveLength(56);
  });

  it.each(allCodes)('maps %s to an HTTP error status', (code) => {
    const status = httpStatusOf[code];
    expect(Number.isInteger(status) && status >= 400 && status <= 599).toBe(true);
  });

  it.each<[ErrorCode, number]>([
    ['MISSING_API_KEY', 401],
    ['INVALID_API_KEY', 401],
    ['INVALID_CREDENTIALS', 401],
    ['UNAUTHORIZED', 401],
    ['ACCESS_DENIED', 403],
    ['FORBIDDEN', 403],
    ['TEAM_NOT_FOUND', 404],
    ['RESOURCE_NOT_FOUND', 404],
    ['NOT_FOUND', 404],
    ['VALIDATION_ERROR', 400],
    ['INVALID_INPUT', 400],
    ['INVALID_REQUEST_BODY', 400],
    ['MISSING_REQUEST_BODY', 400],
    ['BAD_REQUEST', 400],
    ['INVALID_HTTPS_URL', 400],
    ['CONTENT_NOT_PARTIAL_ERROR', 400],
    ['CONTENT_RANGE_HEADER_INVALID', 400],
    ['UNEXPECTED_CONTENT_RANGE', 400],
    ['UNSUPPORTED_CONTENT_TYPE', 415],
    ['VIDEO_IN_OPERATION_NOT_FAILED', 409],
    ['VIDEO_IN_RESTART_CHECKSUM_MISMATCH', 409],
    ['CONFLICTING_DERIVED_VIDEO_IDS', 409],
    ['CONFLICT', 409],
    ['TOO_MANY_REQUESTS', 429],
    ['PAYLOAD_TOO_LARGE', 413],
    ['HEADERS_TOO_LARGE', 431],
    ['REQUEST_TIMEOUT', 408],
    ['INTERNAL_SERVER_ERROR', 500],
    ['SERVICE_UNAVAILABLE', 503],
    ['NOT_A_VIDEO', 400],
    ['MEDIA_UNREADABLE', 400],
    ['UNSUPPORTED_MEDIA_FORMAT', 400],
    ['MEDIA_LIMIT_EXCEEDED', 400],
    ['MEDIA_PROCESSING_FAILED', 500],
    ['MEDIA_JOB_INTERRUPTED', 500],
  ])('maps %s to %d', (code, status) => {
    expect(httpStatusOf[code]).toBe(status);
  });

  it('keeps 5xx for the server-side failures only', () => {
    const serverSide = allCodes.filter((code) => httpStatusOf[code] >= 500).sort();
    expect(serverSide).toEqual([
      'COPY_INTERRUPTED',
      'INTERNAL_SERVER_ERROR',
      'MEDIA_JOB_INTERRUPTED',
      'MEDIA_PROCESSING_FAILED',
      'SERVICE_UNAVAILABLE',
    ]);
  });
});

describe('errorCodeEnum', () => {
  it('is the code itself for every contract code, all of which Pixop documents', () => {
    for (const code of contractErrorCodes) expect(errorCodeEnumOf(code)).toBe(code);
    expect(contractErrorCodes.filter((code) => !(pixopErrorCodes as readonly string[]).includes(code))).toEqual([]);
  });

  it("is absent for every one of this service's own codes", () => {
    for (const code of serviceErrorCodes) expect(errorCodeEnumOf(code)).toBeUndefined();
    expect(serviceErrorCodes.filter((code) => (pixopErrorCodes as readonly string[]).includes(code))).toEqual([]);
  });

  it.each(allCodes)('is in the error body of %s exactly when Pixop documents the code', (code) => {
    const body = buildErrorBody({
      now: new Date('2026-11-28T10:07:50.123Z'),
      requestId: 'r',
      requestPath: '/api/v1/x',
      code,
      statusCode: httpStatusOf[code],
      message: 'm',
      validationErrors: [],
      details: null,
    });
    const documented = (contractErrorCodes as readonly string[]).includes(code);
    expect('errorCodeEnum' in body).toBe(documented);
    expect(body.errorCodeEnum).toBe(documented ? code : undefined);
  });
});

describe('quoteValue', () => {
  it('sends a string as it is and JSON-encodes anything else', () => {
    expect(quoteValue('http://x')).toBe('http://x');
    expect(quoteValue('')).toBe('');
    expect(quoteValue([])).toBe('[]');
    expect(quoteValue(['video_in.done', 7])).toBe('["video_in.done",7]');
    expect(quoteValue({ a: { b: null } })).toBe('{"a":{"b":null}}');
    expect(quoteValue(42.5)).toBe('42.5');
    expect(quoteValue(false)).toBe('false');
    expect(quoteValue(null)).toBe('null');
    expect(quoteValue(undefined)).toBe('null');
  });

  it('cuts a value longer than 200 characters to 200 followed by an ellipsis', () => {
    expect(quoteValue('a'.repeat(200))).toBe('a'.repeat(200));
    expect(quoteValue('a'.repeat(201))).toBe(`${'a'.repeat(200)}…`);
    expect(quoteValue(['b'.repeat(300)])).toBe(`["${'b'.repeat(198)}…`);
  });

  it('never splits a surrogate pair when it cuts', () => {
    const quoted = quoteValue(`${'a'.repeat(199)}😀tail`);
    expect(quoted).toBe(`${'a'.repeat(199)}…`);
  });
});

describe('registerErrorHandling', () => {
  const requestId = '7d8e2f4a-1b3c-4d5e-8f9a-0b1c2d3e4f5a';
  const now = new Date('2026-11-28T10:07:50.123Z');
  let app: FastifyInstance;
  const logged: unknown[] = [];

  beforeAll(async () => {
    const typed = Fastify({
      logger: { level: 'error', stream: { write: (line: string) => logged.push(line) } },
      genReqId: () => requestId,
    }).withTypeProvider<ZodTypeProvider>();
    typed.setValidatorCompiler(validatorCompiler);
    typed.setSerializerCompiler(serializerCompiler);
    registerErrorHandling(typed);

    typed.post('/api/v1/videos/:videoId/in/restart', async () => {
      throw new AppError(
        'VIDEO_IN_OPERATION_NOT_FAILED',
        'the copy is IN_PROGRESS; only a FAILED copy can be restarted',
        { uploadStatus: 'IN_PROGRESS' },
      );
    });
    typed.get('/api/v1/teams/:teamId', async () => {
      throw new AppError('TEAM_NOT_FOUND', 'there is no team with this id among yours');
    });
    typed.post(
      '/api/v1/videos/in/https',
      {
        schema: {
          body: z.object({
            name: z.string().min(1).max(255),
            url: z.string().startsWith('https://'),
            description: z.string().max(511).optional(),
          }),
        },
      },
      async (request) => ({ ok: true, name: request.body.name }),
    );
    typed.post(
      '/api/v1/quoted',
      {
        schema: {
          body: z.object({
            name: z.string().max(255),
            secretKey: z.string().optional(),
            s3: z.object({ accessKey: z.string() }).strict().optional(),
          }),
        },
      },
      async () => ({ ok: true }),
    );
    typed.get(
      '/api/v1/videos',
      { schema: { querystring: z.object({ pageSize: z.coerce.number().int().min(1).max(100).optional() }) } },
      async () => ({ items: [] }),
    );
    typed.get('/api/v1/parse-crash', async () => JSON.parse('{internal: secret}') as unknown);
    typed.get('/api/v1/status-crash', async () => {
      throw Object.assign(new Error('db row 17 is corrupt'), { statusCode: 400 });
    });
    typed.get('/api/v1/crash', async () => {
      throw new Error('connect ECONNREFUSED 10.0.0.5:5432 at /srv/reelin/src/db/database.ts:42');
    });
    await typed.ready();
    app = typed;
  });

  afterAll(async () => {
    await app.close();
  });

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(now);
    logged.length = 0;
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('answers an AppError with its status and the contract body', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/api/v1/videos/abc/in/restart?skipChecksumValidation=true',
    });
    expect(response.statusCode).toBe(409);
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(response.json()).toEqual({
      timestamp: '2026-11-28T10:07:50.123Z',
      requestId,
      requestPath: '/api/v1/videos/abc/in/restart',
      statusCode: 409,
      errorCode: 'VIDEO_IN_OPERATION_NOT_FAILED',
      errorCodeEnum: 'VIDEO_IN_OPERATION_NOT_FAILED',
      message: 'the copy is IN_PROGRESS; only a FAILED copy can be restarted',
      validationErrors: [],
      errorDetails: { uploadStatus: 'IN_PROGRESS' },
    });
  });

  it('answers an AppError without details with errorDetails null', async () => {
    const response = await app.inject({ method: 'GET', url: '/api/v1/teams/42' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({
      statusCode: 404,
      errorCode: 'TEAM_NOT_FOUND',
      validationErrors: [],
      errorDetails: null,
    });
  });

  it('answers a body that fails the schema with VALIDATION_ERROR and one entry per bad field', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/api/v1/videos/in/https',
      payload: { name: '', url: 'http://example.com/a.mp4', description: 'fine' },
    });
    expect(response.statusCode).toBe(400);
    const body = response.json();
    expect(body).toMatchObject({
      statusCode: 400,
      errorCode: 'VALIDATION_ERROR',
      requestPath: '/api/v1/videos/in/https',
      errorDetails: null,
    });
    expect(body.validationErrors).toHaveLength(2);
    expect(body.validationErrors.map((item: { field: string }) => item.field).sort()).toEqual(['name', 'url']);
    const byField = Object.fromEntries(body.validationErrors.map((item: { field: string }) => [item.field, item]));
    expect(byField.name).toMatchObject({ field: 'name', value: '' });
    expect(byField.url).toMatchObject({ field: 'url', value: 'http://example.com/a.mp4' });
    // The schema's own messages (zod's), each under its field and joined into the summary.
    expect(byField.name.message).toBe('Too small: expected string to have >=1 characters');
    expect(byField.url.message).toBe('Invalid string: must start with "https://"');
    expect(body.message).toBe(
      'the request is not valid: name: Too small: expected string to have >=1 characters; url: Invalid string: must start with "https://"',
    );
  });

  it('reports a missing required field with the value "null"', async () => {
    const response = await app.inject({ method: 'POST', url: '/api/v1/videos/in/https', payload: { name: 'clip' } });
    expect(response.statusCode).toBe(400);
    expect(response.json().validationErrors).toEqual([{ field: 'url', value: 'null', message: expect.any(String) }]);
  });

  it.each<[string, unknown, string]>([
    ['an array', [], '[]'],
    ['an object', { nested: [1, 'two'] }, '{"nested":[1,"two"]}'],
    ['a number', 12.5, '12.5'],
    ['a long string', 'x'.repeat(300), `${'x'.repeat(200)}…`],
  ])('quotes %s given for a field as a JSON-encoded string', async (_kind, value, quoted) => {
    const response = await app.inject({
      method: 'POST',
      url: '/api/v1/quoted',
      payload: { name: value },
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().validationErrors).toEqual([{ field: 'name', value: quoted, message: expect.any(String) }]);
  });

  it('redacts a secret field whatever its type, and secrets nested in a quoted object', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/api/v1/quoted',
      payload: { name: 'ok', secretKey: ['hunter2'], s3: { accessKey: 'AKIA', secretAccessKey: 'hunter3' } },
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().validationErrors).toEqual([
      { field: 'secretKey', value: '[redacted]', message: expect.any(String) },
      { field: 's3', value: '{"accessKey":"AKIA","secretAccessKey":"[redacted]"}', message: expect.any(String) },
    ]);
    expect(response.body).not.toContain('hunter');
  });

  it('names the query field that fails the schema, with the value as sent', async () => {
    const response = await app.inject({ method: 'GET', url: '/api/v1/videos?pageSize=500' });
    expect(response.statusCode).toBe(400);
    const body = response.json();
    expect(body.errorCode).toBe('VALIDATION_ERROR');
    expect(body.requestPath).toBe('/api/v1/videos');
    expect(body.validationErrors).toEqual([{ field: 'pageSize', value: '500', message: expect.any(String) }]);
  });

  it('answers a POST without a body with MISSING_REQUEST_BODY', async () => {
    const response = await app.inject({ method: 'POST', url: '/api/v1/videos/in/https' });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({
      statusCode: 400,
      errorCode: 'MISSING_REQUEST_BODY',
      message: 'the request needs a JSON body',
      validationErrors: [],
    });
  });

  it('answers malformed JSON with INVALID_REQUEST_BODY', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/api/v1/videos/in/https',
      headers: { 'content-type': 'application/json' },
      payload: '{"name": ',
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ statusCode: 400, errorCode: 'INVALID_REQUEST_BODY', validationErrors: [] });
    expect(response.json().message).toMatch(/^the request body is not valid JSON: /);
  });

  it('answers a body that is not JSON with 415 UNSUPPORTED_CONTENT_TYPE', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/api/v1/videos/in/https',
      headers: { 'content-type': 'application/xml' },
      payload: '<video name="clip"/>',
    });
    expect(response.statusCode).toBe(415);
    expect(response.json()).toMatchObject({
      statusCode: 415,
      errorCode: 'UNSUPPORTED_CONTENT_TYPE',
      message: 'the request body must be JSON: send Content-Type: application/json',
    });
  });

  it('answers an unknown error with 500 and no trace of the original message or stack', async () => {
    const response = await app.inject({ method: 'GET', url: '/api/v1/crash' });
    expect(response.statusCode).toBe(500);
    const body = response.json();
    expect(body).toEqual({
      timestamp: '2026-11-28T10:07:50.123Z',
      requestId,
      requestPath: '/api/v1/crash',
      statusCode: 500,
      errorCode: 'INTERNAL_SERVER_ERROR',
      errorCodeEnum: 'INTERNAL_SERVER_ERROR',
      message: `an unexpected error occurred; quote request id ${requestId} when reporting it`,
      validationErrors: [],
      errorDetails: null,
    });
    expect(response.body).not.toContain('ECONNREFUSED');
    expect(response.body).not.toContain('database.ts');
    expect(response.body).not.toContain('stack');
  });

  it.each(['/api/v1/parse-crash', '/api/v1/status-crash'])(
    "answers a route's own SyntaxError or 400-flavoured error (%s) with 500, not as a client error",
    async (url) => {
      const response = await app.inject({ method: 'GET', url });
      expect(response.statusCode).toBe(500);
      expect(response.json().errorCode).toBe('INTERNAL_SERVER_ERROR');
      expect(response.body).not.toContain('secret');
      expect(response.body).not.toContain('row 17');
    },
  );

  it('logs the unknown error with the request id', async () => {
    await app.inject({ method: 'GET', url: '/api/v1/crash' });
    const lines = logged.map(
      (line) => JSON.parse(String(line)) as { reqId?: string; msg?: string; err?: { message?: string } },
    );
    const entry = lines.find((line) => line.msg === 'unexpected error');
    expect(entry?.reqId).toBe(requestId);
    expect(entry?.err?.message).toContain('ECONNREFUSED');
  });

  it('answers an unknown route with 404 NOT_FOUND', async () => {
    const response = await app.inject({ method: 'GET', url: '/api/v1/nothing-here?x=1' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({
      timestamp: '2026-11-28T10:07:50.123Z',
      requestId,
      requestPath: '/api/v1/nothing-here',
      statusCode: 404,
      errorCode: 'NOT_FOUND',
      errorCodeEnum: 'NOT_FOUND',
      message: 'there is no endpoint GET /api/v1/nothing-here',
      validationErrors: [],
      errorDetails: null,
    });
  });

  it('answers a known path with an unknown method with 404 NOT_FOUND', async () => {
    const response = await app.inject({ method: 'DELETE', url: '/api/v1/videos' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({
      errorCode: 'NOT_FOUND',
      message: 'there is no endpoint DELETE /api/v1/videos',
    });
  });
});
