/**
 * Requests Node's HTTP parser refuses before Fastify sees them (headers or URL over 16 KiB, a
 * malformed request line or header, a request that arrives too slowly) still get the contract's
 * error body. There is no request object yet, so the answer is written to the socket directly
 * (as Fastify's own default handler does) with a fresh request id, and the connection is closed.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { ErrorCode } from '../domain/errors.js';
import { buildErrorBody, httpStatusOf } from './errors.js';

/** The reason phrases of the statuses written here. */
const reasonPhrases: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
};

/** What the handler uses of the connection's socket. */
interface ClientSocket {
  readonly destroyed: boolean;
  readonly writable: boolean;
  end(data: string, callback: () => void): unknown;
  destroy(): unknown;
}

interface ClientError extends Error {
  code?: string;
  /** The bytes the parser had read when it gave up: a Buffer, which Node sets for parse errors. */
  rawPacket?: unknown;
}

function describe(error: ClientError): { code: ErrorCode; message: string } {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return {
        code: 'HEADERS_TOO_LARGE',
        message: 'the request line and headers are larger than 16 KiB: send a shorter URL or fewer headers',
      };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'ERR_HTTP_HEADERS_TIMEOUT':
      return { code: 'REQUEST_TIMEOUT', message: 'the request did not arrive in time' };
    default:
      return {
        code: 'BAD_REQUEST',
        message: `the request is not valid HTTP/1.1 (${error.code ?? 'parse error'}): check the request line and headers`,
      };
  }
}

/** The path of the request line the parser read, when it is a plain one; else empty. */
function requestPathOf(rawPacket: unknown): string {
  if (!Buffer.isBuffer(rawPacket)) return '';
  const line = /^[A-Z]{1,20} (\/[\x21-\x7e]{0,2047})[ \r\n]/.exec(rawPacket.subarray(0, 2100).toString('latin1'));
  return line?.[1]?.split('?')[0] ?? '';
}

/** The response to a refused request, as the bytes written to the socket. */
export function clientErrorResponse(
  error: ClientError,
  requestId: string,
  now: Date,
): { status: number; code: ErrorCode; response: string } {
  const { code, message } = describe(error);
  const status = httpStatusOf[code];
  const body = buildErrorBody({
    now,
    requestId,
    requestPath: requestPathOf(error.rawPacket),
    code,
    statusCode: status,
    message,
    validationErrors: [],
    details: null,
  });
  const json = JSON.stringify(body);
  const head = [
    `HTTP/1.1 ${status} ${reasonPhrases[status] ?? 'Error'}`,
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(json)}`,
    `X-Request-Id: ${requestId}`,
    'X-Content-Type-Options: nosniff',
    'Connection: close',
  ];
  return { status, code, response: `${head.join('\r\n')}\r\n\r\n${json}` };
}

/** Fastify's `clientErrorHandler`. */
export function createClientErrorHandler(log: Logger): (error: ClientError, socket: ClientSocket) => void {
  return (error, socket) => {
    // A reset connection has nobody left to answer.
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const requestId = randomUUID();
    const { status, code, response } = clientErrorResponse(error, requestId, new Date());
    log.info(
      { requestId, statusCode: status, errorCode: code, parserCode: error.code },
      'refused a request the HTTP parser could not read',
    );
    if (socket.writable) socket.end(response, () => socket.destroy());
    else socket.destroy();
  };
}
