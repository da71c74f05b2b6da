import { asc, eq } from 'drizzle-orm';
import type { EventType } from '../../domain/events.js';
import type { Database } from '../database.js';
import { ringEventBell } from './event-bell.queries.js';
import { events } from '../schema.js';

export interface NewEvent {
  teamId: string;
  videoId: string;
  type: EventType;
  data?: Record<string, unknown>;
}

/** Records a stage transition; call it in the transaction that makes the transition (it rings the event bell). */
export async function recordEvent(tx: Database, event: NewEvent): Promise<void> {
  await tx
    .insert(events)
    .values({ teamId: event.teamId, videoId: event.videoId, type: event.type, data: event.data ?? {} });
  await ringEventBell(tx, 'events');
}

export interface RecordedEvent {
  id: string;
  type: string;
  occurredAt: Date;
  data: Record<string, unknown>;
}

/** The events of one video in the order they happened. */
export async function listEventsOfVideo(db: Database, videoId: string): Promise<RecordedEvent[]> {
  return db
    .select({ id: events.id, type: events.type, occurredAt: events.occurredAt, data: events.data })
    .from(events)
    .where(eq(events.videoId, videoId))
    .orderBy(asc(events.seq));
}
