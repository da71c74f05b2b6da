/**
 * A local HTTPS webhook receiver for tests: records every request (raw body, headers, arrival
 * time) and answers as the test scripts it: a status, headers, a delay, or going down entirely
 * (connections refused).
 */
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TestPki } from './test-pki.js';
import { until } from './wait.js';

export interface ReceivedRequest {
  arrivedAtMs: number;
  method: string;
  path: string;
  headers: Record<string, string>;
  rawBody: string;
  /** The parsed payload. */
  body: any;
}

export interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  delayMs?: number;
}

export interface WebhookReceiver {
  port: number;
  requests: ReceivedRequest[];
  /** How to answer each request (default: 200 "ok"). */
  answer: (request: ReceivedRequest) => Answer;
  url(path: string, host?: string): string;
  /** Resolves once `count` requests matching `filter` arrived, failing after `timeoutMs`. */
  waitFor(
    count: number,
    filter?: (request: ReceivedRequest) => boolean,
    timeoutMs?: number,
  ): Promise<ReceivedRequest[]>;
  /** Closes the listening socket (connections are refused) until `start` again on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startWebhookReceiver(pki: TestPki, port = 0): Promise<WebhookReceiver> {
  let server: https.Server | null = null;
  const receiver: WebhookReceiver = {
    port,
    requests: [],
    answer: () => ({ status: 200, body: 'ok' }),
    url: (path, host = '127.0.0.1') => `https://${host}:${receiver.port}${path}`,
    async waitFor(count, filter = () => true, timeoutMs = 20_000) {
      // Waits on the count, so a timeout names how many of the expected requests came.
      await until(
        `${count} matching requests at the webhook receiver`,
        () => receiver.requests.filter(filter).length,
        (arrived) => arrived >= count,
        { timeoutMs },
      );
      return receiver.requests.filter(filter);
    },
    async start() {
      const created = https.createServer(
        { cert: pki.serverCertPem, key: pki.serverKeyPem, keepAliveTimeout: 60_000 },
        (request, response) => {
          const chunks: Buffer[] = [];
          request.on('data', (chunk: Buffer) => chunks.push(chunk));
          request.on('end', () => {
            const rawBody = Buffer.concat(chunks).toString('utf8');
            const headers: Record<string, string> = {};
            for (const [name, value] of Object.entries(request.headers))
              if (typeof value === 'string') headers[name] = value;
            let body: unknown = null;
            try {
              body = JSON.parse(rawBody);
            } catch {
              body = null;
            }
            const received: ReceivedRequest = {
              arrivedAtMs: Date.now(),
              method: request.method ?? '',
              path: request.url ?? '',
              headers,
              rawBody,
              body,
            };
            receiver.requests.push(received);
            const answer = receiver.answer(received);
            const send = () => {
              if (response.destroyed) return;
              response.writeHead(answer.status, { 'content-type': 'text/plain', ...answer.headers });
              response.end(answer.body ?? '');
            };
            if (answer.delayMs) setTimeout(send, answer.delayMs);
            else send();
          });
        },
      );
      await new Promise<void>((resolve, reject) => {
        created.once('error', reject);
        created.listen(receiver.port, '127.0.0.1', () => resolve());
      });
      receiver.port = (created.address() as AddressInfo).port;
      server = created;
    },
    async stop() {
      const closing = server;
      server = null;
      if (!closing) return;
      closing.closeAllConnections();
      await new Promise((resolve) => closing.close(resolve));
    },
    close: () => receiver.stop(),
  };
  await receiver.start();
  return receiver;
}
