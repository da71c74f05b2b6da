/**
 * Checks every request's input before its route's own schema: one place, so a field added later
 * cannot forget them.
 *
 * - No text may contain U+0000. PostgreSQL's text and jsonb cannot store it, so such a value used
 *   to fail at the database (a 500) instead of being refused as the bad input it is. Every string
 *   of the body, the query and the path is checked, object keys included.
 * - No API operation takes a query parameter it does not declare: a misspelt or unsupported filter
 *   silently ignored would answer with the wrong data, so it is a 400 naming the parameter.
 */
import type { FastifyInstance, preValidationAsyncHookHandler } from 'fastify';
import { AppError, type FieldError } from '../domain/errors.js';
import { sensitiveQueryName } from '../logging.js';
import { withoutSecrets } from './errors.js';

const NUL_MESSAGE = 'must not contain the NUL character (U+0000)';

/** Every place in `value` where a string (or an object key) contains U+0000, as dotted paths. */
export function findNulCharacters(value: unknown, path: string[] = [], found: string[][] = []): string[][] {
  if (typeof value === 'string') {
    if (value.includes('\u0000')) found.push(path);
  } else if (Array.isArray(value)) {
    value.forEach((item, index) => findNulCharacters(item, [...path, String(index)], found));
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (key.includes('\u0000')) found.push([...path, key]);
      else findNulCharacters(item, [...path, key], found);
    }
  }
  return found;
}

function valueAt(source: unknown, path: string[]): unknown {
  let value = source;
  for (const key of path) value = (value as Record<string, unknown> | undefined)?.[key];
  return value;
}

/** The VALIDATION_ERROR for the request's NUL characters, or null when it has none. */
export function nulCharacterError(input: { body: unknown; query: unknown; params: unknown }): AppError | null {
  const validationErrors: FieldError[] = [];
  for (const [context, source] of [
    ['params', input.params],
    ['querystring', input.query],
    ['body', input.body],
  ] as const) {
    for (const path of findNulCharacters(source)) {
      const value = valueAt(source, path) ?? null;
      validationErrors.push({
        field: path.join('.') || context,
        value: withoutSecrets(path, typeof value === 'string' ? value : JSON.stringify(value)),
        message: NUL_MESSAGE,
      });
    }
  }
  if (validationErrors.length === 0) return null;
  const fields = validationErrors.map((item) => item.field).join(', ');
  return new AppError('VALIDATION_ERROR', `the request is not valid: ${fields}: ${NUL_MESSAGE}`, null, {
    validationErrors,
  });
}

export function refuseNulCharacters(app: FastifyInstance): void {
  app.addHook('preValidation', async (request) => {
    const error = nulCharacterError(request);
    if (error !== null) throw error;
  });
}

const UNKNOWN_PARAMETER_MESSAGE = 'is not a query parameter of this operation';

/** The query parameters a route's schema declares (none when it has no query schema). */
function declaredQueryParameters(schema: unknown): ReadonlySet<string> {
  const querystring = (schema as { querystring?: { shape?: Record<string, unknown> } } | undefined)?.querystring;
  return new Set(Object.keys(querystring?.shape ?? {}));
}

/** The VALIDATION_ERROR for the query parameters not in `declared`, or null when there are none. */
export function unknownQueryParameterError(query: unknown, declared: ReadonlySet<string>): AppError | null {
  const unknown = Object.entries((query ?? {}) as Record<string, unknown>).filter(([name]) => !declared.has(name));
  if (unknown.length === 0) return null;
  const validationErrors: FieldError[] = unknown.map(([name, value]) => ({
    field: name,
    // The caller's own value, but a key or token does not belong in a response any more than in a log.
    value: sensitiveQueryName.test(name) ? '[redacted]' : withoutSecrets([name], value),
    message: UNKNOWN_PARAMETER_MESSAGE,
  }));
  const names = unknown.map(([name]) => name).join(', ');
  return new AppError('VALIDATION_ERROR', `the request is not valid: ${names}: ${UNKNOWN_PARAMETER_MESSAGE}`, null, {
    validationErrors,
  });
}

/**
 * Refuses, on every route registered after this call, the query parameters its schema does not
 * declare. Runs before the schema's own validation, which would drop them without a word.
 */
export function refuseUnknownQueryParameters(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    const declared = declaredQueryParameters(route.schema);
    const refuse: preValidationAsyncHookHandler = async (request) => {
      const error = unknownQueryParameterError(request.query, declared);
      if (error !== null) throw error;
    };
    const own = route.preValidation === undefined ? [] : [route.preValidation].flat();
    route.preValidation = [refuse, ...own];
  });
}
