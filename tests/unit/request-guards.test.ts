import Fastify from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { jsonDepthExceeds } from '../../src/api/body-parsing.js';
import { clientErrorResponse } from '../../src/api/client-errors.js';
import { healthRoutes } from '../../src/api/health.routes.js';
import { findNulCharacters, nulCharacterError } from '../../src/api/input-guards.js';
import { queryDateTime } from '../../src/api/schemas.js';

describe('jsonDepthExceeds', () => {
  it.each([
    ['a scalar', '1', 0, false],
    ['an empty object at its limit', '{}', 1, false],
    ['an object in an array past a limit of 1', '[{}]', 1, true],
    ['sixteen arrays at a limit of 16', `${'['.repeat(16)}${']'.repeat(16)}`, 16, false],
    ['seventeen arrays at a limit of 16', `${'['.repeat(17)}${']'.repeat(17)}`, 16, true],
    ['brackets inside a string', JSON.stringify({ a: '[[[[[[{{{{{' }), 2, false],
    ['an escaped quote before brackets in a string', JSON.stringify({ a: '\\"[[[[[[' }), 1, false],
    ['an escaped backslash ending a string before real nesting', `{"a":"\\\\","b":[[[]]]}`, 3, true],
    ['siblings that never nest deeply', `[${'[],'.repeat(1000)}[]]`, 2, false],
    ['unbalanced closing brackets first', `]]]]${'['.repeat(3)}`, 2, false],
  ])('judges %s', (_label, text, limit, exceeds) => {
    expect(jsonDepthExceeds(text, limit)).toBe(exceeds);
  });

  it('stops at the limit without reading a 3,000-level body to its end', () => {
    expect(jsonDepthExceeds(`${'['.repeat(3000)}${']'.repeat(3000)}`, 16)).toBe(true);
  });
});

describe('the NUL character check', () => {
  it('finds every string and key with U+0000, with its path', () => {
    expect(
      findNulCharacters({
        a: 'x\u0000',
        b: ['ok', 'y\u0000'],
        c: { ['k\u0000']: 1, d: { e: '\u0000' } },
        f: 3,
        g: null,
      }),
    ).toEqual([['a'], ['b', '1'], ['c', 'k\u0000'], ['c', 'd', 'e']]);
    expect(findNulCharacters('top\u0000')).toEqual([[]]);
    expect(findNulCharacters({ a: 'fine', b: [1, true, null] })).toEqual([]);
  });

  it('answers VALIDATION_ERROR naming params, query and body fields, with secrets redacted', () => {
    const error = nulCharacterError({
      params: { fileName: 'a\u0000' },
      query: { q: '\u0000' },
      body: { s3Bucket: { secretAccessKey: 'S\u0000' }, list: ['\u0000'] },
    });
    expect(error?.code).toBe('VALIDATION_ERROR');
    expect(error?.message).toBe(
      'the request is not valid: fileName, q, s3Bucket.secretAccessKey, list.0: must not contain the NUL character (U+0000)',
    );
    expect(error?.validationErrors).toEqual([
      { field: 'fileName', value: 'a\u0000', message: 'must not contain the NUL character (U+0000)' },
      { field: 'q', value: '\u0000', message: 'must not contain the NUL character (U+0000)' },
      {
        field: 's3Bucket.secretAccessKey',
        value: '[redacted]',
        message: 'must not contain the NUL character (U+0000)',
      },
      { field: 'list.0', value: '\u0000', message: 'must not contain the NUL character (U+0000)' },
    ]);
    expect(nulCharacterError({ params: {}, query: {}, body: undefined })).toBeNull();
    expect(nulCharacterError({ params: undefined, query: undefined, body: 'plain' })).toBeNull();
  });

  it('names the body itself when the whole body is one string with U+0000', () => {
    expect(nulCharacterError({ params: {}, query: {}, body: 'x\u0000' })?.validationErrors).toEqual([
      { field: 'body', value: 'x\u0000', message: 'must not contain the NUL character (U+0000)' },
    ]);
  });
});

describe('clientErrorResponse', () => {
  const now = new Date('2026-11-28T10:07:50.123Z');
  const requestId = '7d8e2f4a-1b3c-4d5e-8f9a-0b1c2d3e4f5a';
  const parseError = (code: string, raw?: string) =>
    Object.assign(new Error('Parse Error'), {
      code,
      ...(raw === undefined ? {} : { rawPacket: Buffer.from(raw, 'latin1') }),
    });

  it('writes 431 HEADERS_TOO_LARGE as a complete HTTP response with the contract body', () => {
    const { status, code, response } = clientErrorResponse(
      parseError('HPE_HEADER_OVERFLOW', 'GET /api/v1/videos?pageSize=2 HTTP/1.1\r\nX-Filler: xxx'),
      requestId,
      now,
    );
    const body = JSON.stringify({
      timestamp: '2026-11-28T10:07:50.123Z',
      requestId,
      requestPath: '/api/v1/videos',
      statusCode: 431,
      errorCode: 'HEADERS_TOO_LARGE',
      message: 'the request line and headers are larger than 16 KiB: send a shorter URL or fewer headers',
      validationErrors: [],
      errorDetails: null,
    });
    expect([status, code]).toEqual([431, 'HEADERS_TOO_LARGE']);
    expect(response).toBe(
      [
        'HTTP/1.1 431 Request Header Fields Too Large',
        'Content-Type: application/json; charset=utf-8',
        `Content-Length: ${Buffer.byteLength(body)}`,
        `X-Request-Id: ${requestId}`,
        'X-Content-Type-Options: nosniff',
        'Connection: close',
        '',
        body,
      ].join('\r\n'),
    );
  });

  it.each([
    [
      'a timeout',
      parseError('ERR_HTTP_REQUEST_TIMEOUT'),
      408,
      'REQUEST_TIMEOUT',
      'the request did not arrive in time',
      '',
    ],
    [
      'a bad method',
      parseError('HPE_INVALID_METHOD', 'G@T / HTTP/1.1\r\n'),
      400,
      'BAD_REQUEST',
      'the request is not valid HTTP/1.1 (HPE_INVALID_METHOD): check the request line and headers',
      '',
    ],
    [
      'a path too long to quote',
      parseError('HPE_HEADER_OVERFLOW', `GET /${'a'.repeat(3000)} HTTP/1.1`),
      431,
      'HEADERS_TOO_LARGE',
      'the request line and headers are larger than 16 KiB: send a shorter URL or fewer headers',
      '',
    ],
    [
      'a path with control characters',
      parseError('HPE_INVALID_HEADER_TOKEN', 'GET /a\u0001b HTTP/1.1\r\n'),
      400,
      'BAD_REQUEST',
      'the request is not valid HTTP/1.1 (HPE_INVALID_HEADER_TOKEN): check the request line and headers',
      '',
    ],
    [
      'an error without a code',
      new Error('odd'),
      400,
      'BAD_REQUEST',
      'the request is not valid HTTP/1.1 (parse error): check the request line and headers',
      '',
    ],
  ])('answers %s in the contract shape', (_label, error, status, code, message, requestPath) => {
    const answer = clientErrorResponse(error, requestId, now);
    expect([answer.status, answer.code]).toEqual([status, code]);
    expect(JSON.parse(answer.response.slice(answer.response.indexOf('\r\n\r\n') + 4))).toEqual({
      timestamp: '2026-11-28T10:07:50.123Z',
      requestId,
      requestPath,
      statusCode: status,
      errorCode: code,
      // BAD_REQUEST is Pixop's code; HEADERS_TOO_LARGE and REQUEST_TIMEOUT are this service's own.
      ...(code === 'BAD_REQUEST' ? { errorCodeEnum: code } : {}),
      message,
      validationErrors: [],
      errorDetails: null,
    });
  });
});

describe('queryDateTime', () => {
  it.each([
    ['0001-01-01T00:00:00Z', '0001-01-01T00:00:00.000Z'],
    ['2026-11-28T10:07:50.123+02:00', '2026-11-28T08:07:50.123Z'],
    ['9999-12-31T23:59:59.999Z', '9999-12-31T23:59:59.999Z'],
  ])('reads %s as a Date', (text, iso) => {
    const parsed = queryDateTime.safeParse(text);
    expect(parsed.success && parsed.data.toISOString()).toBe(iso);
  });

  it.each([
    ['0000-01-01T00:00:00Z', 'must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z'],
    ['0001-01-01T00:00:00+00:01', 'must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z'],
    ['9999-12-31T23:59:59-00:01', 'must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z'],
    ['+010000-01-01T00:00:00Z', 'must be an RFC 3339 date-time with an offset, e.g. 2026-11-28T10:07:50Z'],
    ['-000001-01-01T00:00:00Z', 'must be an RFC 3339 date-time with an offset, e.g. 2026-11-28T10:07:50Z'],
    ['2026-11-28', 'must be an RFC 3339 date-time with an offset, e.g. 2026-11-28T10:07:50Z'],
  ])('refuses %s', (text, message) => {
    const parsed = queryDateTime.safeParse(text);
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((issue) => issue.message)).toEqual([message]);
  });
});

describe('/readyz', () => {
  async function readiness(checks: Record<string, () => Promise<void>>) {
    const lines: string[] = [];
    const app = Fastify({
      loggerInstance: pino({ level: 'info' }, { write: (line: string) => void lines.push(line) }),
    });
    app.setValidatorCompiler(validatorCompiler);
    app.setSerializerCompiler(serializerCompiler);
    await app.register(healthRoutes({ checks }));
    const response = await app.inject({ method: 'GET', url: '/readyz' });
    await app.close();
    return { response, lines: lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
  }

  it('says only up or down per check, and logs why a check is down', async () => {
    const { response, lines } = await readiness({
      database: async () => undefined,
      storage: async () => {
        throw new Error("EACCES: permission denied, open '/srv/reelin/data/storage/.write-check'");
      },
    });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toEqual({
      status: 'not ready',
      checks: { database: { status: 'up' }, storage: { status: 'down' } },
    });
    expect(response.body).not.toContain('srv');
    expect(
      lines.filter((line) => line.msg === 'readiness check failed').map((line) => [line.check, line.reason]),
    ).toEqual([['storage', "EACCES: permission denied, open '/srv/reelin/data/storage/.write-check'"]]);
  });

  it('answers 200 ready when every check is up', async () => {
    const { response, lines } = await readiness({ database: async () => undefined, queue: async () => undefined });
    expect([response.statusCode, response.json()]).toEqual([
      200,
      { status: 'ready', checks: { database: { status: 'up' }, queue: { status: 'up' } } },
    ]);
    expect(lines.filter((line) => line.msg === 'readiness check failed')).toEqual([]);
  });
});
