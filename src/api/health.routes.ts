/**
 * Liveness and readiness for operators and load balancers. `/healthz` says the process answers;
 * `/readyz` says its dependencies (database, queue, storage) answer too, each within a time limit.
 * Both need no credentials, so they say only up or down: why a check failed (an error message
 * may name hosts, paths or buckets) goes to the log.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorResponse, extensionOperation } from './schemas.js';

export type ReadinessCheck = () => Promise<void>;

const CHECK_TIMEOUT_MS = 3_000;

async function runCheck(check: ReadinessCheck): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
      }),
    ]);
    return null;
  } catch (error) {
    return (error as Error).message;
  } finally {
    clearTimeout(timer);
  }
}

const checkResult = z.object({ status: z.enum(['up', 'down']) });
const readiness = z.object({ status: z.enum(['ready', 'not ready']), checks: z.record(z.string(), checkResult) });
const up = { status: 'up' };

/**
 * The 400 is documented because it can happen: a NUL character anywhere in the request is refused
 * before any route (input-guards.ts), these included.
 */
export function healthRoutes(deps: { checks: Record<string, ReadinessCheck> }): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/healthz',
      {
        logLevel: 'warn',
        schema: {
          operationId: 'getLiveness',
          summary: 'Liveness',
          ...extensionOperation('Answers 200 while the process runs; it checks nothing else. Needs no credentials.'),
          tags: ['Operations'],
          security: [],
          response: {
            200: z
              .object({ status: z.literal('ok') })
              .meta({ description: 'The process runs.', examples: [{ status: 'ok' }] }),
            400: errorResponse,
          },
        },
      },
      async () => ({ status: 'ok' as const }),
    );

    app.get(
      '/readyz',
      {
        logLevel: 'warn',
        schema: {
          operationId: 'getReadiness',
          summary: 'Readiness: database, queue and storage reachable',
          ...extensionOperation(
            'Answers 200 when the database, the job queue and the storage each answer within 3 seconds, else 503 with each check up or down (why one failed goes to the log). Needs no credentials.',
          ),
          tags: ['Operations'],
          security: [],
          response: {
            200: readiness.meta({
              description: 'Every dependency answered in time.',
              examples: [{ status: 'ready', checks: { database: up, queue: up, storage: up } }],
            }),
            400: errorResponse,
            503: readiness.meta({
              description: 'A dependency did not answer in time.',
              examples: [{ status: 'not ready', checks: { database: up, queue: up, storage: { status: 'down' } } }],
            }),
          },
        },
      },
      async (request, reply) => {
        const names = Object.keys(deps.checks);
        const errors = await Promise.all(names.map((name) => runCheck(deps.checks[name] ?? (async () => undefined))));
        const checks = Object.fromEntries(
          names.map((name, index) => {
            const error = errors[index] ?? null;
            if (error !== null) request.log.warn({ check: name, reason: error }, 'readiness check failed');
            return [name, { status: error === null ? ('up' as const) : ('down' as const) }];
          }),
        );
        const ready = errors.every((error) => error === null);
        return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks });
      },
    );
  };
}
