/**
 * AWS Signature Version 4 for the requests of an S3 import. The object is read through the
 * service's own pinned connections (src/net), never the AWS SDK's HTTP stack, so the SSRF guard
 * applies to S3 exactly as to HTTPS URLs; only the signing comes from the SDK (@smithy/signature-v4).
 * Every header sent is signed (Range, If-Match and Host included) except the ones SigV4 never signs
 * (User-Agent); the payload hash is the empty body's, as every request here is a body-less GET or HEAD.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import type { S3Credentials } from '../domain/s3-object.js';

/** SHA-256 of the empty body, hex. */
export const EMPTY_BODY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export interface S3SignableRequest {
  method: 'GET' | 'HEAD';
  /** The request URL, its path already percent-encoded as S3 expects (see encodeObjectKey). */
  url: URL;
  headers: Record<string, string>;
}

/** Signs a request; resolves with the headers to send (the given ones plus host, date, payload hash and authorization). */
export type S3RequestSigner = (request: S3SignableRequest) => Promise<Record<string, string>>;

export function createS3RequestSigner(options: {
  credentials: S3Credentials;
  region: string;
  now?: () => Date;
}): S3RequestSigner {
  const signer = new SignatureV4({
    service: 's3',
    region: options.region,
    credentials: {
      accessKeyId: options.credentials.accessKeyId,
      secretAccessKey: options.credentials.secretAccessKey,
      ...(options.credentials.sessionToken === undefined ? {} : { sessionToken: options.credentials.sessionToken }),
    },
    sha256: Sha256,
    // S3 signs the path as sent (encoded once), unlike the other AWS services.
    uriEscapePath: false,
  });
  const now = options.now ?? (() => new Date());
  return async ({ method, url, headers }) => {
    const query: Record<string, string> = {};
    for (const [name, value] of url.searchParams) query[name] = value;
    const signed = await signer.sign(
      {
        method,
        protocol: url.protocol,
        hostname: url.hostname,
        ...(url.port === '' ? {} : { port: Number(url.port) }),
        path: url.pathname,
        query,
        headers: { ...headers, host: url.host, 'x-amz-content-sha256': EMPTY_BODY_SHA256 },
      },
      { signingDate: now() },
    );
    return { ...signed.headers };
  };
}
