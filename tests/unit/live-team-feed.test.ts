import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { LiveChangeRow } from '../../src/db/queries/live-changes.queries.js';
import { eventFrame, parseCursor } from '../../src/live/sse-frames.js';
import { TeamFeed, type FeedSubscriber, type LiveChangeSource } from '../../src/live/team-feed.js';
import type { VideoListView } from '../../src/services/video.service.js';

const TEAM = 'team-a';

/** The change log in memory: what the feed reads. */
class MemorySource implements LiveChangeSource {
  rows: (LiveChangeRow & { teamId: string })[] = [];
  names = new Map<string, string>();
  prunedThroughSeq = 0;
  queries = 0;

  add(seq: number, kind: LiveChangeRow['kind'], id: string, teamId = TEAM): void {
    this.rows.push({
      seq,
      kind,
      teamId,
      videoId: kind === 'webhook.delivery' ? null : id,
      webhookId: kind === 'webhook.delivery' ? 'hook-1' : null,
      deliveryId: kind === 'webhook.delivery' ? id : null,
    });
  }

  async horizon() {
    return {
      latestSeq: Math.max(this.prunedThroughSeq, ...this.rows.map((row) => row.seq)),
      prunedThroughSeq: this.prunedThroughSeq,
    };
  }

  async changes(range: { teamId: string; afterSeq: number; throughSeq?: number; limit: number }) {
    this.queries += 1;
    return this.rows
      .filter(
        (row) => row.teamId === range.teamId && row.seq > range.afterSeq && row.seq <= (range.throughSeq ?? Infinity),
      )
      .slice(0, range.limit)
      .map(({ teamId: _team, ...row }) => row);
  }

  async videos(_teamId: string, videoIds: readonly string[]) {
    return videoIds
      .filter((id) => this.names.has(id))
      .map((id) => ({ video: { id, name: this.names.get(id) } }) as unknown as VideoListView);
  }
}

class Recorder implements FeedSubscriber {
  floor = -1;
  isClosed = false;
  frames: string[] = [];
  send(frame: string): void {
    this.frames.push(frame);
  }
}

function feedOn(source: MemorySource, batchSize = 100): TeamFeed {
  return new TeamFeed(TEAM, {
    source,
    presentVideo: (view) => ({ id: view.video.id, name: view.video.name }),
    log: pino({ level: 'silent' }),
    batchSize,
  });
}

/** Lets the feed's queued task run (its source answers at once). */
async function settle(feed: TeamFeed): Promise<void> {
  await feed.join(new Recorder(), null);
}

describe('a team feed', () => {
  it('sends ready at the current cursor, then one event per changed video with its latest state, in order', async () => {
    const source = new MemorySource();
    source.add(3, 'video', 'old');
    const feed = feedOn(source);
    const client = new Recorder();
    await feed.join(client, null);
    expect(client.frames).toEqual([eventFrame(3, 'ready', { teamId: TEAM })]);

    source.names.set('v1', 'One v2').set('v2', 'Two');
    source.add(4, 'video', 'v1');
    source.add(5, 'video', 'v2');
    source.add(6, 'video', 'v1');
    source.add(7, 'video', 'other-team-video', 'team-b');
    source.add(8, 'video.deleted', 'v3');
    source.add(9, 'webhook.delivery', 'delivery-1');
    feed.wake();
    feed.wake();
    await settle(feed);
    expect(client.frames.slice(1)).toEqual([
      eventFrame(5, 'video', { id: 'v2', name: 'Two' }),
      eventFrame(6, 'video', { id: 'v1', name: 'One v2' }),
      eventFrame(8, 'video.deleted', { videoId: 'v3' }),
      eventFrame(9, 'webhook.delivery', { webhookId: 'hook-1', webhookEventId: 'delivery-1' }),
    ]);
  });

  it('folds wake-ups that come while a read waits into that read', async () => {
    const source = new MemorySource();
    const feed = feedOn(source);
    await feed.join(new Recorder(), null);
    const before = source.queries;
    for (let index = 0; index < 50; index += 1) feed.wake();
    await settle(feed);
    expect(source.queries - before).toBe(1);
  });

  it('skips a changed video that is gone by the time it is read: its deletion follows', async () => {
    const source = new MemorySource();
    const feed = feedOn(source);
    const client = new Recorder();
    await feed.join(client, null);
    source.add(1, 'video', 'gone');
    feed.wake();
    await settle(feed);
    expect(client.frames).toHaveLength(1);
  });

  it('catches a resumed stream up from its cursor to the feed, then sends it only later changes', async () => {
    const source = new MemorySource();
    source.names.set('v1', 'One').set('v2', 'Two');
    source.add(1, 'video', 'v1');
    const feed = feedOn(source, 2);
    const live = new Recorder();
    await feed.join(live, null);
    source.add(2, 'video', 'v2');
    source.add(3, 'video.deleted', 'v9');
    source.add(4, 'video', 'v1');
    feed.wake();
    await settle(feed);

    const resumed = new Recorder();
    await feed.join(resumed, 2);
    expect(resumed.frames).toEqual([
      eventFrame(2, 'ready', { teamId: TEAM }),
      eventFrame(3, 'video.deleted', { videoId: 'v9' }),
      eventFrame(4, 'video', { id: 'v1', name: 'One' }),
    ]);
    source.add(5, 'video', 'v2');
    feed.wake();
    await settle(feed);
    expect(resumed.frames.at(-1)).toBe(eventFrame(5, 'video', { id: 'v2', name: 'Two' }));
    expect(resumed.frames).toHaveLength(4);
  });

  it('answers a pruned, unknown or future cursor with ready and reset at the current cursor', async () => {
    const source = new MemorySource();
    source.add(10, 'video', 'v1');
    source.prunedThroughSeq = 5;
    const feed = feedOn(source);
    for (const cursor of [4, 'unknown' as const, 11]) {
      const client = new Recorder();
      await feed.join(client, cursor);
      expect(client.frames).toHaveLength(2);
      expect(client.frames[0]).toBe(eventFrame(10, 'ready', { teamId: TEAM }));
      expect(client.frames[1]).toMatch(/^id: 10\nevent: reset\ndata: \{"reason":".*refetch what you show"\}\n\n$/);
    }
    const exact = new Recorder();
    await feed.join(exact, 5);
    expect(exact.frames[0]).toBe(eventFrame(5, 'ready', { teamId: TEAM }));
  });

  it('does not add a stream that closed before it joined', async () => {
    const source = new MemorySource();
    const feed = feedOn(source);
    const client = new Recorder();
    client.isClosed = true;
    await feed.join(client, null);
    expect(feed.isIdle).toBe(true);
  });
});

describe('server-sent event frames', () => {
  it('writes id, event and one line of JSON data, even for text with line breaks', () => {
    expect(eventFrame(7, 'video', { name: 'a\nb\r\nc' })).toBe(
      'id: 7\nevent: video\ndata: {"name":"a\\nb\\r\\nc"}\n\n',
    );
  });

  it('reads only decimal cursors this service could have sent', () => {
    expect(parseCursor('0')).toBe(0);
    expect(parseCursor('123456789012345')).toBe(123_456_789_012_345);
    for (const text of ['', '-1', '01', '1.5', '1e3', 'abc', '1234567890123456', ' 1'])
      expect(parseCursor(text)).toBeNull();
  });
});
