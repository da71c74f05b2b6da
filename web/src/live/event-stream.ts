/**
 * Reads the service's live event stream (GET /api/v1/events/stream, server-sent events) with fetch,
 * because the browser's EventSource cannot send the X-API-Key header and the key never goes into a
 * URL. It reconnects with exponential backoff and the last event id seen (`Last-Event-ID`), so no
 * change is missed across a dropped connection; a stream silent for longer than a few heartbeats
 * is treated as dropped.
 */
import { createParser } from 'eventsource-parser';

export type LiveStatus = 'connecting' | 'connected' | 'reconnecting' | 'unavailable' | 'unauthorized';

export interface LiveEvent {
  type: string;
  data: unknown;
}

export interface LiveStreamOptions {
  apiKey: string;
  teamId: string | undefined;
  onEvent(event: LiveEvent): void;
  onStatus(status: LiveStatus): void;
  signal: AbortSignal;
  /** Default the page's origin. */
  baseUrl?: string;
}

/** Without a byte (events or heartbeat comments) for this long, the connection is taken as dead. */
const SILENCE_LIMIT_MS = 45_000;
const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 15_000;
/** A service without the stream (404) is asked again this rarely. */
const UNAVAILABLE_RETRY_MS = 60_000;

/** The wait before reconnect attempt `attempt` (0-based): doubling from 0.5 s to 15 s, with jitter. */
export function retryDelayMs(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** attempt);
  return Math.round(base * (0.75 + random() * 0.5));
}

function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = window.setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      window.clearTimeout(timer);
      resolve();
    });
  });
}

function streamUrl(baseUrl: string, teamId: string | undefined): string {
  const url = new URL('/api/v1/events/stream', baseUrl);
  if (teamId !== undefined) url.searchParams.set('teamId', teamId);
  return url.toString();
}

/**
 * Reads one connection until it ends. Returns the last event id seen (for the next connection), or
 * the HTTP status when the service refused the stream.
 */
async function readOnce(
  options: LiveStreamOptions,
  lastEventId: string | null,
  onOpen: () => void,
): Promise<{ lastEventId: string | null; refusedStatus: number | null }> {
  const connection = new AbortController();
  const stop = () => connection.abort();
  options.signal.addEventListener('abort', stop);
  let lastSeen = lastEventId;
  let silenceTimer = 0;
  const resetSilence = () => {
    window.clearTimeout(silenceTimer);
    silenceTimer = window.setTimeout(stop, SILENCE_LIMIT_MS);
  };
  try {
    const headers: Record<string, string> = { 'X-API-Key': options.apiKey, Accept: 'text/event-stream' };
    if (lastSeen !== null) headers['Last-Event-ID'] = lastSeen;
    const response = await fetch(streamUrl(options.baseUrl ?? window.location.origin, options.teamId), {
      headers,
      cache: 'no-store',
      signal: connection.signal,
    });
    if (!response.ok || response.body === null) {
      await response.body?.cancel();
      return { lastEventId: lastSeen, refusedStatus: response.status };
    }
    onOpen();
    const parser = createParser({
      onEvent(message) {
        if (message.id !== undefined) lastSeen = message.id;
        let data: unknown = null;
        try {
          data = message.data === '' ? null : JSON.parse(message.data);
        } catch {
          return;
        }
        options.onEvent({ type: message.event ?? 'message', data });
      },
    });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    resetSilence();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      resetSilence();
      parser.feed(value);
    }
  } catch {
    // A dropped or aborted connection: the caller decides whether to reconnect.
  } finally {
    window.clearTimeout(silenceTimer);
    options.signal.removeEventListener('abort', stop);
  }
  return { lastEventId: lastSeen, refusedStatus: null };
}

/** Follows the stream until `options.signal` aborts. */
export async function followLiveEvents(options: LiveStreamOptions): Promise<void> {
  let lastEventId: string | null = null;
  let attempt = 0;
  options.onStatus('connecting');
  while (!options.signal.aborted) {
    const result = await readOnce(options, lastEventId, () => {
      attempt = 0;
      options.onStatus('connected');
    });
    lastEventId = result.lastEventId;
    if (options.signal.aborted) return;
    if (result.refusedStatus === 401) {
      options.onStatus('unauthorized');
      return;
    }
    if (result.refusedStatus === 404) {
      options.onStatus('unavailable');
      await wait(UNAVAILABLE_RETRY_MS, options.signal);
      continue;
    }
    options.onStatus('reconnecting');
    await wait(retryDelayMs(attempt), options.signal);
    attempt += 1;
  }
}
