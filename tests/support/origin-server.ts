/**
 * A local HTTPS origin for end-to-end tests and the copy benchmark: it serves files with byte
 * ranges the way a good CDN does, and each path can be told to misbehave (fail, drop, stall, drip,
 * throttle, lie in its headers, change under the client) so tests can prove the copy engine copes.
 *
 * How a request is answered, in order: optional delay; redirect; forced status; 405 for methods
 * other than GET/HEAD; 404 for unknown paths; forced failures of the first range requests; then the
 * file, whose body goes through the pacing (drip, per-connection throttle) and cutting (drop, stall)
 * that the path's behaviour asks for.
 *
 * Everything the server does is recorded in `stats` so tests can assert exact counts: each request
 * with the status and body bytes it was actually sent, and TLS connection counts.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { STATUS_CODES, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import type { TestPki } from './test-pki.js';

/** A file served from memory. */
export interface OriginFile {
  body: Buffer;
  /** Default `application/octet-stream`. */
  contentType?: string;
}

/** A file served from disk in chunks, never loaded whole (multi-GB benchmark files). */
export interface OriginFileOnDisk {
  path: string;
  /** Bytes served; the file must be at least this long. */
  size: number;
  contentType?: string;
}

/** Conditions a range request may be first-N-limited by: its ordinal among the path's range GETs. */
interface FirstN {
  /** Applies to range GETs 1..first after `setBehaviour`. */
  first: number;
}

/**
 * How one path misbehaves; everything is optional and the default is a well-behaved origin.
 * "Range requests" are GETs carrying a `Range` header, counted from 1 after `setBehaviour` (one
 * counter per path, shared by every `first` below).
 */
export interface OriginBehaviour {
  /** Strong ETag to send; default `"v1"`; null sends none. */
  etag?: string | null;
  /** Last-Modified to send; default a fixed date in 2025; null sends none. */
  lastModified?: string | null;
  /** Answer range requests 200 with the whole body (Accept-Ranges still claims `bytes`). */
  ignoreRange?: boolean;
  /** Answer range requests 206 with `Content-Encoding: gzip` and the gzipped slice as body. */
  gzipRanges?: boolean;
  /** The first N range requests answer `status` (e.g. 503, 429) with a short text body. */
  failRequests?: FirstN & { status: number; retryAfter?: string };
  /** The first N range requests send headers and `afterBytes` body bytes, then destroy the socket. */
  dropAfterBytes?: FirstN & { afterBytes: number };
  /** The first N range requests send headers and `afterBytes` body bytes, then go silent with the
   * socket open until the client gives up or the server closes. `afterBytes` should be below the
   * body length, or the client has the whole response and sees nothing wrong. */
  stallAfterBytes?: FirstN & { afterBytes: number };
  /** Every file body is paced at this many bytes/s, in small chunks (per response). */
  dripBytesPerSecond?: number;
  /** Body bytes/s allowed per TLS connection (a token bucket shared by that connection's responses). */
  throttleBytesPerSecondPerConnection?: number;
  /** After N range requests the ETag becomes `etag`: If-Range with the old one gets 200. */
  changeEtagAfterRequests?: { after: number; etag: string };
  /** The byte at this file offset is served XOR 0xff in every response covering it. */
  corruptByteAt?: number;
  /** Content-Range totals (after the `/`) say this instead of the real size. Ranges are still
   * resolved against the real data, so one starting past its end answers 416. */
  claimTotalSize?: number;
  /** Replaces a 206's Content-Range (null omits it); gets the served range (inclusive) and real size. */
  contentRange?: (requested: { start: number; end: number }, size: number) => string | null;
  /** Every request answers this status with a short text body. */
  status?: number;
  /** Every request answers this redirect. */
  redirect?: { status: 301 | 302 | 303 | 307 | 308; location: string };
  /** Wait this long before sending the status line. */
  delayHeadersMs?: number;
}

export interface OriginRequestRecord {
  /** Position in `stats.requests` (0-based, restarts at `resetStats`). */
  index: number;
  method: string;
  /** The request target as sent, query included (files are looked up by the part before `?`). */
  path: string;
  range: string | null;
  ifRange: string | null;
  acceptEncoding: string | null;
  /** Status written to the wire; 0 until the status line is written. */
  status: number;
  /** Body bytes handed to the socket (after any gzip); 0 for HEAD. */
  bytesSent: number;
  remoteAddress: string;
  localAddress: string;
  /** Epoch ms. */
  startedAt: number;
  /** Epoch ms when the response finished or was destroyed; may trail the client by a tick. */
  endedAt: number | null;
  /** Epoch ms when the TLS connection that carried the request closed; null while it is open. */
  connectionClosedAt: number | null;
}

export interface OriginStats {
  /** In arrival order. */
  requests: OriginRequestRecord[];
  /** TLS connections accepted (handshake completed). */
  connectionsOpened: number;
  currentConnections: number;
  /** Peak open TLS connections. */
  maxConcurrentConnections: number;
  /** Peak in-flight requests. */
  maxConcurrentRequests: number;
}

export interface OriginServer {
  port: number;
  /** Address the server listens on. */
  host: string;
  /** `https://${host ?? 'localhost'}:${port}${path}`; IPv6 literals get their brackets. */
  url(path: string, host?: string): string;
  /** Live counters; the object stays the same, `resetStats` replaces `requests` with a new array. */
  stats: OriginStats;
  setFile(path: string, file: OriginFile | OriginFileOnDisk): void;
  /** Replaces the path's behaviour and restarts its range-request counter. */
  setBehaviour(path: string, behaviour: OriginBehaviour): void;
  /** Forgets recorded requests and peaks; open connections stay counted as current. */
  resetStats(): void;
  /** Destroys every open socket and in-flight response; resolves when the server is closed. */
  close(): Promise<void>;
}

export interface StartOriginServerOptions {
  pki: TestPki;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
}

const defaultEtag = '"v1"';
const defaultLastModified = 'Mon, 06 Jan 2025 12:00:00 GMT';
const defaultChunkBytes = 64 * 1024;

interface PathBehaviour {
  behaviour: OriginBehaviour;
  rangeRequestsSeen: number;
}

/** Everything one request's handling needs, fixed at arrival so later `setBehaviour` calls don't race. */
interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  record: OriginRequestRecord;
  behaviour: OriginBehaviour;
  file: OriginFile | OriginFileOnDisk | undefined;
  /** 1-based ordinal among the path's range GETs; 0 when this is not one. */
  rangeOrdinal: number;
  etag: string | null;
  lastModified: string | null;
  /** The connection's throttle, when the behaviour asks for one. */
  connectionBucket: TokenBucket | undefined;
  /** Aborted when the response closes or the server shuts down. */
  signal: AbortSignal;
}

export async function startOriginServer(options: StartOriginServerOptions): Promise<OriginServer> {
  const origin = new LocalOrigin(options.pki);
  await origin.listen(options.host ?? '127.0.0.1', options.port ?? 0);
  return origin;
}

class LocalOrigin implements OriginServer {
  port = 0;
  host = '';
  readonly stats: OriginStats = {
    requests: [],
    connectionsOpened: 0,
    currentConnections: 0,
    maxConcurrentConnections: 0,
    maxConcurrentRequests: 0,
  };
  private inFlightRequests = 0;
  private readonly files = new Map<string, OriginFile | OriginFileOnDisk>();
  private readonly behaviours = new Map<string, PathBehaviour>();
  private readonly server: Server;
  // Raw TCP sockets, including ones still in the TLS handshake that closeAllConnections can't see.
  private readonly sockets = new Set<Socket>();
  private readonly connectionBuckets = new WeakMap<Socket, TokenBucket>();
  /** The requests each open TLS connection carried, stamped when it closes. */
  private readonly connectionRecords = new WeakMap<Socket, OriginRequestRecord[]>();
  private readonly responseControllers = new Set<AbortController>();
  private readonly handlers = new Set<Promise<void>>();
  private closing: Promise<void> | undefined;

  constructor(pki: TestPki) {
    this.server = createServer({ key: pki.serverKeyPem, cert: pki.serverCertPem });
    // Longer than undici's 4 s default so idle pooled connections are closed by the client, not us.
    this.server.keepAliveTimeout = 30_000;
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    this.server.on('secureConnection', (socket: TLSSocket) => {
      this.stats.connectionsOpened += 1;
      this.stats.currentConnections += 1;
      this.stats.maxConcurrentConnections = Math.max(
        this.stats.maxConcurrentConnections,
        this.stats.currentConnections,
      );
      this.connectionRecords.set(socket, []);
      socket.once('close', () => {
        this.stats.currentConnections -= 1;
        const closedAt = Date.now();
        for (const record of this.connectionRecords.get(socket) ?? []) record.connectionClosedAt = closedAt;
      });
    });
    this.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const exchange = this.beginExchange(req, res);
      const handled = answer(exchange)
        .catch((error: unknown) => failExchange(exchange, error))
        .finally(() => this.handlers.delete(handled));
      this.handlers.add(handled);
    });
  }

  async listen(host: string, port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.host = host;
    this.port = (this.server.address() as AddressInfo).port;
  }

  url(path: string, host = 'localhost'): string {
    const authority = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
    return `https://${authority}:${this.port}${path}`;
  }

  setFile(path: string, file: OriginFile | OriginFileOnDisk): void {
    this.files.set(path, file);
  }

  setBehaviour(path: string, behaviour: OriginBehaviour): void {
    this.behaviours.set(path, { behaviour: { ...behaviour }, rangeRequestsSeen: 0 });
  }

  resetStats(): void {
    this.stats.requests = [];
    this.stats.connectionsOpened = 0;
    this.stats.maxConcurrentConnections = this.stats.currentConnections;
    this.stats.maxConcurrentRequests = this.inFlightRequests;
  }

  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    const closed = new Promise<void>((resolve, reject) =>
      this.server.close((error) => (error ? reject(error) : resolve())),
    );
    // Wake stalled, delayed and paced responses so their handlers (and open files) finish.
    for (const controller of this.responseControllers) controller.abort();
    this.server.closeAllConnections();
    for (const socket of this.sockets) socket.destroy();
    await Promise.allSettled([...this.handlers]);
    await closed;
  }

  /** Records the request and fixes everything its answer depends on. */
  private beginExchange(req: IncomingMessage, res: ServerResponse): Exchange {
    const record = this.record(req);
    const controller = new AbortController();
    this.responseControllers.add(controller);
    res.once('close', () => {
      record.endedAt = Date.now();
      this.inFlightRequests -= 1;
      this.responseControllers.delete(controller);
      controller.abort();
    });

    const filePath = (req.url ?? '/').split('?')[0] ?? '/';
    const state = this.behaviours.get(filePath) ?? { behaviour: {}, rangeRequestsSeen: 0 };
    this.behaviours.set(filePath, state);
    const { behaviour } = state;
    // Validators are read before counting this request: "after N" means requests N+1 on see the new ETag.
    const { etag, lastModified } = currentValidators(state);
    const isRangeGet = req.method === 'GET' && req.headers.range !== undefined;
    const rangeOrdinal = isRangeGet ? ++state.rangeRequestsSeen : 0;
    return {
      req,
      res,
      record,
      behaviour,
      file: this.files.get(filePath),
      rangeOrdinal,
      etag,
      lastModified,
      connectionBucket: this.connectionBucketFor(req.socket, behaviour.throttleBytesPerSecondPerConnection),
      signal: controller.signal,
    };
  }

  private record(req: IncomingMessage): OriginRequestRecord {
    const record: OriginRequestRecord = {
      index: this.stats.requests.length,
      method: req.method ?? '',
      path: req.url ?? '',
      range: headerValue(req, 'range'),
      ifRange: headerValue(req, 'if-range'),
      acceptEncoding: headerValue(req, 'accept-encoding'),
      status: 0,
      bytesSent: 0,
      remoteAddress: req.socket.remoteAddress ?? '',
      localAddress: req.socket.localAddress ?? '',
      startedAt: Date.now(),
      endedAt: null,
      connectionClosedAt: null,
    };
    this.connectionRecords.get(req.socket)?.push(record);
    this.stats.requests.push(record);
    this.inFlightRequests += 1;
    this.stats.maxConcurrentRequests = Math.max(this.stats.maxConcurrentRequests, this.inFlightRequests);
    return record;
  }

  /** One bucket per TLS connection, shared by the requests it carries one after another. */
  private connectionBucketFor(socket: Socket, bytesPerSecond: number | undefined): TokenBucket | undefined {
    if (bytesPerSecond === undefined) return undefined;
    let bucket = this.connectionBuckets.get(socket);
    if (bucket?.bytesPerSecond !== bytesPerSecond) {
      bucket = new TokenBucket(bytesPerSecond, throttleChunkBytes(bytesPerSecond));
      this.connectionBuckets.set(socket, bucket);
    }
    return bucket;
  }
}

function currentValidators({ behaviour, rangeRequestsSeen }: PathBehaviour): {
  etag: string | null;
  lastModified: string | null;
} {
  const change = behaviour.changeEtagAfterRequests;
  const etag =
    change && rangeRequestsSeen >= change.after
      ? change.etag
      : behaviour.etag === undefined
        ? defaultEtag
        : behaviour.etag;
  const lastModified = behaviour.lastModified === undefined ? defaultLastModified : behaviour.lastModified;
  return { etag, lastModified };
}

function headerValue(req: IncomingMessage, name: string): string | null {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : (value ?? null);
}

/** True when this request is one of the first N range requests a behaviour targets. */
function isAmongFirst(exchange: Exchange, limit: FirstN | undefined): boolean {
  return limit !== undefined && exchange.rangeOrdinal > 0 && exchange.rangeOrdinal <= limit.first;
}

async function answer(exchange: Exchange): Promise<void> {
  const { req, behaviour, file } = exchange;
  if (behaviour.delayHeadersMs !== undefined)
    await sleep(behaviour.delayHeadersMs, undefined, { signal: exchange.signal });
  if (behaviour.redirect) {
    const { status, location } = behaviour.redirect;
    return sendText(exchange, status, `redirecting to ${location}`, { location });
  }
  if (behaviour.status !== undefined)
    return sendText(exchange, behaviour.status, STATUS_CODES[behaviour.status] ?? 'forced status');
  if (req.method !== 'GET' && req.method !== 'HEAD')
    return sendText(exchange, 405, 'only GET and HEAD are served', { allow: 'GET, HEAD' });
  if (!file) return sendText(exchange, 404, 'no file at this path');
  const failure = behaviour.failRequests;
  if (failure && isAmongFirst(exchange, failure)) {
    const headers: OutgoingHttpHeaders = failure.retryAfter === undefined ? {} : { 'retry-after': failure.retryAfter };
    return sendText(
      exchange,
      failure.status,
      `failing range request ${exchange.rangeOrdinal} of the first ${failure.first} on purpose`,
      headers,
    );
  }
  return serveFile(exchange, file);
}

async function serveFile(exchange: Exchange, file: OriginFile | OriginFileOnDisk): Promise<void> {
  const { req, res, behaviour } = exchange;
  const size = 'body' in file ? file.body.length : file.size;
  const total = behaviour.claimTotalSize ?? size;
  const headers: OutgoingHttpHeaders = { 'accept-ranges': 'bytes' };
  if (exchange.etag !== null) headers.etag = exchange.etag;
  if (exchange.lastModified !== null) headers['last-modified'] = exchange.lastModified;

  const range = chooseRange(exchange, size);
  if (range === 'unsatisfiable')
    return sendText(exchange, 416, 'range not satisfiable', { ...headers, 'content-range': `bytes */${total}` });
  const { start, end } = range === 'whole' ? { start: 0, end: size - 1 } : range;
  const isPartial = range !== 'whole';
  if (isPartial) {
    const contentRange = behaviour.contentRange
      ? behaviour.contentRange({ start, end }, size)
      : `bytes ${start}-${end}/${total}`;
    if (contentRange !== null) headers['content-range'] = contentRange;
  }
  headers['content-type'] = file.contentType ?? 'application/octet-stream';

  const chunkBytes = chooseChunkBytes(behaviour);
  let body: AsyncIterable<Buffer> | Iterable<Buffer> = readChunks(file, {
    start,
    end,
    chunkBytes,
    corruptByteAt: behaviour.corruptByteAt,
  });
  let length = end - start + 1;
  if (isPartial && behaviour.gzipRanges) {
    const gzipped = gzipSync(await collect(body));
    body = splitIntoChunks(gzipped, chunkBytes);
    length = gzipped.length;
    headers['content-encoding'] = 'gzip';
  }
  headers['content-length'] = length;
  writeHead(exchange, isPartial ? 206 : 200, headers);
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  // Headers go out now, not with the first body chunk, so drop/stall at 0 bytes and slow
  // drips still show the client a status.
  res.flushHeaders();
  await sendFileBody(exchange, body, chunkBytes);
}

/** Sends the body whole, or cut short and then dropped or stalled for the first N range requests. */
async function sendFileBody(
  exchange: Exchange,
  body: AsyncIterable<Buffer> | Iterable<Buffer>,
  chunkBytes: number,
): Promise<void> {
  const { res, behaviour } = exchange;
  const drop = isAmongFirst(exchange, behaviour.dropAfterBytes) ? behaviour.dropAfterBytes : undefined;
  const stall = isAmongFirst(exchange, behaviour.stallAfterBytes) ? behaviour.stallAfterBytes : undefined;
  await sendBody(exchange, body, { chunkBytes, maxBytes: drop?.afterBytes ?? stall?.afterBytes });
  if (drop) {
    // Let the bytes reach the kernel first: destroy() discards whatever is still queued.
    await flushSocket(res);
    res.destroy();
  } else if (stall) {
    await untilAborted(exchange.signal);
    res.destroy();
  } else {
    res.end();
  }
}

type RangeChoice = 'whole' | 'unsatisfiable' | { start: number; end: number };

/** RFC 9110 §14: Range only applies to GET, a failed If-Range means the whole body. */
function chooseRange({ req, behaviour, etag, lastModified }: Exchange, size: number): RangeChoice {
  const header = req.headers.range;
  if (req.method !== 'GET' || header === undefined || behaviour.ignoreRange) return 'whole';
  const range = parseRange(header, size);
  if (range === 'whole') return range;
  return ifRangeHolds(headerValue(req, 'if-range'), etag, lastModified) ? range : 'whole';
}

/**
 * Parses a single `bytes=a-b`, `bytes=a-` or `bytes=-n`. Multiple ranges and malformed headers
 * answer 'whole': RFC 9110 lets a server ignore a Range it does not handle.
 */
function parseRange(header: string, size: number): RangeChoice {
  const match = /^bytes=\s*(\d*)-(\d*)\s*$/i.exec(header.trim());
  if (!match) return 'whole';
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return 'whole';
  if (first === '') {
    const suffixBytes = Number(last);
    if (suffixBytes === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffixBytes), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Number(last);
  if (end < start && last !== '') return 'whole';
  if (start >= size) return 'unsatisfiable';
  return { start, end: Math.min(end, size - 1) };
}

/** If-Range needs a strong ETag match, or an exact Last-Modified date match (RFC 9110 §13.1.5). */
function ifRangeHolds(ifRange: string | null, etag: string | null, lastModified: string | null): boolean {
  if (ifRange === null) return true;
  if (ifRange.startsWith('"') || ifRange.startsWith('W/')) {
    return etag !== null && !etag.startsWith('W/') && ifRange === etag;
  }
  const date = Date.parse(ifRange);
  return lastModified !== null && !Number.isNaN(date) && date === Date.parse(lastModified);
}

function writeHead({ res, record }: Exchange, status: number, headers: OutgoingHttpHeaders): void {
  res.writeHead(status, headers);
  record.status = status;
}

function sendText(exchange: Exchange, status: number, text: string, headers: OutgoingHttpHeaders = {}): void {
  const body = Buffer.from(`${text}\n`);
  writeHead(exchange, status, {
    ...headers,
    'content-type': 'text/plain; charset=utf-8',
    'content-length': body.length,
  });
  if (exchange.req.method === 'HEAD') {
    exchange.res.end();
    return;
  }
  exchange.record.bytesSent += body.length;
  exchange.res.end(body);
}

/** Unexpected errors answer 500 if nothing was sent yet; otherwise the response is cut. */
function failExchange({ res, record, signal }: Exchange, error: unknown): void {
  // Aborted: the client left or the server is closing; there is nobody to tell.
  if (!signal.aborted) console.error(`origin server: ${record.method} ${record.path} failed`, error);
  if (res.headersSent || signal.aborted) {
    res.destroy();
    return;
  }
  const body = Buffer.from(`origin server error: ${String(error)}\n`);
  res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8', 'content-length': body.length });
  record.status = 500;
  record.bytesSent += body.length;
  res.end(body);
}

function chooseChunkBytes(behaviour: OriginBehaviour): number {
  let chunkBytes = defaultChunkBytes;
  if (behaviour.throttleBytesPerSecondPerConnection !== undefined) {
    chunkBytes = Math.min(chunkBytes, throttleChunkBytes(behaviour.throttleBytesPerSecondPerConnection));
  }
  if (behaviour.dripBytesPerSecond !== undefined) {
    // About ten timer ticks a second: slow enough to be cheap, fine enough to look like a trickle.
    chunkBytes = Math.min(chunkBytes, clamp(Math.floor(behaviour.dripBytesPerSecond / 10), 1, 16 * 1024));
  }
  return chunkBytes;
}

/** About 50 chunks a second, within 16-64 KiB: few timers (cheap with 20 connections), smooth rate. */
function throttleChunkBytes(bytesPerSecond: number): number {
  return clamp(Math.floor(bytesPerSecond / 50), 16 * 1024, 64 * 1024);
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

/** Writes chunks through the pacing limits, with backpressure, up to `maxBytes`. */
async function sendBody(
  exchange: Exchange,
  chunks: AsyncIterable<Buffer> | Iterable<Buffer>,
  { chunkBytes, maxBytes = Number.POSITIVE_INFINITY }: { chunkBytes: number; maxBytes?: number | undefined },
): Promise<void> {
  const { res, record, signal, behaviour } = exchange;
  const buckets: TokenBucket[] = [];
  if (behaviour.dripBytesPerSecond !== undefined)
    buckets.push(new TokenBucket(behaviour.dripBytesPerSecond, chunkBytes));
  if (exchange.connectionBucket) buckets.push(exchange.connectionBucket);
  let sentBytes = 0;
  for await (const chunk of chunks) {
    const piece = chunk.subarray(0, Math.max(0, maxBytes - sentBytes));
    if (piece.length === 0) break;
    for (const bucket of buckets) await bucket.take(piece.length, signal);
    signal.throwIfAborted();
    record.bytesSent += piece.length;
    sentBytes += piece.length;
    if (!res.write(piece)) await drainedOrClosed(res);
    if (sentBytes >= maxBytes) break;
  }
  signal.throwIfAborted();
}

function untilAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** Resolves once everything written so far has left the socket: writes complete in order, so an
 * empty write's callback runs after all of them. */
function flushSocket(res: ServerResponse): Promise<void> {
  const socket = res.socket;
  if (!socket || socket.destroyed) return Promise.resolve();
  return new Promise((resolve) => socket.write(Buffer.alloc(0), () => resolve()));
}

/**
 * Paces bytes to `bytesPerSecond`. Tokens may go negative (debt) and the taker sleeps it off; as
 * refills use the real clock, a late timer is made up by the next chunk and the long-run rate stays
 * exact. The bucket starts with one chunk but may hold up to 100 ms of credit, so a busy event loop
 * (timers firing late) doesn't lose tokens to the cap; over any interval t a connection still sends
 * at most rate x t + that credit.
 */
class TokenBucket {
  private tokens: number;
  private refilledAt = performance.now();
  private readonly capacityBytes: number;

  constructor(
    readonly bytesPerSecond: number,
    initialBytes: number,
  ) {
    this.tokens = initialBytes;
    this.capacityBytes = Math.max(initialBytes, bytesPerSecond / 10);
  }

  async take(bytes: number, signal: AbortSignal): Promise<void> {
    const now = performance.now();
    this.tokens = Math.min(this.capacityBytes, this.tokens + ((now - this.refilledAt) * this.bytesPerSecond) / 1000);
    this.refilledAt = now;
    this.tokens -= bytes;
    if (this.tokens < 0) await sleep((-this.tokens * 1000) / this.bytesPerSecond, undefined, { signal });
  }
}

/** Yields bytes [start, end] (inclusive) of the file in chunks, with `corruptByteAt` flipped. */
async function* readChunks(
  file: OriginFile | OriginFileOnDisk,
  {
    start,
    end,
    chunkBytes,
    corruptByteAt,
  }: { start: number; end: number; chunkBytes: number; corruptByteAt: number | undefined },
): AsyncGenerator<Buffer> {
  const source =
    'body' in file
      ? splitIntoChunks(file.body.subarray(start, end + 1), chunkBytes)
      : readDiskChunks(file, start, end, chunkBytes);
  let offset = start;
  for await (const chunk of source) {
    yield corruptAt(chunk, offset, corruptByteAt);
    offset += chunk.length;
  }
}

/** Reads with positioned reads into fresh buffers (a written chunk must not be reused). Leaving
 * the loop early closes the file through the generator's `finally`. */
async function* readDiskChunks(
  file: OriginFileOnDisk,
  start: number,
  end: number,
  chunkBytes: number,
): AsyncGenerator<Buffer> {
  const handle = await open(file.path, 'r');
  try {
    for (let offset = start; offset <= end; offset += chunkBytes) {
      yield await readExactly(handle, offset, Math.min(chunkBytes, end + 1 - offset), file.path);
    }
  } finally {
    await handle.close();
  }
}

async function readExactly(handle: FileHandle, position: number, length: number, path: string): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  for (let filled = 0; filled < length;) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) throw new Error(`${path} ends at byte ${position + filled}, before the size given to setFile`);
    filled += bytesRead;
  }
  return buffer;
}

/** Returns the chunk with the byte at file offset `corruptByteAt` inverted; copies, as bodies are shared. */
function corruptAt(chunk: Buffer, chunkOffset: number, corruptByteAt: number | undefined): Buffer {
  if (corruptByteAt === undefined || corruptByteAt < chunkOffset || corruptByteAt >= chunkOffset + chunk.length)
    return chunk;
  const copy = Buffer.from(chunk);
  const index = corruptByteAt - chunkOffset;
  copy.writeUInt8(copy.readUInt8(index) ^ 0xff, index);
  return copy;
}

async function collect(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts);
}

function* splitIntoChunks(buffer: Buffer, chunkBytes: number): Generator<Buffer> {
  for (let offset = 0; offset < buffer.length; offset += chunkBytes) yield buffer.subarray(offset, offset + chunkBytes);
}
