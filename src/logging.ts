/**
 * The service's logger (pino, JSON lines) and what it never writes:
 * - request secrets: the API key and Authorization headers, S3 secret keys, webhook secrets;
 * - secrets in request URLs: a download link's `signature`, and the value of any query parameter
 *   named like a key, token, signature, password or credential (`apiKey`, `X-Amz-Signature`, ...);
 * - the parameters of a failed SQL query: Drizzle puts them in its error's message and `params`,
 *   so a refused INSERT would log the values it carried (a webhook's secret included); PostgreSQL's
 *   `detail` and `where` and the messages of data and constraint errors quote values too.
 * Fastify uses the `req` and `err` serializers of the instance it is given in place of its own.
 */
import { DrizzleQueryError } from 'drizzle-orm/errors';
import { pino, stdSerializers, stdTimeFunctions, type Logger } from 'pino';

export const sensitiveQueryName = /key|token|signature|secret|password|passwd|credential|auth|^sig$|^x-amz-/i;

/** A request URL (path and query) with the values of sensitive query parameters replaced. */
export function redactUrl(url: string): string {
  const queryStart = url.indexOf('?');
  if (queryStart === -1) return url;
  const redacted = url
    .slice(queryStart + 1)
    .split('&')
    .map((pair) => {
      const separator = pair.indexOf('=');
      const rawName = separator === -1 ? pair : pair.slice(0, separator);
      let name = rawName;
      try {
        name = decodeURIComponent(rawName.replace(/\+/g, ' '));
      } catch {
        // A malformed escape: judge the name as written.
      }
      return separator !== -1 && sensitiveQueryName.test(name) ? `${rawName}=[redacted]` : pair;
    });
  return `${url.slice(0, queryStart)}?${redacted.join('&')}`;
}

/** Properties of database errors that carry the values of a query (never logged). */
const valueCarryingKeys = new Set(['params', 'parameters', 'queryOptions', 'detail', 'where', 'internalQuery']);

/** PostgreSQL error classes whose messages quote the offending value: 22 data exception, 23 integrity constraint violation. */
const valueQuotingSqlStates = /^2[23][0-9A-Z]{3}$/;

interface ErrorLike {
  message: string;
  stack?: string;
  [key: string]: unknown;
}

function isErrorLike(value: unknown): value is ErrorLike {
  return value !== null && typeof value === 'object' && typeof (value as { message?: unknown }).message === 'string';
}

function scrubbedMessage(error: ErrorLike): string {
  // Drizzle's DrizzleQueryError: "Failed query: <sql>\nparams: <values>".
  if (error instanceof DrizzleQueryError) return `Failed query: ${error.query}`;
  const sqlState = typeof error.code === 'string' ? error.code : '';
  if ('severity' in error && valueQuotingSqlStates.test(sqlState))
    return error.message.replace(/"(?:[^"\\]|\\.)*"/g, '"[redacted]"');
  return error.message;
}

/**
 * A copy of an error (and its causes) without query parameters, for logging. The copy keeps the
 * prototype, so the logged `type` is the original's; the original is not changed.
 */
export function scrubError(error: unknown, depth = 0): unknown {
  if (!isErrorLike(error) || depth > 8) return error;
  const copy = Object.create(Object.getPrototypeOf(error) as object) as ErrorLike;
  for (const key of Object.keys(error)) {
    if (!valueCarryingKeys.has(key)) copy[key] = key === 'cause' ? scrubError(error.cause, depth + 1) : error[key];
  }
  const message = scrubbedMessage(error);
  copy.message = message;
  const stack = typeof error.stack === 'string' ? error.stack : '';
  // The stack starts with "<name>: <message>"; its frames follow the first line that starts with "    at".
  const frames = stack.indexOf('\n    at ');
  copy.stack = `${String(error.name ?? 'Error')}: ${message}${frames === -1 ? '' : stack.slice(frames)}`;
  if (!('cause' in copy) && error.cause !== undefined) copy.cause = scrubError(error.cause, depth + 1);
  return copy;
}

interface LoggedRequest {
  method: string;
  url: string;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number };
}

/** The pino serializers every logger of the service uses. */
export const logSerializers = {
  err: (error: unknown) => stdSerializers.err(scrubError(error) as Error),
  req: (request: LoggedRequest) => ({
    method: request.method,
    url: redactUrl(request.url),
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  }),
};

/** Object paths whose values are never logged, whatever logs them. */
export const redactedPaths = [
  'req.headers["x-api-key"]',
  'req.headers.authorization',
  '*.apiKey',
  '*.secretAccessKey',
  '*.secret',
];

export function createLogger(options: { level: string; role: string; destination?: pino.DestinationStream }): Logger {
  return pino(
    {
      level: options.level,
      base: { service: 'reelin', role: options.role },
      timestamp: stdTimeFunctions.isoTime,
      serializers: logSerializers,
      redact: { paths: redactedPaths, censor: '[redacted]' },
    },
    options.destination,
  );
}
