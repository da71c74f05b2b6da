/**
 * The one way out of the service. A URL becomes a PinnedTarget only after its syntax passed the URL
 * policy and its host was resolved once and every address passed the address policy; connections
 * to it go only to those addresses (undici's connector is given a lookup that answers from the pin
 * and never asks DNS again), so a second DNS answer cannot redirect them. Redirects are followed by
 * hand, each hop pinned and checked the same way. Proxy environment variables play no part: every
 * request goes through a Pool built here, never undici's global dispatcher.
 */
import type { LookupAddress } from 'node:dns';
import net, { type AddressInfo } from 'node:net';
import type { Writable } from 'node:stream';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import { Client, Pool } from 'undici';
import type { Dispatcher } from 'undici';
import { AppError } from '../domain/errors.js';
import type { HostResolver } from './resolver.js';
import { checkResolvedAddresses, checkUrlSyntax, type CheckedUrl, type UrlPolicyOptions } from './url-policy.js';
import { isNetworkError, sourceUnreachable } from './network-errors.js';

export interface OutboundTimeouts {
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  idleTimeoutMs: number;
}

export interface OutboundClientOptions {
  policy: UrlPolicyOptions;
  resolver: HostResolver;
  timeouts: OutboundTimeouts;
  /** Extra trusted CA certificates (PEM) on top of Node's store; for tests that run their own CA. */
  extraCaCertificates?: readonly string[];
}

/** A URL whose host was checked, with the addresses every connection to it must use. */
export interface PinnedTarget {
  url: URL;
  hostname: string;
  port: number;
  addresses: readonly string[];
}

export type OutboundResponse = Dispatcher.ResponseData;

export interface OutboundRequest {
  method?: 'GET' | 'HEAD' | 'POST';
  headers: Record<string, string>;
  /** The request body (POST only). */
  body?: string;
  signal?: AbortSignal;
}

export interface ResponseHead {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
}

/** A keep-alive connection pool to one pinned target. */
export interface PinnedPool {
  readonly target: PinnedTarget;
  request(request: OutboundRequest): Promise<OutboundResponse>;
  /**
   * Sends a request and writes the response body straight into the Writable that `sink` returns
   * for the status and headers (no intermediate readable: the cheapest path for bulk bytes).
   * Resolves when the writable has finished; an error thrown by `sink` or raised by the writable
   * aborts the request and rejects with that error.
   */
  stream(request: OutboundRequest, sink: (head: ResponseHead) => Writable): Promise<void>;
  close(): Promise<void>;
}

const MAX_REDIRECTS = 5;
const redirectStatuses = new Set([301, 302, 303, 307, 308]);

export class OutboundClient {
  /**
   * Built once: passing `ca` to every connect makes Node parse the whole root store again for each
   * TLS connection (tens of milliseconds each), which webhook deliveries open many of.
   */
  private readonly secureContext: SecureContext | null;

  constructor(private readonly options: OutboundClientOptions) {
    this.secureContext = options.extraCaCertificates
      ? createSecureContext({ ca: [...rootCertificates, ...options.extraCaCertificates] })
      : null;
  }

  /** Checks the URL and resolves and checks its host; throws AppError INVALID_HTTPS_URL when refused. */
  async pin(input: string): Promise<PinnedTarget> {
    const checked = checkUrlSyntax(input, this.options.policy);
    const addresses =
      checked.literalAddress === null
        ? await this.options.resolver.resolve(checked.hostname)
        : [checked.literalAddress];
    checkResolvedAddresses(checked, addresses, this.options.policy);
    return toTarget(checked, addresses);
  }

  /** Rebuilds a target pinned earlier, checking it again against the current policy (no DNS). */
  restore(input: string, addresses: readonly string[]): PinnedTarget {
    const checked = checkUrlSyntax(input, this.options.policy);
    checkResolvedAddresses(checked, addresses, this.options.policy);
    return toTarget(checked, addresses);
  }

  /** A pool of at most `connections` connections to the target's pinned addresses. */
  openPool(target: PinnedTarget, connections: number): PinnedPool {
    const { timeouts } = this.options;
    const pool = new Pool(target.url.origin, {
      connections,
      pipelining: 1,
      connectTimeout: timeouts.connectTimeoutMs,
      headersTimeout: timeouts.headersTimeoutMs,
      bodyTimeout: timeouts.idleTimeoutMs,
      keepAliveTimeout: 30_000,
      connect: {
        lookup: pinnedLookup(target),
        // Without extra CAs Node's default store applies (including NODE_EXTRA_CA_CERTS).
        ...(this.secureContext ? { secureContext: this.secureContext } : {}),
      },
    });
    const origin = target.url.origin;
    return {
      target,
      request: async (request) => {
        try {
          return await pool.request({
            origin,
            path: `${target.url.pathname}${target.url.search}`,
            method: request.method ?? 'GET',
            headers: request.headers,
            body: request.body ?? null,
            signal: request.signal ?? null,
          });
        } catch (error) {
          if (request.signal?.aborted) throw request.signal.reason ?? error;
          throw sourceUnreachable(error, origin, timeouts);
        }
      },
      stream: async (request, sink) => {
        try {
          await pool.stream(
            {
              origin,
              path: `${target.url.pathname}${target.url.search}`,
              method: request.method ?? 'GET',
              headers: request.headers,
              signal: request.signal ?? null,
            },
            ({ statusCode, headers }) => sink({ statusCode, headers }),
          );
        } catch (error) {
          if (request.signal?.aborted) throw request.signal.reason ?? error;
          // Failures of the sink (storage, checks) pass through; only the connection's own are wrapped.
          if (isNetworkError(error)) throw sourceUnreachable(error, origin, timeouts);
          throw error;
        }
      },
      close: async () => {
        await pool.close().catch(() => pool.destroy());
      },
    };
  }

  /**
   * Sends a request to `input`, following up to MAX_REDIRECTS redirects by hand; each hop is
   * checked and pinned like the first URL. Returns the final response with the pool it came from
   * (the caller closes it after consuming the body).
   */
  async requestFollowingRedirects(
    input: string,
    request: OutboundRequest,
  ): Promise<{ response: OutboundResponse; pool: PinnedPool; hops: number }> {
    let url = input;
    for (let hops = 0; ; hops += 1) {
      const pool = this.openPool(await this.pin(url), 1);
      let response: OutboundResponse;
      try {
        response = await pool.request(request);
      } catch (error) {
        await pool.close();
        throw error;
      }
      const location = headerValue(response.headers, 'location');
      if (!redirectStatuses.has(response.statusCode) || location === null) return { response, pool, hops };
      await response.body.dump().catch(() => undefined);
      await pool.close();
      if (hops + 1 > MAX_REDIRECTS) {
        throw new AppError(
          'INVALID_HTTPS_URL',
          `the URL redirected more than ${MAX_REDIRECTS} times: give the final URL of the file`,
          { reason: 'TOO_MANY_REDIRECTS', redirects: hops + 1 },
        );
      }
      url = resolveRedirect(url, location);
    }
  }
}

function toTarget(checked: CheckedUrl, addresses: readonly string[]): PinnedTarget {
  return { url: checked.url, hostname: checked.hostname, port: checked.port, addresses: [...addresses] };
}

function resolveRedirect(from: string, location: string): string {
  try {
    return new URL(location, from).toString();
  } catch (error) {
    throw new AppError(
      'INVALID_HTTPS_URL',
      `the URL redirected to an invalid location ${JSON.stringify(location.slice(0, 200))}`,
      { reason: 'INVALID_REDIRECT' },
      { cause: error },
    );
  }
}

export function headerValue(headers: Record<string, string | string[] | undefined>, name: string): string | null {
  const value = headers[name];
  if (value === undefined) return null;
  return Array.isArray(value) ? (value[0] ?? null) : value;
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for net.connect that answers only from the pin: the checked addresses for the pinned
 * host name, an error for any other name. It serves both the single-address and the `all: true`
 * (happy eyeballs) forms of the call.
 */
function pinnedLookup(target: PinnedTarget) {
  const answers: LookupAddress[] = target.addresses.map((address) => ({
    address,
    family: net.isIPv6(address) ? 6 : 4,
  }));
  return (hostname: string, options: { all?: boolean; family?: number | string }, callback: LookupCallback): void => {
    const wanted = hostname
      .replace(/^\[(.*)\]$/, '$1')
      .replace(/\.$/, '')
      .toLowerCase();
    const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : Number(options.family ?? 0);
    const matching =
      wanted === target.hostname ? answers.filter((answer) => family === 0 || answer.family === family) : [];
    if (matching.length === 0) {
      const error: NodeJS.ErrnoException = new Error(`${hostname} is not a pinned host of this connection`);
      error.code = 'ENOTFOUND';
      callback(error, options.all ? [] : '', 0);
      return;
    }
    if (options.all) callback(null, matching);
    else callback(null, matching[0]?.address ?? '', matching[0]?.family ?? 4);
  };
}

/**
 * Makes undici compile its HTTP/1 parser now rather than at the process's first connection. The
 * parser is WebAssembly (llhttp), compiled synchronously when a first socket connects; under
 * `--no-liftoff`, as the service runs, that takes about 90 ms of the event loop, which would
 * otherwise stall the first import's probe and every request in flight with it. One request to a
 * listener of its own on loopback, answered by hand, does it before the service takes requests
 * (a connection the service opens to itself, never to an address from a user).
 */
export async function warmHttpParser(): Promise<void> {
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.once('data', () => socket.end('HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n'));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const client = new Client(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  try {
    const response = await client.request({ path: '/', method: 'GET' });
    await response.body.dump();
  } finally {
    await client.close().catch(() => client.destroy());
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
