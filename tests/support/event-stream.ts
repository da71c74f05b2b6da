/**
 * A client of the live event stream (`GET /api/v1/events/stream`) as the web application reads
 * it: an HTTP request with the API key in a header, the body parsed as server-sent events.
 * Everything read is kept, so a test waits (with `until`) for what it expects and asserts on it.
 */
import { createParser } from 'eventsource-parser';
import { request } from 'undici';
import { TEST_API_KEY } from './test-service.js';
import { until } from './wait.js';

export interface StreamEvent {
  id: string | undefined;
  event: string;
  data: any;
  /** When this process read it (Date.now()). */
  receivedAtMs: number;
}

export interface OpenStreamOptions {
  apiKey?: string | null;
  teamId?: string;
  lastEventId?: string;
}

export class EventStreamReader {
  readonly events: StreamEvent[] = [];
  readonly comments: string[] = [];
  retryMs: number | null = null;
  /** Resolves when the server ended the body (or the reader was closed). */
  readonly ended: Promise<void>;

  constructor(
    readonly status: number,
    readonly headers: Record<string, string | string[] | undefined>,
    body: AsyncIterable<Buffer>,
    private readonly controller: AbortController,
  ) {
    const parser = createParser({
      onEvent: (message) =>
        this.events.push({
          id: message.id,
          event: message.event ?? 'message',
          data: JSON.parse(message.data),
          receivedAtMs: Date.now(),
        }),
      onComment: (comment) => this.comments.push(comment.trim()),
      onRetry: (ms) => {
        this.retryMs = ms;
      },
    });
    this.ended = (async () => {
      try {
        for await (const chunk of body) parser.feed(chunk.toString('utf8'));
      } catch {
        // Aborted by close(), or the connection was cut: either way the stream is over.
      }
    })();
  }

  /** The events of one type, in order. */
  named(event: string): StreamEvent[] {
    return this.events.filter((item) => item.event === event);
  }

  /** Waits until `found` picks an event out of those read, and returns it. */
  async waitFor(what: string, found: (event: StreamEvent) => boolean, timeoutMs = 15_000): Promise<StreamEvent> {
    const event = await until(
      what,
      () => this.events.find(found) ?? null,
      (value) => value !== null,
      {
        timeoutMs,
        intervalMs: 10,
      },
    );
    return event as StreamEvent;
  }

  async close(): Promise<void> {
    this.controller.abort();
    await this.ended;
  }
}

/** Opens a stream on the service at `baseUrl`; a non-200 answer is read whole into `errorBody`. */
export async function openEventStream(
  baseUrl: string,
  options: OpenStreamOptions = {},
): Promise<{ reader: EventStreamReader; errorBody: any }> {
  const headers: Record<string, string> = { accept: 'text/event-stream' };
  const apiKey = options.apiKey === undefined ? TEST_API_KEY : options.apiKey;
  if (apiKey !== null) headers['x-api-key'] = apiKey;
  if (options.lastEventId !== undefined) headers['last-event-id'] = options.lastEventId;
  const query = options.teamId === undefined ? '' : `?teamId=${options.teamId}`;
  const controller = new AbortController();
  const response = await request(`${baseUrl}/api/v1/events/stream${query}`, {
    headers,
    signal: controller.signal,
  });
  let errorBody: any = null;
  if (response.statusCode !== 200) errorBody = JSON.parse(await response.body.text());
  const reader = new EventStreamReader(response.statusCode, response.headers, response.body, controller);
  return { reader, errorBody };
}
