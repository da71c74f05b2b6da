/**
 * The text of server-sent events (https://html.spec.whatwg.org/multipage/server-sent-events.html):
 * frames are built once and written to every stream that shows them.
 */

/** How long a browser's EventSource waits before it reconnects, sent first on every stream. */
export const RECONNECT_DELAY_MS = 2_000;

export const retryFrame = `retry: ${RECONNECT_DELAY_MS}\n\n`;

/** A comment line: clients ignore it, proxies and idle timers see traffic. */
export const heartbeatFrame = ': heartbeat\n\n';

/** One event; JSON.stringify escapes line breaks, so `data` is always a single line. */
export function eventFrame(id: number, event: string, data: unknown): string {
  return `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * The change a `Last-Event-ID` header names, or null for text no stream of this service ever sent
 * (ids are decimal sequence numbers; they stay below 2^53).
 */
export function parseCursor(text: string): number | null {
  if (!/^(0|[1-9][0-9]{0,14})$/.test(text)) return null;
  return Number(text);
}
