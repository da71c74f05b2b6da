/**
 * API rate limiting: every request of an authenticated API key is counted in a fixed window (one
 * minute) whose counter lives in the database, so all API processes share one count per key and a
 * load balancer may send any request anywhere. Each answer carries `X-RateLimit-Limit`,
 * `X-RateLimit-Remaining` and `X-RateLimit-Reset` (seconds until the window ends); a request past
 * the limit is answered 429 TOO_MANY_REQUESTS with `Retry-After`.
 *
 * Hand-written rather than @fastify/rate-limit: that plugin is not a dependency here, and using it
 * would mean a custom store (its `incr` and `child` contract) plus overriding its key, header and
 * error shaping to get the contract's names and body; the hook below is the whole of it, with the
 * counting behind a port (src/services/api-request-counter.ts: one SQL statement counts the requests
 * of a key that arrived together).
 */
import type { SwaggerTransformObject } from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../domain/errors.js';
import type { ApiRequestCounter } from '../services/api-request-counter.js';

export interface RateLimitPolicy {
  /** Requests one API key may make per window (the configured per-minute limit). */
  requestsPerWindow: number;
  /** The window's length: 60 in service; tests shorten it to see windows change. */
  windowSeconds: number;
}

/** The policy and the counter that counts against it (in windows of the policy's length). */
export interface RateLimit {
  policy: RateLimitPolicy;
  counter: ApiRequestCounter;
}

export interface RateLimitState {
  limit: number;
  remaining: number;
  /** Whole seconds until the window ends, at least 1: when `remaining` is full again. */
  resetSeconds: number;
  isOver: boolean;
}

/** What a request that is the `count`-th of its window, with `secondsLeft` to go, may do and is told. */
export function rateLimitState(policy: RateLimitPolicy, count: number, secondsLeft: number): RateLimitState {
  const limit = policy.requestsPerWindow;
  return {
    limit,
    remaining: Math.max(0, limit - count),
    resetSeconds: Math.min(policy.windowSeconds, Math.max(1, Math.ceil(secondsLeft))),
    isOver: count > limit,
  };
}

function describeWindow(windowSeconds: number): string {
  return windowSeconds === 60 ? 'per minute' : `per ${windowSeconds} seconds`;
}

/**
 * Counts every request of `app`'s routes against its API key. Register after `requireApiKey`:
 * hooks run in order, so a request without a valid key gets its 401 and is not counted.
 */
export function limitRequestsPerApiKey(app: FastifyInstance, rateLimit: RateLimit): void {
  const { policy, counter } = rateLimit;
  app.addHook('onRequest', async (request, reply) => {
    const { count, secondsLeft } = await counter.count(request.principal.apiKeyId);
    const state = rateLimitState(policy, count, secondsLeft);
    reply
      .header('x-ratelimit-limit', state.limit)
      .header('x-ratelimit-remaining', state.remaining)
      .header('x-ratelimit-reset', state.resetSeconds);
    if (!state.isOver) return;
    reply.header('retry-after', state.resetSeconds);
    throw new AppError(
      'TOO_MANY_REQUESTS',
      `this API key has made more than ${state.limit} requests ${describeWindow(policy.windowSeconds)}: retry in ${state.resetSeconds} s`,
      { limit: state.limit, retryAfterSeconds: state.resetSeconds },
    );
  });
}

type OpenApiDocument = ReturnType<SwaggerTransformObject>;

const rateLimitHeaderDocs = {
  'X-RateLimit-Limit': 'Requests this API key may make per window (one minute).',
  'X-RateLimit-Remaining': 'Requests left to this API key in the current window.',
  'X-RateLimit-Reset': 'Whole seconds until the current window ends and the count starts again.',
} as const;

/**
 * Adds the rate-limit headers to the OpenAPI document: on every answer of the API-key routes
 * (`/api/v1/...`), and `Retry-After` on their 429. The headers come from a hook, not from the route
 * schemas, so the document generated from the schemas does not know them.
 */
export function documentRateLimitHeaders(document: OpenApiDocument): OpenApiDocument {
  const openapi = document as {
    components?: { headers?: Record<string, unknown> };
    paths?: Record<string, Record<string, { responses?: Record<string, { headers?: Record<string, unknown> }> }>>;
  };
  const headers: Record<string, unknown> = {};
  for (const [name, description] of Object.entries(rateLimitHeaderDocs))
    headers[name] = { description, schema: { type: 'integer', minimum: 0 } };
  headers['Retry-After'] = {
    description: 'Seconds to wait before the next request of this API key is accepted.',
    schema: { type: 'integer', minimum: 1 },
  };
  openapi.components = { ...openapi.components, headers: { ...openapi.components?.headers, ...headers } };
  const refs = Object.fromEntries(Object.keys(headers).map((name) => [name, { $ref: `#/components/headers/${name}` }]));
  const { 'Retry-After': retryAfter, ...limitRefs } = refs;
  for (const [path, operations] of Object.entries(openapi.paths ?? {})) {
    if (!path.startsWith('/api/v1/')) continue;
    for (const operation of Object.values(operations)) {
      for (const [status, response] of Object.entries(operation.responses ?? {})) {
        response.headers = {
          ...response.headers,
          ...limitRefs,
          ...(status === '429' ? { 'Retry-After': retryAfter } : {}),
        };
      }
    }
  }
  return document;
}
