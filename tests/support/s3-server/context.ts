/**
 * What every handler gets (the request, its route, the state) and the few ways it answers.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { receiveBody, type ReceivedBody } from './body.js';
import { s3Errors } from './errors.js';
import type { Bucket, S3State } from './state.js';
import { xmlDocument, type XmlElements } from './xml.js';

export interface RequestContext {
  request: IncomingMessage;
  response: ServerResponse;
  bucketName: string;
  key: string;
  /** First value of each query parameter, decoded. */
  query: ReadonlyMap<string, string>;
  /** x-amz-content-sha256 (or UNSIGNED-PAYLOAD for presigned URLs). */
  payloadHash: string;
  state: S3State;
  now: () => number;
  region: string;
  minPartSizeBytes: number;
}

export function header(context: RequestContext, name: string): string | undefined {
  const value = context.request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

export function requireBucket(context: RequestContext): Bucket {
  const bucket = context.state.buckets.get(context.bucketName);
  if (!bucket) throw s3Errors.noSuchBucket(context.bucketName);
  return bucket;
}

export function sendXml(
  context: RequestContext,
  root: string,
  elements: XmlElements,
  headers: OutgoingHttpHeaders = {},
): void {
  const body = Buffer.from(xmlDocument(root, elements));
  context.response.writeHead(200, { ...headers, 'content-type': 'application/xml', 'content-length': body.length });
  context.response.end(body);
}

export function sendEmpty(context: RequestContext, status: number, headers: OutgoingHttpHeaders = {}): void {
  context.response.writeHead(status, { ...headers, 'content-length': 0 });
  context.response.end();
}

/** Headers stored with an object and sent back on GET/HEAD. */
const storedHeaderNames = ['content-type', 'content-disposition', 'content-language', 'cache-control', 'expires'];

export function storedHeaders(context: RequestContext): Record<string, string> {
  const stored: Record<string, string> = {};
  for (const [name, value] of Object.entries(context.request.headers)) {
    if (value === undefined) continue;
    if (storedHeaderNames.includes(name) || name.startsWith('x-amz-meta-'))
      stored[name] = Array.isArray(value) ? value.join(',') : value;
  }
  // aws-chunked is a transfer detail, not part of the object's own Content-Encoding.
  const encoding = (header(context, 'content-encoding') ?? '')
    .split(',')
    .map((token) => token.trim())
    .filter((token) => token && token !== 'aws-chunked');
  if (encoding.length > 0) stored['content-encoding'] = encoding.join(',');
  stored['content-type'] ??= 'binary/octet-stream';
  return stored;
}

/** Streams the request body to a new data file; the file is removed again if the body fails a check. */
export async function receiveToFile(context: RequestContext): Promise<{ path: string; body: ReceivedBody }> {
  const path = context.state.newDataPath();
  try {
    const body = await receiveBody(
      context.request,
      context.payloadHash,
      createWriteStream(path, { highWaterMark: 8 * 1024 * 1024 }),
    );
    return { path, body };
  } catch (error) {
    await rm(path, { force: true });
    throw error;
  }
}

/** `Thu, 01 Jan 2026 00:00:00 GMT`, the HTTP date S3 sends in Last-Modified. */
export function httpDate(date: Date): string {
  return date.toUTCString();
}

/** S3 keeps Last-Modified to the second. */
export function wholeSecond(epochMs: number): Date {
  return new Date(Math.floor(epochMs / 1000) * 1000);
}
