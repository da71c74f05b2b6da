/**
 * Naming the S3 operation a path-style request asks for (`/bucket`, `/bucket/key`), from the method,
 * the path and the sub-resource in the query, so faults and counters can be keyed by operation.
 * Virtual-hosted-style addressing (`bucket.host/key`) is not supported: clients use forcePathStyle.
 */
import { s3Errors } from './errors.js';

export interface Route {
  operation: string;
  bucket?: string;
  key?: string;
}

function decodePathPart(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw s3Errors.invalidRequest(`The request path has a malformed percent-encoding: ${text}`);
  }
}

export function routeRequest(method: string, rawPath: string, query: ReadonlyMap<string, string>): Route {
  const path = rawPath.startsWith('/') ? rawPath.slice(1) : rawPath;
  const slash = path.indexOf('/');
  const bucket = decodePathPart(slash === -1 ? path : path.slice(0, slash));
  const key = slash === -1 ? '' : decodePathPart(path.slice(slash + 1));
  const has = (name: string) => query.has(name);

  if (bucket === '') return { operation: method === 'GET' ? 'ListBuckets' : `Unsupported${method}Service` };
  if (key === '') {
    const bucketOperation = (
      {
        PUT: 'CreateBucket',
        HEAD: 'HeadBucket',
        DELETE: 'DeleteBucket',
        GET: has('uploads')
          ? 'ListMultipartUploads'
          : has('location')
            ? 'GetBucketLocation'
            : has('list-type')
              ? 'ListObjectsV2'
              : 'ListObjects',
        POST: has('delete') ? 'DeleteObjects' : 'UnsupportedPostBucket',
      } as Record<string, string>
    )[method];
    return { operation: bucketOperation ?? `Unsupported${method}Bucket`, bucket };
  }
  const objectOperation = (
    {
      PUT: has('uploadId') ? 'UploadPart' : 'PutObject',
      GET: has('uploadId') ? 'ListParts' : 'GetObject',
      HEAD: 'HeadObject',
      DELETE: has('uploadId') ? 'AbortMultipartUpload' : 'DeleteObject',
      POST: has('uploads')
        ? 'CreateMultipartUpload'
        : has('uploadId')
          ? 'CompleteMultipartUpload'
          : 'UnsupportedPostObject',
    } as Record<string, string>
  )[method];
  return { operation: objectOperation ?? `Unsupported${method}Object`, bucket, key };
}
