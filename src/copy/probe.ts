/**
 * The probe: one `Range: bytes=0-0` request that proves, before anything is created, that the
 * source serves byte ranges and states its size, and records the validators (ETag, Last-Modified)
 * every later part request sends in `If-Range`.
 */
import { AppError } from '../domain/errors.js';
import { parseContentRange, parseUnsatisfiedContentRange } from '../domain/content-range.js';
import { MAX_SOURCE_BYTES } from '../domain/part-plan.js';
import {
  headerValue,
  type OutboundClient,
  type OutboundResponse,
  type PinnedPool,
  type ResponseHead,
} from '../net/outbound-client.js';
import { describeHttpStatus } from '../net/http-status.js';

export interface SourceInfo {
  /** The URL the parts are fetched from (after redirects). */
  fetchUrl: string;
  /** The addresses that URL's host was checked at. */
  addresses: string[];
  totalBytes: number;
  etag: string | null;
  lastModified: string | null;
  contentType: string | null;
}

export const USER_AGENT = 'reelin-video-intake';

export function identityHeaders(range: string): Record<string, string> {
  return { range, 'accept-encoding': 'identity', 'user-agent': USER_AGENT };
}

/** The response's Content-Encoding when it is not identity (the bytes are then not the file's), else null. */
export function foreignContentEncoding(response: ResponseHead): string | null {
  const encoding = headerValue(response.headers, 'content-encoding');
  return encoding !== null && encoding.trim().toLowerCase() !== 'identity' ? encoding : null;
}

/** What a probe learnt: where the parts come from, the size, and the validators and type the response carried. */
export function describeSource(pool: PinnedPool, response: ResponseHead, totalBytes: number): SourceInfo {
  return {
    fetchUrl: pool.target.url.toString(),
    addresses: [...pool.target.addresses],
    totalBytes,
    etag: headerValue(response.headers, 'etag'),
    lastModified: headerValue(response.headers, 'last-modified'),
    contentType: headerValue(response.headers, 'content-type'),
  };
}

/** Probes `url`; throws AppError with the most specific code when the source cannot be imported. */
export async function probeSource(client: OutboundClient, url: string, signal?: AbortSignal): Promise<SourceInfo> {
  const { response, pool } = await client.requestFollowingRedirects(url, {
    headers: identityHeaders('bytes=0-0'),
    ...(signal ? { signal } : {}),
  });
  try {
    return describeSource(pool, response, checkProbeResponse(response));
  } finally {
    await response.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
    await pool.close();
  }
}

function checkProbeResponse(response: OutboundResponse): number {
  const status = response.statusCode;
  const contentRange = headerValue(response.headers, 'content-range');
  if (status === 416) {
    if (parseUnsatisfiedContentRange(contentRange)?.totalBytes === 0) {
      throw new AppError('NO_CONTENT', 'the file at the URL is empty (0 bytes): there is nothing to import', {
        status,
      });
    }
    throw new AppError(
      'CONTENT_RANGE_HEADER_INVALID',
      'the server answered 416 Range Not Satisfiable to a request for the first byte',
      { status, contentRange },
    );
  }
  if (status === 200) {
    throw new AppError(
      'CONTENT_NOT_PARTIAL_ERROR',
      'the server answered 200 to a range request: it does not support HTTP range requests, which this import requires',
      { status },
    );
  }
  if (status !== 206) {
    throw new AppError(
      'RESOLVE_OBJECT_METADATA_ERROR',
      `the server answered ${describeHttpStatus(status)} to a request for the first byte: check that the URL points to the file and is publicly readable`,
      { status },
    );
  }
  const encoding = foreignContentEncoding(response);
  if (encoding !== null) {
    throw new AppError(
      'CONTENT_ENCODING_NOT_IDENTITY',
      `the server sent the range with Content-Encoding ${encoding} although identity was asked for: the file's bytes cannot be copied exactly`,
      { contentEncoding: encoding },
    );
  }
  const range = parseContentRange(contentRange);
  if (range === null) {
    throw new AppError(
      'CONTENT_RANGE_HEADER_INVALID',
      contentRange === null
        ? 'the server answered 206 without a Content-Range header'
        : `the server's Content-Range header ${JSON.stringify(contentRange.slice(0, 100))} is not a valid byte range`,
      { contentRange },
    );
  }
  if (range.totalBytes === null) {
    throw new AppError(
      'CONTENT_RANGE_HEADER_INVALID',
      "the server does not state the file's total size in Content-Range (it sent */*): the size must be known to copy the file in parts",
      { contentRange },
    );
  }
  if (range.start !== 0 || range.end !== 0) {
    throw new AppError(
      'UNEXPECTED_CONTENT_RANGE',
      `the server answered a request for bytes 0-0 with bytes ${range.start}-${range.end}`,
      { contentRange },
    );
  }
  if (range.totalBytes > MAX_SOURCE_BYTES) {
    throw new AppError(
      'VALIDATION_ERROR',
      `the file is ${range.totalBytes} bytes; at most ${MAX_SOURCE_BYTES} bytes (500 GB) can be imported`,
      { totalBytes: range.totalBytes, maxBytes: MAX_SOURCE_BYTES },
      {
        validationErrors: [
          { field: 'url', value: null, message: `the file is larger than 500 GB (${range.totalBytes} bytes)` },
        ],
      },
    );
  }
  return range.totalBytes;
}
