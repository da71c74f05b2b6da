/**
 * The dispatcher: turns new `events` rows (the outbox) into deliveries, in batches claimed with
 * SKIP LOCKED (see dispatchEvents), so every event becomes its deliveries exactly once however
 * many workers run. It runs when the event bell rings (an event was committed) and at every poll,
 * the backstop for a missed ring.
 */

const DISPATCH_BATCH = 500;

export interface EventDispatch {
  /** Makes the deliveries of up to `limit` undispatched events; resolves with how many of each. */
  dispatchEvents(limit: number): Promise<{ events: number; deliveries: number }>;
}

/** Dispatches batch after batch until the outbox has no more events (or `signal` stops it); calls `onDeliveries` after each batch that made some. */
export async function dispatchPendingEvents(
  outbox: EventDispatch,
  onDeliveries: () => void,
  signal: AbortSignal,
): Promise<void> {
  for (;;) {
    const { events, deliveries } = await outbox.dispatchEvents(DISPATCH_BATCH);
    if (deliveries > 0) onDeliveries();
    if (events < DISPATCH_BATCH || signal.aborted) return;
  }
}
