import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { OneLinePerRequest } from '../../src/api/request-log.js';
import { createLogger } from '../../src/logging.js';

interface LogLine {
  level: number;
  msg: string;
  requestId?: string;
  req?: { method: string; url: string };
  res?: { statusCode: number };
  responseTime?: number;
}

/** Answers one request on a server logging through the service's logger into `lines`; returns its status. */
async function answer(lines: string[], url: string): Promise<number> {
  const app = Fastify({
    loggerInstance: createLogger({
      level: 'info',
      role: 'api',
      destination: { write: (line) => void lines.push(line) },
    }),
    logController: new OneLinePerRequest({ requestIdLogLabel: 'requestId' }),
    genReqId: () => 'request-1',
  });
  app.get('/ok', async () => ({ ok: true }));
  try {
    return (await app.inject({ method: 'GET', url })).statusCode;
  } finally {
    await app.close();
  }
}

function summary(lines: string[]) {
  return lines
    .map((line) => JSON.parse(line) as LogLine)
    .map((entry) => [
      entry.level,
      entry.msg,
      entry.requestId,
      entry.req?.method,
      entry.req?.url,
      entry.res?.statusCode,
    ]);
}

describe('OneLinePerRequest', () => {
  it('writes one line per request, with the request (secrets redacted), the answer and the time taken', async () => {
    const lines: string[] = [];
    expect(await answer(lines, '/ok?token=secret-value&page=2')).toBe(200);
    expect(summary(lines)).toEqual([[30, 'request completed', 'request-1', 'GET', '/ok?token=[redacted]&page=2', 200]]);
    expect((JSON.parse(lines[0] ?? '{}') as LogLine).responseTime).toBeGreaterThanOrEqual(0);
    expect(lines.join('')).not.toContain('secret-value');
  });

  it('writes the one line for a request answered with an error too', async () => {
    const lines: string[] = [];
    expect(await answer(lines, '/missing')).toBe(404);
    expect(summary(lines)).toEqual([
      [30, 'Route GET:/missing not found', 'request-1', undefined, undefined, undefined],
      [30, 'request completed', 'request-1', 'GET', '/missing', 404],
    ]);
  });
});
