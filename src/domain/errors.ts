/**
 * The closed catalog of error codes this service reports, on the wire and in stored operation
 * errors. The contract's codes come first; the ones after them are this service's own, used where
 * no contract code says exactly what went wrong (documented in docs/API.md).
 */
export const contractErrorCodes = [
  'MISSING_API_KEY',
  'INVALID_API_KEY',
  'INVALID_CREDENTIALS',
  'ACCESS_DENIED',
  'FORBIDDEN',
  'TOO_MANY_REQUESTS',
  'RESOURCE_NOT_FOUND',
  'TEAM_NOT_FOUND',
  'DEFAULT_TEAM_NOT_API_ENABLED',
  'INVALID_INPUT',
  'VALIDATION_ERROR',
  'INVALID_REQUEST_BODY',
  'MISSING_REQUEST_BODY',
  'UNSUPPORTED_CONTENT_TYPE',
  'VIDEO_IN_OPERATION_NOT_FAILED',
  'CHECKSUM_MISMATCH',
  'VIDEO_IN_RESTART_CHECKSUM_MISMATCH',
  'INVALID_HTTPS_URL',
  'UNEXPECTED_CONTENT_RANGE',
  'CONTENT_RANGE_HEADER_INVALID',
  'CONTENT_NOT_PARTIAL_ERROR',
  'PARSE_CONTENT_TYPE_ERROR',
  'NO_CONTENT',
  'RESOLVE_OBJECT_METADATA_ERROR',
  'VIDEO_NOT_FULLY_INGESTED',
  'CONFLICTING_DERIVED_VIDEO_IDS',
  'WEBHOOK_NOT_ACTIVE',
  'TOO_MANY_WEBHOOK_TEST_EVENTS',
  'WEBHOOK_RATE_LIMIT_EXCEEDED',
  'MAXIMUM_AMOUNT_OF_ACTIVE_WEBHOOKS_REACHED',
  'MAXIMUM_AMOUNT_OF_ACTIVE_API_KEYS_REACHED',
  'ACTIVE_API_KEY_CANNOT_BE_DELETED',
  'PROJECT_WITH_VIDEOS_CANNOT_BE_DELETED',
  'BAD_REQUEST',
  'UNAUTHORIZED',
  'NOT_FOUND',
  'CONFLICT',
  'INTERNAL_SERVER_ERROR',
] as const;

export const serviceErrorCodes = [
  /** The source's ETag, Last-Modified or size changed while it was being copied. */
  'SOURCE_CHANGED',
  /** The source could not be reached: connection refused or reset, TLS failure, timeout. */
  'SOURCE_UNREACHABLE',
  /** The source answered a part request with an HTTP error status. */
  'SOURCE_HTTP_ERROR',
  /** The source compressed a range although `Accept-Encoding: identity` was sent. */
  'CONTENT_ENCODING_NOT_IDENTITY',
  /** The copy job was interrupted (process crashes) more often than its retry budget allows. */
  'COPY_INTERRUPTED',
  /** The stored file has no video stream (audio only, text, an image sequence ffprobe cannot read). */
  'NOT_A_VIDEO',
  /** The stored file has a video stream but ffmpeg cannot decode it (truncated, corrupted). */
  'MEDIA_UNREADABLE',
  /**
   * The stored file is a playlist, manifest, reference movie or other format outside the allow-list
   * of single-file containers (docs/media-security.md); nothing it names was opened.
   */
  'UNSUPPORTED_MEDIA_FORMAT',
  /**
   * An ingestion or clip ran past a limit (wall-clock time, CPU time, memory), or the media's
   * duration is unknown or longer than a full ingestion takes.
   */
  'MEDIA_LIMIT_EXCEEDED',
  /** ffmpeg failed while ingesting or cutting a video that could be read. */
  'MEDIA_PROCESSING_FAILED',
  /** An ingestion or clip job was interrupted (process crashes) more often than its retry budget allows. */
  'MEDIA_JOB_INTERRUPTED',
  /** The request body is larger than the server accepts. */
  'PAYLOAD_TOO_LARGE',
  /** The service is shutting down or one of its dependencies is unavailable. */
  'SERVICE_UNAVAILABLE',
  /** A webhook delivery attempt got a response other than 2xx (redirects included: they are never followed). */
  'WEBHOOK_HTTP_ERROR',
  /** A webhook delivery attempt could not reach the receiver: refused, reset, TLS failure. */
  'WEBHOOK_UNREACHABLE',
  /** A webhook delivery attempt got no complete response within the timeout (10 s). */
  'WEBHOOK_TIMEOUT',
  /** The request line and headers are larger than the HTTP parser accepts (16 KiB). */
  'HEADERS_TOO_LARGE',
  /** The request did not arrive completely within the server's time limit. */
  'REQUEST_TIMEOUT',
] as const;

export type ErrorCode = (typeof contractErrorCodes)[number] | (typeof serviceErrorCodes)[number];

/**
 * Every error code Pixop documents, whether this service reports it or not. An error body whose
 * `errorCode` is one of these repeats it in `errorCodeEnum`, which Pixop's clients switch on; this
 * service's own codes are not among them and go without it.
 */
export const pixopErrorCodes = [
  'UNKNOWN',
  'TOO_MANY_REQUESTS',
  'INVALID_CREDENTIALS',
  'ACCOUNT_LOCKED',
  'ACCOUNT_DISABLED',
  'ACCOUNT_EXPIRED',
  'MISSING_API_KEY',
  'INVALID_API_KEY',
  'ACCESS_DENIED',
  'FORBIDDEN',
  'RESOURCE_NOT_FOUND',
  'TEAM_NOT_FOUND',
  'DEFAULT_TEAM_NOT_API_ENABLED',
  'INVALID_INPUT',
  'VALIDATION_ERROR',
  'INVALID_REQUEST_BODY',
  'MISSING_REQUEST_BODY',
  'UNSUPPORTED_CONTENT_TYPE',
  'VIDEO_IN_OPERATION_NOT_FAILED',
  'CHECKSUM_MISMATCH',
  'VIDEO_IN_RESTART_CHECKSUM_MISMATCH',
  'INVALID_HTTPS_URL',
  'UNEXPECTED_CONTENT_RANGE',
  'CONTENT_RANGE_HEADER_INVALID',
  'CONTENT_NOT_PARTIAL_ERROR',
  'PARSE_CONTENT_TYPE_ERROR',
  'NO_CONTENT',
  'RESOLVE_OBJECT_METADATA_ERROR',
  'BUCKET_NOT_FOUND',
  'KEY_NOT_FOUND',
  'HEAD_BUCKET_ERROR',
  'HEAD_OBJECT_ERROR',
  'OBJECT_ALREADY_EXISTS',
  'VIDEO_OUT_OPERATION_NOT_FAILED',
  'VIDEO_ALREADY_BEING_COPIED_TO_OUTPUT_LOCATION',
  'ONGOING_COPY_TO_OUTPUT_NEEDS_TO_BE_RESTARTED_OR_ABANDONED',
  'VIDEO_PROCESSING_NOT_DONE',
  'CONFLICTING_DERIVED_VIDEO_IDS',
  'VIDEO_NOT_FULLY_INGESTED',
  'VIDEO_COMPARISON_CONFLICT',
  'WEBHOOK_NOT_ACTIVE',
  'TOO_MANY_WEBHOOK_TEST_EVENTS',
  'WEBHOOK_RATE_LIMIT_EXCEEDED',
  'MAXIMUM_AMOUNT_OF_ACTIVE_WEBHOOKS_REACHED',
  'MAXIMUM_AMOUNT_OF_ACTIVE_API_KEYS_REACHED',
  'ACTIVE_API_KEY_CANNOT_BE_DELETED',
  'PROJECT_WITH_VIDEOS_CANNOT_BE_DELETED',
  'INVALID_DATE_TIME_RANGE',
  'BAD_REQUEST',
  'UNAUTHORIZED',
  'NOT_FOUND',
  'CONFLICT',
  'INTERNAL_SERVER_ERROR',
] as const;

export type PixopErrorCode = (typeof pixopErrorCodes)[number];

/** The codes this service reports that Pixop documents: exactly the contract's codes. */
export type ReportedPixopErrorCode = Extract<ErrorCode, PixopErrorCode>;

// Checked by the compiler: every contract code is one Pixop documents, and none of this service's own is.
const contractCodesArePixops: readonly PixopErrorCode[] = contractErrorCodes;
type ServiceCodeInPixops = Extract<(typeof serviceErrorCodes)[number], PixopErrorCode>;
const noServiceCodeIsPixops: [ServiceCodeInPixops] extends [never] ? true : ServiceCodeInPixops = true;
void contractCodesArePixops;
void noServiceCodeIsPixops;

const pixopCodes: ReadonlySet<string> = new Set(pixopErrorCodes);

/** The `errorCodeEnum` of an error body: the code when Pixop documents it, else undefined. */
export function errorCodeEnumOf(code: ErrorCode): ReportedPixopErrorCode | undefined {
  return pixopCodes.has(code) ? (code as ReportedPixopErrorCode) : undefined;
}

/** One problem with one input field, as the contract's `validationErrors` items. */
export interface FieldError {
  field: string;
  value: unknown;
  message: string;
}

export interface AppErrorOptions {
  cause?: unknown;
  validationErrors?: FieldError[];
  /**
   * The error is about the source's credentials (an S3 key pair), not the caller's: the API
   * answers it as a bad request rather than 401/403, which would say the API key is wrong.
   */
  aboutSource?: boolean;
}

/**
 * The one error type domain code and adapters throw. It carries a catalog code and a message that
 * tells the user what was wrong and what to do; the API maps the code to an HTTP status.
 */
export class AppError extends Error {
  override readonly name = 'AppError';
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | null;
  readonly validationErrors: FieldError[];
  readonly aboutSource: boolean;

  constructor(
    code: ErrorCode,
    message: string,
    details: Record<string, unknown> | null = null,
    options: AppErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = details;
    this.validationErrors = options.validationErrors ?? [];
    this.aboutSource = options.aboutSource ?? false;
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}

/** The error a stored operation (copy, ingestion, ...) shows in its status. */
export interface OperationError {
  code: ErrorCode;
  message: string;
  details: Record<string, unknown>;
}

export function toOperationError(error: AppError): OperationError {
  return { code: error.code, message: error.message, details: error.details ?? {} };
}
