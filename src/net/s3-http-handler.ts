/**
 * The connections of the S3 client. Its endpoint is the operator's own storage (configured, not
 * user-given), so it does not pass the source-URL policy; it lives here only because this folder is
 * the one place that opens sockets. Keep-alive agents sized for parallel part uploads: a copy job
 * streams up to 20 parts at once, and every part is one UploadPart request on its own socket.
 */
import http from 'node:http';
import https from 'node:https';
import { createSecureContext, rootCertificates } from 'node:tls';
import { NodeHttpHandler } from '@smithy/node-http-handler';

export interface S3HttpOptions {
  /** Sockets per agent: parallel requests beyond this wait for a free socket. */
  maxSockets: number;
  connectTimeoutMs: number;
  /** A request whose socket is silent this long fails (a stalled upload or download). */
  idleTimeoutMs: number;
  /** Extra trusted CA certificates (PEM) on top of Node's store; for tests that run their own CA. */
  extraCaCertificates?: readonly string[];
}

export function createS3HttpHandler(options: S3HttpOptions): NodeHttpHandler {
  const agentOptions = {
    keepAlive: true,
    maxSockets: options.maxSockets,
    maxFreeSockets: Math.min(options.maxSockets, 64),
  };
  // Built once: a `ca` list on the agent would make Node parse the whole root store per connection.
  const secureContext = options.extraCaCertificates
    ? createSecureContext({ ca: [...rootCertificates, ...options.extraCaCertificates] })
    : undefined;
  return new NodeHttpHandler({
    httpAgent: new http.Agent(agentOptions),
    httpsAgent: new https.Agent({ ...agentOptions, ...(secureContext ? { secureContext } : {}) }),
    connectionTimeout: options.connectTimeoutMs,
    socketTimeout: options.idleTimeoutMs,
  });
}
