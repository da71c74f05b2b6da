/**
 * How request bodies are read, before any route sees them:
 * - JSON only (anything else is 415 UNSUPPORTED_CONTENT_TYPE);
 * - an empty JSON body is no body, because Pixop clients send `Content-Type: application/json` on
 *   body-less requests (GET, DELETE, POST with Content-Length 0);
 * - arrays and objects nest at most MAX_JSON_DEPTH levels: deeper input is refused before it is
 *   parsed, so no recursive step later (validation, quoting a value back in an error) can exhaust
 *   the stack;
 * - a PATCH without a body changes nothing: it is validated as `{}` on every resource.
 */
import type { FastifyInstance } from 'fastify';
import { AppError } from '../domain/errors.js';

/** The deepest nesting of arrays and objects a JSON body may have; the API's own bodies need 2. */
export const MAX_JSON_DEPTH = 16;

/**
 * The deepest nesting of arrays and objects in JSON text, stopping as soon as it passes `limit`.
 * Hand-written because neither JSON.parse nor secure-json-parse (Fastify's parser) has a depth
 * option; one pass over the characters, skipping strings (and the escapes inside them).
 */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let index = 0; index < text.length; index += 1) {
    const char = text.charCodeAt(index);
    if (inString) {
      if (char === 0x5c)
        index += 1; // backslash: the next character is escaped
      else if (char === 0x22) inString = false;
    } else if (char === 0x22) {
      inString = true;
    } else if (char === 0x5b || char === 0x7b) {
      depth += 1;
      if (depth > limit) return true;
    } else if (char === 0x5d || char === 0x7d) {
      depth -= 1;
    }
  }
  return false;
}

export function registerBodyParsing(app: FastifyInstance): void {
  // Fastify's own parser (secure-json-parse, which refuses __proto__ and constructor.prototype).
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) {
      done(
        new AppError(
          'INVALID_REQUEST_BODY',
          `the request body nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep; no request of this API needs more than 2`,
          { maxDepth: MAX_JSON_DEPTH },
        ),
        undefined,
      );
      return;
    }
    void parseJson(request, text, done);
  });
  // Every PATCH field is optional, so an empty PATCH is a valid request that changes nothing.
  app.addHook('preValidation', async (request) => {
    if (request.method === 'PATCH' && (request.body === undefined || request.body === null)) request.body = {};
  });
}
