/**
 * The one place that maps error codes to HTTP and shapes the contract's error body. Every error a
 * request can end in passes through `registerErrorHandling`: AppErrors keep their code, schema
 * validation becomes VALIDATION_ERROR with one entry per field, Fastify's own request errors get
 * the most specific contract code, and anything unknown becomes a 500 whose details stay in the log.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import {
  AppError,
  errorCodeEnumOf,
  isAppError,
  type ErrorCode,
  type FieldError,
  type ReportedPixopErrorCode,
} from '../domain/errors.js';

export const httpStatusOf = {
  MISSING_API_KEY: 401,
  INVALID_API_KEY: 401,
  INVALID_CREDENTIALS: 401,
  ACCESS_DENIED: 403,
  FORBIDDEN: 403,
  TOO_MANY_REQUESTS: 429,
  RESOURCE_NOT_FOUND: 404,
  TEAM_NOT_FOUND: 404,
  DEFAULT_TEAM_NOT_API_ENABLED: 403,
  INVALID_INPUT: 400,
  VALIDATION_ERROR: 400,
  INVALID_REQUEST_BODY: 400,
  MISSING_REQUEST_BODY: 400,
  UNSUPPORTED_CONTENT_TYPE: 415,
  VIDEO_IN_OPERATION_NOT_FAILED: 409,
  CHECKSUM_MISMATCH: 400,
  VIDEO_IN_RESTART_CHECKSUM_MISMATCH: 409,
  INVALID_HTTPS_URL: 400,
  UNEXPECTED_CONTENT_RANGE: 400,
  CONTENT_RANGE_HEADER_INVALID: 400,
  CONTENT_NOT_PARTIAL_ERROR: 400,
  PARSE_CONTENT_TYPE_ERROR: 400,
  NO_CONTENT: 400,
  RESOLVE_OBJECT_METADATA_ERROR: 400,
  VIDEO_NOT_FULLY_INGESTED: 409,
  CONFLICTING_DERIVED_VIDEO_IDS: 409,
  WEBHOOK_NOT_ACTIVE: 409,
  TOO_MANY_WEBHOOK_TEST_EVENTS: 409,
  WEBHOOK_RATE_LIMIT_EXCEEDED: 429,
  MAXIMUM_AMOUNT_OF_ACTIVE_WEBHOOKS_REACHED: 409,
  MAXIMUM_AMOUNT_OF_ACTIVE_API_KEYS_REACHED: 409,
  ACTIVE_API_KEY_CANNOT_BE_DELETED: 409,
  PROJECT_WITH_VIDEOS_CANNOT_BE_DELETED: 409,
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  CONFLICT: 409,
  INTERNAL_SERVER_ERROR: 500,
  SOURCE_CHANGED: 400,
  SOURCE_UNREACHABLE: 400,
  SOURCE_HTTP_ERROR: 400,
  CONTENT_ENCODING_NOT_IDENTITY: 400,
  COPY_INTERRUPTED: 500,
  NOT_A_VIDEO: 400,
  MEDIA_UNREADABLE: 400,
  UNSUPPORTED_MEDIA_FORMAT: 400,
  MEDIA_LIMIT_EXCEEDED: 400,
  MEDIA_PROCESSING_FAILED: 500,
  MEDIA_JOB_INTERRUPTED: 500,
  PAYLOAD_TOO_LARGE: 413,
  SERVICE_UNAVAILABLE: 503,
  WEBHOOK_HTTP_ERROR: 400,
  WEBHOOK_UNREACHABLE: 400,
  WEBHOOK_TIMEOUT: 400,
  HEADERS_TOO_LARGE: 431,
  REQUEST_TIMEOUT: 408,
} as const satisfies Record<ErrorCode, number>;

/** A `validationErrors` item as sent: Pixop's clients type `value` as a string. */
export interface WireFieldError {
  field: string;
  value: string;
  message: string;
}

export interface ErrorBody {
  timestamp: string;
  requestId: string;
  requestPath: string;
  statusCode: number;
  errorCode: ErrorCode;
  /** `errorCode` again when Pixop documents it (clients switch on it); absent for this service's own codes. */
  errorCodeEnum?: ReportedPixopErrorCode;
  message: string;
  validationErrors: WireFieldError[];
  errorDetails: Record<string, unknown> | null;
}

/** The longest `validationErrors[].value` sent, in UTF-16 code units; a longer one is cut and ends in `…`. */
export const MAX_QUOTED_VALUE_LENGTH = 200;

/**
 * A field's offending value as the string `validationErrors[].value` carries: a string as it is,
 * anything else JSON-encoded (a missing value is `null`), cut to MAX_QUOTED_VALUE_LENGTH.
 */
export function quoteValue(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? 'null');
  if (text.length <= MAX_QUOTED_VALUE_LENGTH) return text;
  let end = MAX_QUOTED_VALUE_LENGTH;
  // Never split a surrogate pair: the cut string must stay valid UTF-16.
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${text.slice(0, end)}…`;
}

/** The contract's error body; the one place that decides `errorCodeEnum` and the quoted values. */
export function buildErrorBody(fields: {
  now: Date;
  requestId: string;
  requestPath: string;
  code: ErrorCode;
  statusCode: number;
  message: string;
  validationErrors: readonly FieldError[];
  details: Record<string, unknown> | null;
}): ErrorBody {
  const errorCodeEnum = errorCodeEnumOf(fields.code);
  return {
    timestamp: fields.now.toISOString(),
    requestId: fields.requestId,
    requestPath: fields.requestPath,
    statusCode: fields.statusCode,
    errorCode: fields.code,
    ...(errorCodeEnum === undefined ? {} : { errorCodeEnum }),
    message: fields.message,
    validationErrors: fields.validationErrors.map((item) => ({
      field: item.field,
      value: quoteValue(item.value),
      message: item.message,
    })),
    errorDetails: fields.details,
  };
}

/** The status an error is answered with: a source's refused credentials are the request's fault (400), not the caller's (401/403). */
export function httpStatusOfError(error: AppError): number {
  const status = httpStatusOf[error.code];
  return error.aboutSource && (status === 401 || status === 403) ? 400 : status;
}

function errorBody(request: FastifyRequest, error: AppError): ErrorBody {
  return buildErrorBody({
    now: new Date(),
    requestId: request.id,
    requestPath: request.url.split('?')[0] ?? request.url,
    code: error.code,
    statusCode: httpStatusOfError(error),
    message: error.message,
    validationErrors: error.validationErrors,
    details: error.details,
  });
}

export function sendError(request: FastifyRequest, reply: FastifyReply, error: AppError): FastifyReply {
  return reply.code(httpStatusOfError(error)).type('application/json; charset=utf-8').send(errorBody(request, error));
}

function valueAt(source: unknown, path: string[]): unknown {
  let value = source;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value === undefined ? null : value;
}

const secretField = /secret|password/i;

/** A value quoted back in a validation error, with secrets (an S3 secret key) left out; `quoteValue` then makes it a string. */
export function withoutSecrets(path: string[], value: unknown): unknown {
  if (path.some((key) => secretField.test(key))) return '[redacted]';
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => withoutSecrets([], item));
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, withoutSecrets([key], item)]));
}

/** Schema validation failures as the contract's VALIDATION_ERROR (or MISSING_REQUEST_BODY). */
function fromValidation(
  request: FastifyRequest,
  error: FastifyError & { validation: { instancePath: string; message?: string }[] },
): AppError {
  const context = (error as { validationContext?: string }).validationContext ?? 'body';
  const source =
    context === 'querystring'
      ? request.query
      : context === 'params'
        ? request.params
        : context === 'headers'
          ? request.headers
          : request.body;
  if (context === 'body' && (request.body === undefined || request.body === null)) {
    return new AppError('MISSING_REQUEST_BODY', 'the request needs a JSON body');
  }
  const validationErrors = error.validation.map((issue) => {
    const path = issue.instancePath.split('/').filter((part) => part !== '');
    return {
      field: path.join('.') || context,
      value: withoutSecrets(path, valueAt(source, path)),
      message: issue.message ?? 'is invalid',
    };
  });
  const summary = validationErrors.map((item) => `${item.field}: ${item.message}`).join('; ');
  return new AppError('VALIDATION_ERROR', `the request is not valid: ${summary}`, null, { validationErrors });
}

/** Fastify's own request errors (content type, body size, JSON syntax) as contract errors. */
function fromFastifyError(error: FastifyError): AppError | null {
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError(
        'UNSUPPORTED_CONTENT_TYPE',
        'the request body must be JSON: send Content-Type: application/json',
      );
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AppError('INVALID_REQUEST_BODY', 'the request body does not match its Content-Length');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('PAYLOAD_TOO_LARGE', 'the request body is too large');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError('INVALID_REQUEST_BODY', `the request body is not valid JSON: ${error.message}`);
    default:
      // Other content-parser failures (the client aborted, a broken stream) are about the body too;
      // anything else thrown inside a route is the service's own fault and stays a 500.
      if (error.code?.startsWith('FST_ERR_CTP_') && (error.statusCode ?? 500) < 500) {
        return new AppError('INVALID_REQUEST_BODY', `the request body could not be read: ${error.message}`);
      }
      return null;
  }
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (isAppError(error)) {
      if (httpStatusOf[error.code] >= 500) request.log.error({ err: error }, 'request failed');
      return sendError(request, reply, error);
    }
    if (hasZodFastifySchemaValidationErrors(error)) return sendError(request, reply, fromValidation(request, error));
    const mapped = fromFastifyError(error);
    if (mapped) return sendError(request, reply, mapped);
    request.log.error({ err: error }, 'unexpected error');
    return sendError(
      request,
      reply,
      new AppError(
        'INTERNAL_SERVER_ERROR',
        `an unexpected error occurred; quote request id ${request.id} when reporting it`,
      ),
    );
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(
      request,
      reply,
      new AppError('NOT_FOUND', `there is no endpoint ${request.method} ${request.url.split('?')[0]}`),
    ),
  );
}
