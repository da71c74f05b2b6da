/**
 * The way out for one webhook's deliveries: the URL is checked and its host resolved and pinned
 * (src/net) before every batch of sends, and requests go only to the pinned addresses, through a
 * keep-alive pool that is kept while the addresses stay the same. Redirects are never followed.
 */
import { storableText } from '../domain/stored-text.js';
import { isAppError, type AppError, type ErrorCode } from '../domain/errors.js';
import { isSuccessfulStatus } from '../domain/webhook-schedule.js';
import { RESPONSE_BODY_CHARS } from '../domain/webhooks.js';
import { describeHttpStatus } from '../net/http-status.js';
import { headerValue, type OutboundClient, type PinnedPool } from '../net/outbound-client.js';

/** What one POST to a webhook ended in, as the delivery log records it. */
export interface SendOutcome {
  requestedAt: Date;
  responseTimeMillis: number;
  statusCode: number | null;
  responseBody: string | null;
  errorCode: ErrorCode | null;
  errorMessage: string | null;
  retryAfter: string | null;
  /** Headers of a failed response (null for successes and for attempts without a response). */
  responseHeaders: Record<string, string> | null;
}

/** The most of a response body that is read; the rest is discarded with the connection. */
const MAX_BODY_BYTES = 64 * 1024;

export class WebhookConnection {
  private pool: PinnedPool | null = null;
  private poolKey = '';
  private retired: PinnedPool[] = [];

  constructor(
    private readonly client: OutboundClient,
    private readonly timeoutMs: number,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Checks and pins `url` again; throws AppError INVALID_HTTPS_URL when the policy refuses it now. */
  async prepare(url: string, connections: number): Promise<void> {
    const target = await this.client.pin(url);
    const key = `${target.url.href} ${[...target.addresses].sort().join(',')} ${connections}`;
    if (this.pool !== null && key === this.poolKey) return;
    // A replaced pool may still carry another batch's requests: it is closed with the connection.
    if (this.pool !== null) this.retired.push(this.pool);
    this.pool = this.client.openPool(target, connections);
    this.poolKey = key;
  }

  async post(body: string, headers: Record<string, string>, stopSignal: AbortSignal): Promise<SendOutcome> {
    const pool = this.pool;
    if (pool === null) throw new Error('WebhookConnection.post before prepare');
    const requestedAt = this.now();
    const started = performance.now();
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const elapsed = () => Math.round(performance.now() - started);
    try {
      const response = await pool.request({
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        body,
        signal: AbortSignal.any([timeout, stopSignal]),
      });
      const text = await readCapped(response.body);
      const ok = isSuccessfulStatus(response.statusCode);
      const responseBody = storableText(text.slice(0, RESPONSE_BODY_CHARS));
      if (ok)
        return {
          requestedAt,
          responseTimeMillis: elapsed(),
          statusCode: response.statusCode,
          responseBody,
          errorCode: null,
          errorMessage: null,
          retryAfter: null,
          responseHeaders: null,
        };
      const isRedirect = response.statusCode >= 300 && response.statusCode < 400;
      return {
        requestedAt,
        responseTimeMillis: elapsed(),
        statusCode: response.statusCode,
        responseBody,
        errorCode: 'WEBHOOK_HTTP_ERROR',
        errorMessage: isRedirect
          ? `the receiver answered ${describeHttpStatus(response.statusCode)}: redirects are not followed, give the webhook its final URL`
          : `the receiver answered ${describeHttpStatus(response.statusCode)}: only a 2xx status counts as delivered`,
        retryAfter: headerValue(response.headers, 'retry-after'),
        responseHeaders: flattenHeaders(response.headers),
      };
    } catch (error) {
      if (stopSignal.aborted) throw error;
      if (timeout.aborted) {
        return failure(
          requestedAt,
          elapsed(),
          'WEBHOOK_TIMEOUT',
          `the receiver did not answer completely within ${this.timeoutMs} ms`,
        );
      }
      if (isAppError(error)) return failure(requestedAt, elapsed(), 'WEBHOOK_UNREACHABLE', error.message);
      return failure(requestedAt, elapsed(), 'WEBHOOK_UNREACHABLE', `the request failed: ${(error as Error).message}`);
    }
  }

  async close(): Promise<void> {
    const pools = [...this.retired, ...(this.pool ? [this.pool] : [])];
    this.pool = null;
    this.poolKey = '';
    this.retired = [];
    await Promise.all(pools.map((pool) => pool.close()));
  }
}

/** The outcome of an attempt that could not be made because the URL is refused now. */
export function refusedOutcome(error: AppError, requestedAt: Date): SendOutcome {
  return failure(requestedAt, 0, error.code, error.message);
}

function failure(
  requestedAt: Date,
  responseTimeMillis: number,
  errorCode: ErrorCode,
  errorMessage: string,
): SendOutcome {
  return {
    requestedAt,
    responseTimeMillis,
    statusCode: null,
    responseBody: null,
    errorCode,
    errorMessage,
    retryAfter: null,
    responseHeaders: null,
  };
}

function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}

async function readCapped(body: AsyncIterable<Buffer> & { destroy(): void }): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    if (total < MAX_BODY_BYTES) chunks.push(chunk);
    total += chunk.length;
    if (total >= MAX_BODY_BYTES) {
      body.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).toString('utf8');
}
