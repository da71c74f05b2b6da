/**
 * The benchmark's webhook receiver, in a process of its own so its TLS work is not billed to the
 * service: an HTTPS server that answers 204 at once and records, per request, the payload id, the
 * event's occurredAt and the arrival time. The parent talks to it over IPC.
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

export type ReceiverMessage = { type: 'report' } | { type: 'reset' };
/** [payload id, occurredAt ms, arrival ms] */
export type Arrival = [string, number, number];

const [certPath, keyPath] = process.argv.slice(2);
if (!certPath || !keyPath || !process.send)
  throw new Error('usage: fork webhook-receiver-process.ts <cert.pem> <key.pem>');

let arrivals: Arrival[] = [];
const server = https.createServer(
  { cert: readFileSync(certPath), key: readFileSync(keyPath), keepAliveTimeout: 60_000 },
  (request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const arrivedAt = Date.now();
      const payload = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: string; occurredAt: string };
      arrivals.push([payload.id, Date.parse(payload.occurredAt), arrivedAt]);
      response.writeHead(204);
      response.end();
    });
  },
);
server.listen(0, '127.0.0.1', () =>
  process.send?.({ type: 'listening', port: (server.address() as AddressInfo).port }),
);
process.on('message', (message: ReceiverMessage) => {
  if (message.type === 'report') process.send?.({ type: 'report', arrivals });
  if (message.type === 'reset') {
    arrivals = [];
    process.send?.({ type: 'reset' });
  }
});
process.on('disconnect', () => server.close(() => process.exit(0)));
