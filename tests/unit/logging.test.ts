import { DrizzleQueryError } from 'drizzle-orm/errors';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/domain/errors.js';
import { createLogger, logSerializers, redactUrl, scrubError } from '../../src/logging.js';

describe('redactUrl', () => {
  it.each([
    ['/api/v1/videos', '/api/v1/videos'],
    ['/api/v1/videos?pageSize=2&sortBy=createdAt', '/api/v1/videos?pageSize=2&sortBy=createdAt'],
    [
      '/api/downloads/v/a.mov?expires=1795860900&signature=abc_DEF-1',
      '/api/downloads/v/a.mov?expires=1795860900&signature=[redacted]',
    ],
    [
      '/x?apiKey=k&api_key=k&X-API-Key=k&key=k',
      '/x?apiKey=[redacted]&api_key=[redacted]&X-API-Key=[redacted]&key=[redacted]',
    ],
    [
      '/x?token=t&access_token=t&sig=s&password=p&secret=s&Authorization=a',
      '/x?token=[redacted]&access_token=[redacted]&sig=[redacted]&password=[redacted]&secret=[redacted]&Authorization=[redacted]',
    ],
    [
      '/x?X-Amz-Algorithm=AWS4&X-Amz-Credential=AKIA%2F&X-Amz-Signature=f00&x-amz-security-token=t',
      '/x?X-Amz-Algorithm=[redacted]&X-Amz-Credential=[redacted]&X-Amz-Signature=[redacted]&x-amz-security-token=[redacted]',
    ],
    ['/x?%61piKey=k&teamId=t', '/x?%61piKey=[redacted]&teamId=t'],
    ['/x?token&signature=', '/x?token&signature=[redacted]'],
    ['/x?%E0%A4%A=1&token=2', '/x?%E0%A4%A=1&token=[redacted]'],
  ])('logs %s as %s', (url, logged) => {
    expect(redactUrl(url)).toBe(logged);
  });
});

describe('logged errors', () => {
  const secret = 'whsec_gArE+h1h7CDqFr/7RazNI3/C907JcX3vR23ep1PU9lI=';
  const query = 'insert into "webhooks" ("name", "secret") values ($1, $2)';

  function failedQuery(): DrizzleQueryError {
    const cause = Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), {
      severity: 'ERROR',
      code: '22021',
      detail: `Failing row contains (a, ${secret})`,
      where: `value ${secret}`,
    });
    return new DrizzleQueryError(query, ['a\u0000b', secret], cause);
  }

  it("keep the failed query but not its parameters, nor the database's value-quoting detail", () => {
    const serialized = logSerializers.err(failedQuery()) as unknown as Record<string, unknown>;
    const text = JSON.stringify(serialized);
    expect(text).not.toContain(secret);
    expect(text).not.toContain('params');
    expect(serialized.type).toBe('DrizzleQueryError');
    expect(serialized.message).toBe(`Failed query: ${query}: invalid byte sequence for encoding "[redacted]": 0x00`);
    expect(serialized.query).toBe(query);
    expect(String(serialized.stack).split('\n')[0]).toBe(`Error: Failed query: ${query}`);
    expect(String(serialized.stack)).toContain(
      'caused by: Error: invalid byte sequence for encoding "[redacted]": 0x00',
    );
  });

  it('scrub a failed query wrapped as the cause of an AppError, and leave the original error as it was', () => {
    const inner = failedQuery();
    const wrapped = new AppError('INTERNAL_SERVER_ERROR', 'storing the webhook failed', null, { cause: inner });
    const text = JSON.stringify(logSerializers.err(wrapped));
    expect(text).not.toContain(secret);
    expect(text).toContain('storing the webhook failed: Failed query: insert into');
    expect(inner.params).toEqual(['a\u0000b', secret]);
    expect(inner.message).toContain(secret);
  });

  it('quote identifiers of other database errors (not data or constraint errors) as they are', () => {
    const missing = Object.assign(new Error('relation "webhooks" does not exist'), {
      severity: 'ERROR',
      code: '42P01',
    });
    expect((scrubError(missing) as Error).message).toBe('relation "webhooks" does not exist');
    const range = Object.assign(new Error('date/time field value out of range: "0000-01-01T00:00:00.000Z"'), {
      severity: 'ERROR',
      code: '22008',
    });
    expect((scrubError(range) as Error).message).toBe('date/time field value out of range: "[redacted]"');
  });

  it('leave other errors and values alone', () => {
    const plain = new Error('connect ECONNREFUSED 127.0.0.1:5432');
    expect(JSON.stringify(logSerializers.err(plain))).toContain('connect ECONNREFUSED 127.0.0.1:5432');
    expect(scrubError('text')).toBe('text');
    expect(scrubError(null)).toBeNull();
  });

  it("are written by the service's logger without secrets, with redacted request secrets", () => {
    const lines: string[] = [];
    const log = createLogger({
      level: 'info',
      role: 'serve',
      destination: { write: (line: string) => void lines.push(line) },
    });
    log.error({ err: failedQuery(), body: { secret, secretAccessKey: 'S3cret', apiKey: 'rln_x' } }, 'unexpected error');
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain(secret);
    expect(lines[0]).not.toContain('S3cret');
    expect(lines[0]).not.toContain('rln_x');
    expect(JSON.parse(lines[0] ?? '{}').body).toEqual({
      secret: '[redacted]',
      secretAccessKey: '[redacted]',
      apiKey: '[redacted]',
    });
  });
});
