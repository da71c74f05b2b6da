/**
 * Copying one part: conditional range requests (one, or more when idle connections take over its
 * tail: part-assembly.ts) whose answers must be exactly the requested bytes of the same file,
 * streamed into storage in order while its CRC32C is computed, retried with backoff on
 * failures that may pass (connection errors, stalls, 5xx, 429) and failed at once on answers that
 * prove the copy cannot succeed (a changed file, a server that ignores ranges or compresses them).
 */
import { crc32c } from '@node-rs/crc32';
import { AppError, isAppError } from '../domain/errors.js';
import { formatRangeHeader, parseContentRange } from '../domain/content-range.js';
import type { PartSpec } from '../domain/part-plan.js';
import { parseRetryAfterMs, retryDelayMs, type BackoffPolicy } from '../domain/retry.js';
import { ifRangeValidator, isStrongEtag } from '../domain/source-file.js';
import { describeHttpStatus } from '../net/http-status.js';
import { isTransientNetworkError } from '../net/network-errors.js';
import { headerValue, type PinnedPool, type ResponseHead } from '../net/outbound-client.js';
import {
  PartLengthError,
  RetryablePartStoreError,
  type BlobUpload,
  type CompletedPart,
} from '../storage/blob-store.js';
import { PartAssembly, PieceCutError, TakeoverBudget, type Piece } from './part-assembly.js';
import { foreignContentEncoding, identityHeaders } from './probe.js';
import type { TakenOver, Takeovers } from './takeovers.js';

export interface SourceValidators {
  totalBytes: number;
  etag: string | null;
  lastModified: string | null;
}

export interface PartCopyOptions {
  pool: PinnedPool;
  upload: BlobUpload;
  source: SourceValidators;
  attempts: number;
  backoff: BackoffPolicy;
  retryAfterMaxMs: number;
  /** Waits `ms` or rejects when `signal` aborts; injected so tests control time. */
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  random: () => number;
  now: () => number;
  /** Called with every chunk's size as it is written (for live progress); negative to take back a failed attempt's bytes. */
  onBytes: (delta: number) => void;
  onRetry?: (event: { part: PartSpec; attempt: number; delayMs: number; error: AppError }) => void;
  /**
   * How a part request names the file it expects: `If-Range` (the default; a changed file answers
   * 200 with the whole new file) or `If-Match` with the ETag (S3, which documents no If-Range; a
   * changed object answers 412).
   */
  condition?: 'if-range' | 'if-match';
  /** Completes each attempt's headers just before it is sent (S3 signs them); every header given to it is kept. */
  authorize?: (headers: Record<string, string>) => Promise<Record<string, string>>;
  /** The copy's parts in flight, whose tails idle connections take over; without it a part is one request. */
  takeovers?: Takeovers;
}

/** A failure of one attempt that a later attempt may not meet. */
class TransientPartError extends AppError {
  constructor(
    error: AppError,
    readonly retryAfterMs: number | null = null,
  ) {
    super(error.code, error.message, error.details, { cause: error.cause ?? error });
  }
}

export async function copyPart(part: PartSpec, options: PartCopyOptions, signal: AbortSignal): Promise<CompletedPart> {
  for (let attempt = 1; ; attempt += 1) {
    let written = 0;
    try {
      const result = await attemptPart(part, options, signal, (bytes) => {
        written += bytes;
        options.onBytes(bytes);
      });
      return { ...part, ...result };
    } catch (error) {
      options.onBytes(-written);
      if (signal.aborted) throw signal.reason ?? error;
      const transient = toTransient(error, part);
      if (transient === null) throw error;
      if (attempt >= options.attempts) {
        // The service's own storage kept failing: not the import's fault, so the job is retried
        // (from the recorded parts) rather than the import failed.
        if (transient.cause instanceof RetryablePartStoreError) throw transient.cause;
        throw new AppError(
          transient.code,
          `${transient.message} (part ${part.index + 1}, after ${attempt} attempts)`,
          { ...transient.details, part: part.index, attempts: attempt },
          { cause: transient },
        );
      }
      const delayMs = retryDelayMs({
        attempt,
        policy: options.backoff,
        random: options.random(),
        retryAfterMs: transient.retryAfterMs,
        retryAfterMaxMs: options.retryAfterMaxMs,
      });
      options.onRetry?.({ part, attempt, delayMs, error: transient });
      await options.sleep(delayMs, signal);
    }
  }
}

/**
 * The failures worth another attempt: connection failures on the way in (resets, stalls,
 * refused connections), the retryable statuses marked by checkPartResponse, and a store that was
 * busy or unreachable for a moment (RetryablePartStoreError). Other storage errors and bugs are
 * not retried here.
 */
function toTransient(error: unknown, part: PartSpec): TransientPartError | null {
  if (error instanceof TransientPartError) return error;
  if (error instanceof RetryablePartStoreError) {
    return new TransientPartError(
      new AppError('SERVICE_UNAVAILABLE', error.message, { part: part.index }, { cause: error }),
    );
  }
  if (isAppError(error)) {
    if (error.code === 'SOURCE_UNREACHABLE' && isTransientNetworkError(error.cause))
      return new TransientPartError(error);
    return null;
  }
  if (isTransientNetworkError(error)) {
    return new TransientPartError(
      new AppError(
        'SOURCE_UNREACHABLE',
        `the transfer of part ${part.index + 1} broke off: ${(error as Error).message}`,
        { part: part.index },
        { cause: error },
      ),
    );
  }
  return null;
}

/**
 * One attempt: the part starts as one piece fetched on this connection; idle connections may take
 * over the rest of its pieces meanwhile (see part-assembly.ts), and this connection helps with
 * other pieces once its own is done. Every byte goes into the part's writer in order, through the
 * CRC32C.
 */
async function attemptPart(
  part: PartSpec,
  options: PartCopyOptions,
  signal: AbortSignal,
  onChunk: (bytes: number) => void,
): Promise<Pick<CompletedPart, 'crc32c' | 'receipt'>> {
  let crc = 0;
  const writer = await options.upload.createPartWriter(part, {
    observe: (chunk) => {
      crc = crc32c(chunk, crc);
    },
  });
  const takeovers = options.takeovers ?? null;
  const assembly = new PartAssembly(
    part,
    writer,
    takeovers?.budget ?? new TakeoverBudget(0),
    takeovers?.nextPieceId ?? (() => 0),
    onChunk,
  );
  takeovers?.register(assembly);
  try {
    const [first] = assembly.pieces as [Piece];
    await fetchPiece(assembly, first, options, signal).catch((error: unknown) => assembly.fail(error));
    while (takeovers !== null && !assembly.isSettled && !signal.aborted) {
      const work = takeovers.take();
      if (work === null) break;
      await fetchTakenOver(work, options, signal);
    }
    // Read only once every piece is written: taken-over pieces may still be arriving.
    const receipt = await assembly.done;
    return { crc32c: crc >>> 0, receipt };
  } finally {
    takeovers?.unregister(assembly);
  }
}

/** Fetches a piece taken over from another part: a failure fails that part's attempt, for its owner to retry. */
export async function fetchTakenOver(work: TakenOver, options: PartCopyOptions, signal: AbortSignal): Promise<void> {
  await fetchPiece(work.assembly, work.piece, options, signal).catch((error: unknown) => work.assembly.fail(error));
}

/**
 * One range request for a piece: checked as soon as its head arrives (exact Content-Range of the
 * piece, the same file), its body streamed into the assembly. A piece split while it was fetched
 * ends its request once it has its bytes.
 */
async function fetchPiece(
  assembly: PartAssembly,
  piece: Piece,
  options: PartCopyOptions,
  signal: AbortSignal,
): Promise<void> {
  const range: PartSpec = {
    index: assembly.part.index,
    offsetBytes: piece.offsetBytes,
    lengthBytes: piece.requestedBytes,
  };
  const end = range.offsetBytes + range.lengthBytes - 1;
  const validator = options.condition === 'if-match' ? null : ifRangeValidator(options.source);
  let headers = identityHeaders(formatRangeHeader(range.offsetBytes, end));
  if (validator !== null) headers['if-range'] = validator;
  if (options.condition === 'if-match' && options.source.etag !== null) headers['if-match'] = options.source.etag;
  if (options.authorize) headers = await options.authorize(headers);
  try {
    await options.pool.stream({ headers, signal: AbortSignal.any([signal, piece.cut.signal]) }, (head) => {
      checkPartResponse(head, range, options.source, validator !== null, options.now());
      return assembly.sink(piece);
    });
  } catch (error) {
    if (piece.isFetched && piece.cut.signal.reason instanceof PieceCutError) return;
    throw fromLengthError(error);
  }
}

/** A body of the wrong length: too long is the server's error, too short a broken connection. */
function fromLengthError(error: unknown): unknown {
  if (!(error instanceof PartLengthError)) return error;
  const label = `part ${error.part.index + 1}`;
  if (error.isLonger) {
    return new AppError(
      'UNEXPECTED_CONTENT_RANGE',
      `the server sent more than the ${error.part.lengthBytes} bytes asked for in ${label}`,
      { part: error.part.index },
    );
  }
  return new TransientPartError(
    new AppError(
      'SOURCE_UNREACHABLE',
      `the connection ended after ${error.receivedBytes} of the ${error.part.lengthBytes} bytes of ${label}`,
      { part: error.part.index, receivedBytes: error.receivedBytes },
    ),
  );
}

function checkPartResponse(
  response: ResponseHead,
  part: PartSpec,
  source: SourceValidators,
  sentIfRange: boolean,
  nowMs: number,
): void {
  const status = response.statusCode;
  const label = `part ${part.index + 1}`;
  if (status === 206) {
    checkPartHeaders(response, part, source);
    return;
  }
  if (status === 200) {
    // A 200 to a conditional range request means the file changed, unless it still carries the
    // validator we sent: then the server simply ignored the Range header.
    if (sentIfRange && !carriesSameValidator(response, source)) {
      throw new AppError(
        'SOURCE_CHANGED',
        `the file at the URL changed while it was being copied: the server answered ${label}'s conditional range request with the whole new file; restart the import to copy the new file`,
        { part: part.index, status },
      );
    }
    throw new AppError(
      'CONTENT_NOT_PARTIAL_ERROR',
      `the server answered 200 to the range request of ${label}: it stopped honouring range requests`,
      { part: part.index, status },
    );
  }
  if (status === 416 || status === 412) {
    throw new AppError(
      'SOURCE_CHANGED',
      `the file at the URL changed while it was being copied: the server answered ${describeHttpStatus(status)} to ${label}`,
      { part: part.index, status },
    );
  }
  const retryable = status === 408 || status === 425 || status === 429 || status >= 500;
  const error = new AppError('SOURCE_HTTP_ERROR', `the server answered ${describeHttpStatus(status)} to ${label}`, {
    part: part.index,
    status,
  });
  if (retryable)
    throw new TransientPartError(error, parseRetryAfterMs(headerValue(response.headers, 'retry-after'), nowMs));
  throw error;
}

function checkPartHeaders(response: ResponseHead, part: PartSpec, source: SourceValidators): void {
  const label = `part ${part.index + 1}`;
  const encoding = foreignContentEncoding(response);
  if (encoding !== null) {
    throw new AppError(
      'CONTENT_ENCODING_NOT_IDENTITY',
      `the server sent ${label} with Content-Encoding ${encoding} although identity was asked for: the file's bytes cannot be copied exactly`,
      { part: part.index, contentEncoding: encoding },
    );
  }
  const header = headerValue(response.headers, 'content-range');
  const range = parseContentRange(header);
  if (range === null) {
    throw new AppError(
      'CONTENT_RANGE_HEADER_INVALID',
      `the server answered ${label} with an invalid Content-Range header ${JSON.stringify(header?.slice(0, 100) ?? null)}`,
      { part: part.index, contentRange: header },
    );
  }
  if (range.totalBytes !== null && range.totalBytes !== source.totalBytes) {
    throw new AppError(
      'SOURCE_CHANGED',
      `the file at the URL changed while it was being copied: its size went from ${source.totalBytes} to ${range.totalBytes} bytes`,
      { part: part.index, totalBytes: range.totalBytes, expectedTotalBytes: source.totalBytes },
    );
  }
  const end = part.offsetBytes + part.lengthBytes - 1;
  if (range.start !== part.offsetBytes || range.end !== end || range.totalBytes === null) {
    throw new AppError(
      'UNEXPECTED_CONTENT_RANGE',
      `the server answered the request for bytes ${part.offsetBytes}-${end} with ${header}`,
      { part: part.index, contentRange: header },
    );
  }
  const etag = headerValue(response.headers, 'etag');
  if (isStrongEtag(source.etag) && etag !== null && etag !== source.etag) {
    throw new AppError(
      'SOURCE_CHANGED',
      `the file at the URL changed while it was being copied: its ETag went from ${source.etag} to ${etag}`,
      { part: part.index, etag, expectedEtag: source.etag },
    );
  }
  const lastModified = headerValue(response.headers, 'last-modified');
  if (
    !isStrongEtag(source.etag) &&
    source.lastModified !== null &&
    lastModified !== null &&
    lastModified !== source.lastModified
  ) {
    throw new AppError(
      'SOURCE_CHANGED',
      `the file at the URL changed while it was being copied: its Last-Modified went from ${source.lastModified} to ${lastModified}`,
      { part: part.index },
    );
  }
}

function carriesSameValidator(response: ResponseHead, source: SourceValidators): boolean {
  if (isStrongEtag(source.etag)) return headerValue(response.headers, 'etag') === source.etag;
  return source.lastModified !== null && headerValue(response.headers, 'last-modified') === source.lastModified;
}
