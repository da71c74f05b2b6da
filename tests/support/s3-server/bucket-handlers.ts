/**
 * Bucket operations: Create, Head, Delete, ListObjectsV2 (and V1's basic form), DeleteObjects,
 * GetBucketLocation and ListBuckets.
 */
import { header, requireBucket, sendEmpty, sendXml, type RequestContext } from './context.js';
import { receiveBody, MemorySink } from './body.js';
import { s3Errors, S3Error } from './errors.js';
import type { S3State } from './state.js';
import { readFlatList, type XmlElements } from './xml.js';

const owner = { ID: 'reelin-test-owner', DisplayName: 'reelin-test' };

/** S3's rules for new bucket names, in short: 3-63 of a-z 0-9 . -, starting and ending alphanumeric. */
export function isValidBucketName(name: string): boolean {
  return /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name) && !name.includes('..') && !/^\d+\.\d+\.\d+\.\d+$/.test(name);
}

export function addBucket(state: S3State, name: string, now: number): void {
  if (!isValidBucketName(name))
    throw new S3Error(400, 'InvalidBucketName', 'The specified bucket is not valid.', { BucketName: name });
  if (!state.buckets.has(name)) state.buckets.set(name, { name, created: new Date(now), objects: new Map() });
}

export function createBucket(context: RequestContext): void {
  if (context.state.buckets.has(context.bucketName)) {
    throw new S3Error(
      409,
      'BucketAlreadyOwnedByYou',
      'Your previous request to create the named bucket succeeded and you already own it.',
      { BucketName: context.bucketName },
    );
  }
  addBucket(context.state, context.bucketName, context.now());
  sendEmpty(context, 200, { location: `/${context.bucketName}` });
}

export function headBucket(context: RequestContext): void {
  requireBucket(context);
  sendEmpty(context, 200);
}

export function deleteBucket(context: RequestContext): void {
  const bucket = requireBucket(context);
  const hasUploads = [...context.state.uploads.values()].some((upload) => upload.bucket === bucket.name);
  if (bucket.objects.size > 0 || hasUploads)
    throw new S3Error(409, 'BucketNotEmpty', 'The bucket you tried to delete is not empty', {
      BucketName: bucket.name,
    });
  context.state.buckets.delete(bucket.name);
  sendEmpty(context, 204);
}

export function getBucketLocation(context: RequestContext): void {
  requireBucket(context);
  // us-east-1 is reported as an empty LocationConstraint, as S3 does.
  sendXml(context, 'LocationConstraint', {});
}

export function listBuckets(context: RequestContext): void {
  const buckets = [...context.state.buckets.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  sendXml(context, 'ListAllMyBucketsResult', {
    Owner: owner,
    Buckets: { Bucket: buckets.map((bucket) => ({ Name: bucket.name, CreationDate: bucket.created })) },
  });
}

function maxKeysFrom(context: RequestContext): number {
  const text = context.query.get('max-keys');
  if (text === undefined) return 1000;
  const value = Number(text);
  if (!/^\d+$/.test(text))
    throw s3Errors.invalidArgument('Provided max-keys not an integer or within integer range', 'max-keys', text);
  return Math.min(value, 1000);
}

/** ListObjectsV2 with prefix, delimiter, max-keys, start-after and continuation-token. */
export function listObjects(context: RequestContext, isV2: boolean): void {
  const bucket = requireBucket(context);
  const prefix = context.query.get('prefix') ?? '';
  const delimiter = context.query.get('delimiter') ?? '';
  const maxKeys = maxKeysFrom(context);
  const isUrlEncoded = context.query.get('encoding-type') === 'url';
  const encode = (text: string) => (isUrlEncoded ? encodeURIComponent(text).replace(/%2F/g, '/') : text);
  const continuationToken = context.query.get('continuation-token');
  let after = isV2 ? (context.query.get('start-after') ?? '') : (context.query.get('marker') ?? '');
  if (continuationToken !== undefined) {
    after = Buffer.from(continuationToken, 'base64url').toString('utf8');
  }

  const keys = [...bucket.objects.keys()].filter((key) => key.startsWith(prefix) && key > after).sort();
  const contents: XmlElements[] = [];
  const commonPrefixes: string[] = [];
  let lastKey = '';
  let isTruncated = false;
  for (const key of keys) {
    const delimiterAt = delimiter ? key.indexOf(delimiter, prefix.length) : -1;
    const commonPrefix = delimiterAt === -1 ? undefined : key.slice(0, delimiterAt + delimiter.length);
    if (commonPrefix !== undefined && commonPrefixes.at(-1) === commonPrefix) {
      lastKey = key;
      continue;
    }
    if (contents.length + commonPrefixes.length >= maxKeys) {
      isTruncated = true;
      break;
    }
    if (commonPrefix !== undefined) {
      commonPrefixes.push(commonPrefix);
    } else {
      const object = bucket.objects.get(key)!;
      contents.push({
        Key: encode(key),
        LastModified: object.lastModified,
        ETag: object.etag,
        ChecksumAlgorithm: object.checksum?.algorithm,
        ChecksumType: object.checksum?.type,
        Size: object.lengthBytes,
        StorageClass: 'STANDARD',
      });
    }
    lastKey = key;
  }
  const nextToken = isTruncated ? Buffer.from(lastKey, 'utf8').toString('base64url') : undefined;
  const common = {
    Name: bucket.name,
    Prefix: encode(prefix),
    Delimiter: delimiter ? encode(delimiter) : undefined,
    MaxKeys: maxKeys,
    EncodingType: isUrlEncoded ? 'url' : undefined,
    IsTruncated: isTruncated,
  };
  const tail = { Contents: contents, CommonPrefixes: commonPrefixes.map((value) => ({ Prefix: encode(value) })) };
  if (isV2) {
    sendXml(context, 'ListBucketResult', {
      ...common,
      KeyCount: contents.length + commonPrefixes.length,
      ContinuationToken: continuationToken,
      NextContinuationToken: nextToken,
      StartAfter: context.query.get('start-after'),
      ...tail,
    });
  } else {
    sendXml(context, 'ListBucketResult', {
      ...common,
      Marker: after,
      NextMarker: isTruncated ? encode(lastKey) : undefined,
      ...tail,
    });
  }
}

export async function deleteObjects(context: RequestContext): Promise<void> {
  requireBucket(context);
  if (
    header(context, 'content-md5') === undefined &&
    !Object.keys(context.request.headers).some(
      (name) => name.startsWith('x-amz-checksum-') || name === 'x-amz-sdk-checksum-algorithm',
    )
  ) {
    throw s3Errors.invalidRequest('Missing required header for this request: Content-MD5 or x-amz-checksum-*');
  }
  const sink = new MemorySink(2 * 1024 * 1024);
  await receiveBody(context.request, context.payloadHash, sink);
  const parsed = readFlatList(sink.text(), 'Delete', 'Object');
  if (
    !parsed ||
    parsed.items.length === 0 ||
    parsed.items.length > 1000 ||
    parsed.items.some((item) => item.Key === undefined)
  ) {
    throw s3Errors.malformedXml();
  }
  const bucket = requireBucket(context);
  const isQuiet = parsed.rootFields.Quiet === 'true';
  for (const item of parsed.items) context.state.deleteObject(bucket, item.Key!);
  sendXml(context, 'DeleteResult', { Deleted: isQuiet ? [] : parsed.items.map((item) => ({ Key: item.Key! })) });
}
