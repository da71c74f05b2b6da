/**
 * The doorbell of the webhook outbox. `recordEvent` (and a queued test event) rings it with a
 * NOTIFY in the transaction that records the event (db/queries/event-bell.queries.ts), so it rings
 * when (and only if) that transaction commits, in every process listening on the database. Webhook workers listen, so a
 * new event is dispatched and sent at once rather than at the next poll; the poll stays as the
 * backstop for a ring missed while a listening connection was down, and for retries that fall due.
 * Deleting videos rings it too, so workers stop the media work of a deleted video at once.
 *
 * PGlite delivers its own session's notifications to `listen` callbacks. On PostgreSQL, LISTEN
 * needs a connection of its own for as long as it listens (a pooled one would drop the
 * subscription when handed back), so the bell keeps one client and reconnects it when it breaks.
 */
import pg from 'pg';
import type { DatabaseConnection } from '../db/database.js';
import { EVENTS_CHANNEL, type RungBell } from '../db/queries/event-bell.queries.js';

/** A ring as listeners hear it: what was rung, or, after a broken listening connection was restored, `missed` (possibly any). */
export type BellRing = RungBell | 'missed';

/** How long a broken PostgreSQL listening connection waits before it connects again. */
const RECONNECT_DELAY_MS = 1_000;

export interface EventBell {
  /** Calls `listener` after each commit that rang the bell (here or in another process); returns the unsubscribe. */
  onRing(listener: (ring: BellRing) => void): () => void;
  close(): Promise<void>;
}

/**
 * Starts listening. `onConnectionError` hears about a broken PostgreSQL listening connection;
 * the bell connects again after RECONNECT_DELAY_MS and rings once when it is back, since events
 * may have been recorded in between.
 */
export async function listenForEvents(
  connection: DatabaseConnection,
  onConnectionError: (error: Error) => void,
): Promise<EventBell> {
  const listeners = new Set<(ring: BellRing) => void>();
  const ring = (payload: string) => {
    const heard: BellRing =
      payload === 'events' || payload === 'deliveries' || payload === 'videos' ? payload : 'missed';
    for (const listener of listeners) listener(heard);
  };
  const stopListening = await listenOnChannel(connection, EVENTS_CHANNEL, ring, onConnectionError);
  return {
    onRing: (listener) => {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    close: async () => {
      listeners.clear();
      await stopListening();
    },
  };
}

/**
 * LISTENs on `channel` and calls `onPayload` with each notification's payload; after a broken
 * PostgreSQL listening connection is restored, once with `missed` (notifications may have been
 * lost meanwhile). Returns the stop. The live event stream (src/live) listens on its own channel.
 */
export async function listenOnChannel(
  connection: DatabaseConnection,
  channel: string,
  onPayload: (payload: string) => void,
  onConnectionError: (error: Error) => void,
): Promise<() => Promise<void>> {
  if (connection.kind === 'pglite') return connection.pglite.listen(channel, onPayload);
  const listener = new PostgresListener(connection.url, channel, onPayload, onConnectionError);
  await listener.start();
  return () => listener.close();
}

class PostgresListener {
  private client: pg.Client | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly url: string,
    private readonly channel: string,
    private readonly ring: (payload: string) => void,
    private readonly onConnectionError: (error: Error) => void,
  ) {}

  /** The first connection: a failure here fails the start, as any database failure at start does. */
  async start(): Promise<void> {
    this.client = await this.connect();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: this.url });
    client.on('notification', (message) => {
      if (message.channel === this.channel) this.ring(message.payload ?? '');
    });
    // Registered before connecting: a client without an error listener would crash the process.
    client.on('error', (error) => this.broken(client, error));
    client.on('end', () => this.broken(client, new Error(`the connection listening on ${this.channel} closed`)));
    try {
      await client.connect();
      await client.query(`listen ${this.channel}`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    return client;
  }

  private broken(client: pg.Client, error: Error): void {
    if (this.closed || this.client !== client) return;
    this.client = null;
    this.onConnectionError(error);
    void client.end().catch(() => undefined);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect().then(
        (client) => {
          if (this.closed) {
            void client.end().catch(() => undefined);
            return;
          }
          this.client = client;
          this.ring('missed');
        },
        (error: unknown) => {
          if (this.closed) return;
          this.onConnectionError(error as Error);
          this.scheduleReconnect();
        },
      );
    }, RECONNECT_DELAY_MS);
    this.reconnectTimer.unref();
  }
}
