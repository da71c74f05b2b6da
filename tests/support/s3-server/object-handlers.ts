/**
 * PutObject, GetObject (one optional byte range), HeadObject and DeleteObject.
 *
 * GET and HEAD send the stored checksum only when asked (x-amz-checksum-mode: ENABLED) and only for
 * the whole object, as S3 does: a range's bytes cannot be checked against the object's checksum.
 */
import { createReadStream } from 'node:fs';
import type { OutgoingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { checksumHeader } from './checksums.js';
import {
  header,
  httpDate,
  receiveToFile,
  requireBucket,
  sendEmpty,
  storedHeaders,
  wholeSecond,
  type RequestContext,
} from './context.js';
import { s3Errors, S3Error } from './errors.js';
import { DataFiles, type StoredObject } from './state.js';

const readChunkBytes = 1024 * 1024;

export async function putObject(context: RequestContext): Promise<void> {
  requireBucket(context);
  if (header(context, 'x-amz-copy-source') !== undefined)
    throw s3Errors.notImplemented('x-amz-copy-source (CopyObject)');
  const { path, body } = await receiveToFile(context);
  // Checked again after the body arrived: the bucket may have gone, or the key appeared meanwhile.
  const bucket = requireBucket(context);
  if (header(context, 'if-none-match') === '*' && bucket.objects.has(context.key)) {
    new DataFiles([{ path, lengthBytes: 0 }]).drop();
    throw new S3Error(412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', {
      Condition: 'If-None-Match',
    });
  }
  const etag = `"${body.digests.md5.toString('hex')}"`;
  const checksum = body.clientChecksum ?? { algorithm: 'CRC32C' as const, base64: body.digests.base64.CRC32C! };
  const object: StoredObject = {
    key: context.key,
    lengthBytes: body.digests.lengthBytes,
    etag,
    lastModified: wholeSecond(context.now()),
    headers: storedHeaders(context),
    checksum: { ...checksum, type: 'FULL_OBJECT' },
    files: new DataFiles([{ path, lengthBytes: body.digests.lengthBytes }]),
  };
  context.state.putObject(bucket, object);
  const headers: OutgoingHttpHeaders = { etag };
  if (body.clientChecksum) {
    headers[checksumHeader(body.clientChecksum.algorithm)] = body.clientChecksum.base64;
    headers['x-amz-checksum-type'] = 'FULL_OBJECT';
  }
  sendEmpty(context, 200, headers);
}

function requireObject(context: RequestContext): StoredObject {
  const object = requireBucket(context).objects.get(context.key);
  if (!object) throw s3Errors.noSuchKey(context.key);
  return object;
}

function objectHeaders(context: RequestContext, object: StoredObject, isWholeObject: boolean): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {
    ...object.headers,
    etag: object.etag,
    'last-modified': httpDate(object.lastModified),
    'accept-ranges': 'bytes',
  };
  if (object.partCount !== undefined) headers['x-amz-mp-parts-count'] = String(object.partCount);
  if (object.checksum && isWholeObject && header(context, 'x-amz-checksum-mode')?.toUpperCase() === 'ENABLED') {
    headers[checksumHeader(object.checksum.algorithm)] = object.checksum.base64;
    headers['x-amz-checksum-type'] = object.checksum.type;
  }
  for (const name of [
    'content-type',
    'content-disposition',
    'content-language',
    'cache-control',
    'expires',
    'content-encoding',
  ]) {
    const override = context.query.get(`response-${name}`);
    if (override !== undefined) headers[name] = override;
  }
  return headers;
}

/** Answers 304/412 when a conditional header says so; true when the request may go on. */
function checkConditions(context: RequestContext, object: StoredObject): void {
  const ifMatch = header(context, 'if-match');
  if (ifMatch !== undefined && !matchesEtag(ifMatch, object.etag)) {
    throw new S3Error(412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', {
      Condition: 'If-Match',
    });
  }
  const ifNoneMatch = header(context, 'if-none-match');
  if (ifNoneMatch !== undefined && matchesEtag(ifNoneMatch, object.etag))
    throw new S3Error(304, 'NotModified', 'Not Modified');
}

function matchesEtag(condition: string, etag: string): boolean {
  return condition.split(',').some((candidate) => {
    const trimmed = candidate.trim().replace(/^W\//, '');
    return trimmed === '*' || trimmed === etag || `"${trimmed}"` === etag;
  });
}

/** The one byte range asked for, null for the whole object; S3 ignores malformed and multiple ranges. */
function parseRange(rangeHeader: string | undefined, lengthBytes: number): { start: number; end: number } | null {
  const match = rangeHeader === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(rangeHeader.trim());
  if (!match || (match[1] === '' && match[2] === '')) return null;
  const unsatisfiable = () =>
    new S3Error(416, 'InvalidRange', 'The requested range is not satisfiable', {
      RangeRequested: rangeHeader!,
      ActualObjectSize: String(lengthBytes),
    });
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0 || lengthBytes === 0) throw unsatisfiable();
    return { start: Math.max(0, lengthBytes - suffix), end: lengthBytes - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? lengthBytes - 1 : Math.min(Number(match[2]), lengthBytes - 1);
  if (match[2] !== '' && Number(match[2]) < start) return null;
  if (start >= lengthBytes) throw unsatisfiable();
  return { start, end };
}

async function* readSegments(object: StoredObject, start: number, end: number): AsyncGenerator<Buffer> {
  let segmentStart = 0;
  for (const segment of object.files.segments) {
    const segmentEnd = segmentStart + segment.lengthBytes - 1;
    if (segmentEnd >= start && segmentStart <= end && segment.lengthBytes > 0) {
      const stream = createReadStream(segment.path, {
        start: Math.max(start, segmentStart) - segmentStart,
        end: Math.min(end, segmentEnd) - segmentStart,
        highWaterMark: readChunkBytes,
      });
      for await (const chunk of stream) yield chunk as Buffer;
    }
    segmentStart += segment.lengthBytes;
  }
}

export interface GetObjectOptions {
  /** Fault injection: destroy the connection after this many body bytes. */
  resetAfterBytes?: number;
}

export async function getObject(context: RequestContext, options: GetObjectOptions = {}): Promise<void> {
  const object = requireObject(context);
  checkConditions(context, object);
  const range = parseRange(header(context, 'range'), object.lengthBytes);
  const start = range?.start ?? 0;
  const end = range?.end ?? object.lengthBytes - 1;
  const headers = objectHeaders(context, object, range === null);
  headers['content-length'] = String(end - start + 1);
  if (range) headers['content-range'] = `bytes ${start}-${end}/${object.lengthBytes}`;
  const release = object.files.acquire();
  try {
    context.response.writeHead(range ? 206 : 200, headers);
    if (end < start) {
      context.response.end();
      return;
    }
    let source = Readable.from(readSegments(object, start, end));
    if (options.resetAfterBytes !== undefined)
      source = Readable.from(cutAfter(source, options.resetAfterBytes, () => context.request.socket.destroy()));
    await pipeline(source, context.response);
  } finally {
    release();
  }
}

async function* cutAfter(source: AsyncIterable<Buffer>, limitBytes: number, cut: () => void): AsyncGenerator<Buffer> {
  let sent = 0;
  for await (const chunk of source) {
    const take = Math.min(chunk.length, limitBytes - sent);
    if (take > 0) yield chunk.subarray(0, take);
    sent += take;
    if (sent >= limitBytes) break;
  }
  // Let the written bytes leave before the connection goes.
  await new Promise((resolve) => setImmediate(resolve));
  cut();
}

export function headObject(context: RequestContext): void {
  const object = requireObject(context);
  checkConditions(context, object);
  const range = parseRange(header(context, 'range'), object.lengthBytes);
  const headers = objectHeaders(context, object, range === null);
  headers['content-length'] = String(range ? range.end - range.start + 1 : object.lengthBytes);
  if (range) headers['content-range'] = `bytes ${range.start}-${range.end}/${object.lengthBytes}`;
  context.response.writeHead(range ? 206 : 200, headers);
  context.response.end();
}

export function deleteObject(context: RequestContext): void {
  const bucket = requireBucket(context);
  context.state.deleteObject(bucket, context.key);
  sendEmpty(context, 204);
}
