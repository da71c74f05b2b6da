/**
 * Turning low-level connection failures into messages a user can act on, and telling transient
 * failures (worth a retry) from permanent ones (a certificate that will not become valid).
 */
import { AppError } from '../domain/errors.js';

const tlsTrustCodes = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'HOSTNAME_MISMATCH',
]);

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

const connectionCodes = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/** True for failures of the connection itself (undici's errors, socket errno codes, TLS). */
export function isNetworkError(error: unknown): boolean {
  const code = errorCode(error);
  return (
    code.startsWith('UND_ERR_') ||
    connectionCodes.has(code) ||
    tlsTrustCodes.has(code) ||
    code.startsWith('ERR_TLS_') ||
    code.startsWith('ERR_SSL_')
  );
}

/** True for network failures that a later attempt may not meet (resets, timeouts); false for certificate problems. */
export function isTransientNetworkError(error: unknown): boolean {
  return isNetworkError(error) && !tlsTrustCodes.has(errorCode(error));
}

/** A sentence saying what went wrong talking to `origin` (scheme://host:port). */
function describeNetworkError(
  error: unknown,
  origin: string,
  timeouts: { connectTimeoutMs: number; headersTimeoutMs: number; idleTimeoutMs: number },
): string {
  const code = errorCode(error);
  if (tlsTrustCodes.has(code))
    return `the TLS certificate of ${origin} is not valid for this host or not trusted (${code})`;
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return `connecting to ${origin} timed out after ${timeouts.connectTimeoutMs} ms`;
    case 'ECONNREFUSED':
      return `${origin} refused the connection`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `${origin} is not reachable from this server (${code})`;
    case 'UND_ERR_HEADERS_TIMEOUT':
      return `${origin} did not answer within ${timeouts.headersTimeoutMs} ms`;
    case 'UND_ERR_BODY_TIMEOUT':
      return `${origin} stopped sending data for ${timeouts.idleTimeoutMs} ms`;
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
    case 'EPIPE':
      return `${origin} closed the connection before the response was complete`;
    case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
      return `${origin} sent a body whose length differs from its Content-Length`;
    default:
      return `the request to ${origin} failed: ${(error as Error | null)?.message ?? String(error)}`;
  }
}

/** Wraps a connection failure as SOURCE_UNREACHABLE, keeping the original as the cause. */
export function sourceUnreachable(
  error: unknown,
  origin: string,
  timeouts: { connectTimeoutMs: number; headersTimeoutMs: number; idleTimeoutMs: number },
): AppError {
  return new AppError(
    'SOURCE_UNREACHABLE',
    describeNetworkError(error, origin, timeouts),
    { origin, cause: errorCode(error) || null },
    { cause: error },
  );
}
