import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type FeedMode, LiveFeed, type StreamHandlers } from '../web/src/live-feed.js';

/** A stream the test plays the server side of: it delivers, fails or stays silent when told to. */
class FakeStream {
  closed = false;
  constructor(readonly handlers: StreamHandlers<number>) {}

  close(): void {
    this.closed = true;
  }

  send(value: number): void {
    this.handlers.onData(value);
  }

  fail(reason = 'stream dropped'): void {
    this.handlers.onError(reason);
  }

  open(): void {
    this.handlers.onOpen();
  }

  refuse(reason: string): void {
    this.handlers.onStop(reason);
  }
}

describe('live feed: stream, polling fallback and back', () => {
  let streams: FakeStream[];
  let data: number[];
  let modes: { mode: FeedMode; previous: FeedMode; detail?: string }[];
  let polling: boolean;
  let pollStarts: number;
  let feed: LiveFeed<number>;
  let stale: string[];
  const last = () => {
    const stream = streams.at(-1);
    if (!stream) throw new Error('no stream was opened');
    return stream;
  };
  const mode = () => feed.mode;

  beforeEach(() => {
    vi.useFakeTimers();
    streams = [];
    data = [];
    modes = [];
    polling = false;
    pollStarts = 0;
    stale = [];
    feed = new LiveFeed<number>({
      openStream: (handlers) => {
        const stream = new FakeStream(handlers);
        streams.push(stream);
        return stream;
      },
      poller: {
        start: () => {
          polling = true;
          pollStarts++;
        },
        stop: () => {
          polling = false;
        },
      },
      onData: (value) => data.push(value),
      onStale: (detail) => stale.push(detail),
      onMode: (next, previous, detail) =>
        modes.push(detail === undefined ? { mode: next, previous } : { mode: next, previous, detail }),
      staleMs: 3_000,
    });
  });

  afterEach(() => {
    feed.pause();
    vi.useRealTimers();
  });

  it('takes updates from the stream without polling while it delivers', () => {
    feed.start();
    expect(mode()).toBe('connecting');
    expect(streams).toHaveLength(1);
    last().send(1);
    last().send(2);
    expect(mode()).toBe('stream');
    expect(data).toEqual([1, 2]);
    expect(pollStarts).toBe(0);
    // An update every second keeps it alive for good.
    for (let i = 3; i < 10; i++) {
      vi.advanceTimersByTime(1_000);
      last().send(i);
    }
    expect(streams).toHaveLength(1);
    expect(pollStarts).toBe(0);
  });

  it('polls as soon as the stream drops, and stops polling when a retried stream delivers', () => {
    feed.start();
    last().send(1);
    last().fail('stream dropped');
    expect(last().closed).toBe(true);
    expect(mode()).toBe('polling');
    expect(modes.at(-1)).toEqual({ mode: 'polling', previous: 'stream', detail: 'stream dropped' });
    expect(polling).toBe(true);
    vi.advanceTimersByTime(1_999);
    expect(streams).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(streams).toHaveLength(2);
    // Polling goes on while the new stream connects: it has delivered nothing yet.
    expect(polling).toBe(true);
    last().send(2);
    expect(mode()).toBe('stream');
    expect(polling).toBe(false);
    expect(modes.at(-1)).toEqual({ mode: 'stream', previous: 'polling' });
    expect(pollStarts).toBe(1);
  });

  it('backs off 2, 4, 8, 16 s and then every 30 s while the stream is refused, polling all along', () => {
    feed.start();
    last().fail('stream unavailable');
    expect(modes.at(-1)).toEqual({ mode: 'polling', previous: 'connecting', detail: 'stream unavailable' });
    for (const delay of [2_000, 4_000, 8_000, 16_000, 30_000, 30_000]) {
      const count = streams.length;
      vi.advanceTimersByTime(delay - 1);
      expect(streams, `before ${delay} ms`).toHaveLength(count);
      vi.advanceTimersByTime(1);
      expect(streams, `at ${delay} ms`).toHaveLength(count + 1);
      last().fail('stream unavailable');
    }
    expect(pollStarts).toBe(1);
    expect(polling).toBe(true);
    // One stream that delivers resets the back-off: the next drop waits 2 s again.
    vi.advanceTimersByTime(30_000);
    last().send(1);
    last().fail();
    const count = streams.length;
    vi.advanceTimersByTime(2_000);
    expect(streams).toHaveLength(count + 1);
  });

  it('takes a silent stream as lost, also one that never delivers its first update', () => {
    feed.start();
    vi.advanceTimersByTime(2_999);
    expect(mode()).toBe('connecting');
    vi.advanceTimersByTime(1);
    expect(mode()).toBe('polling');
    expect(modes.at(-1)?.detail).toBe('no update for 3 s');
    expect(streams[0]?.closed).toBe(true);
    vi.advanceTimersByTime(2_000);
    last().send(1);
    expect(mode()).toBe('stream');
    vi.advanceTimersByTime(3_000);
    expect(mode()).toBe('polling');
    expect(polling).toBe(true);
  });

  it('allows a stream that has been slow twice its slowest gap before taking it as lost', () => {
    feed.start();
    last().send(1);
    vi.advanceTimersByTime(2_500);
    last().send(2);
    vi.advanceTimersByTime(4_999);
    expect(mode()).toBe('stream');
    vi.advanceTimersByTime(1);
    expect(modes.at(-1)).toEqual({ mode: 'polling', previous: 'stream', detail: 'no update for 5 s' });
  });

  it('allows at most four times its limit, however slow the stream has been', () => {
    feed.start();
    last().send(1);
    for (const gap of [2_500, 4_900, 9_000]) {
      vi.advanceTimersByTime(gap);
      last().send(2);
    }
    vi.advanceTimersByTime(11_999);
    expect(mode()).toBe('stream');
    vi.advanceTimersByTime(1);
    expect(modes.at(-1)?.detail).toBe('no update for 12 s');
  });

  it('ignores a stream it already gave up on', () => {
    feed.start();
    const first = last();
    first.fail();
    first.send(1);
    first.fail();
    expect(data).toEqual([]);
    expect(mode()).toBe('polling');
    // Only one retry is scheduled, not one per late event.
    vi.advanceTimersByTime(2_000);
    expect(streams).toHaveLength(2);
    last().send(2);
    expect(mode()).toBe('stream');
    first.fail();
    first.send(3);
    expect(mode()).toBe('stream');
    expect(data).toEqual([2]);
    expect(streams).toHaveLength(2);
  });

  it('closes everything and keeps no timer while paused, and connects afresh on resume', () => {
    feed.start();
    last().fail();
    expect(polling).toBe(true);
    feed.pause();
    expect(mode()).toBe('paused');
    expect(polling).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(120_000);
    expect(streams).toHaveLength(1);
    feed.start();
    expect(mode()).toBe('connecting');
    expect(streams).toHaveLength(2);
    expect(polling).toBe(false);
  });

  it('makes no request while the tab is hidden, in any mode, and connects again when shown', () => {
    feed.start();
    last().send(1);
    feed.setHidden(true);
    expect(mode()).toBe('hidden');
    expect(last().closed).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    feed.setHidden(false);
    expect(mode()).toBe('connecting');
    expect(streams).toHaveLength(2);

    last().fail();
    expect(polling).toBe(true);
    feed.setHidden(true);
    expect(polling).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(120_000);
    expect(streams).toHaveLength(2);
    feed.setHidden(false);
    expect(mode()).toBe('connecting');
    expect(streams).toHaveLength(3);
  });

  it('stays paused when a paused tab is shown, and hidden when a hidden tab is resumed', () => {
    feed.start();
    feed.pause();
    feed.setHidden(true);
    expect(mode()).toBe('hidden');
    feed.setHidden(false);
    expect(mode()).toBe('paused');
    expect(streams).toHaveLength(1);

    feed.setHidden(true);
    feed.start();
    expect(feed.running).toBe(true);
    expect(mode()).toBe('hidden');
    expect(streams).toHaveLength(1);
    feed.setHidden(false);
    expect(mode()).toBe('connecting');
    expect(streams).toHaveLength(2);
  });

  it('says at once that the figures are lost when the stream falls silent, and not when it fails', () => {
    feed.start();
    last().send(1);
    vi.advanceTimersByTime(2_999);
    expect(stale).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(stale).toEqual(['no update for 3 s']);
    expect(mode()).toBe('polling');
    vi.advanceTimersByTime(2_000);
    last().send(2);
    last().fail();
    expect(stale).toEqual(['no update for 3 s']);
  });
});

// A stream that speaks only when something happens (the event log): no poller, no silence limit,
// live once open, and some refusals final.
describe('live feed without polling: a stream that is quiet while nothing happens', () => {
  let streams: FakeStream[];
  let data: number[];
  let modes: { mode: FeedMode; previous: FeedMode; detail?: string }[];
  let feed: LiveFeed<number>;
  const last = () => {
    const stream = streams.at(-1);
    if (!stream) throw new Error('no stream was opened');
    return stream;
  };

  beforeEach(() => {
    vi.useFakeTimers();
    streams = [];
    data = [];
    modes = [];
    feed = new LiveFeed<number>({
      openStream: (handlers) => {
        const stream = new FakeStream(handlers);
        streams.push(stream);
        return stream;
      },
      onData: (value) => data.push(value),
      onMode: (next, previous, detail) =>
        modes.push(detail === undefined ? { mode: next, previous } : { mode: next, previous, detail }),
    });
  });

  afterEach(() => {
    feed.pause();
    vi.useRealTimers();
  });

  it('is live as soon as the stream opens, and stays live through any silence', () => {
    feed.start();
    expect(feed.mode).toBe('connecting');
    last().open();
    expect(feed.mode).toBe('stream');
    vi.advanceTimersByTime(600_000);
    expect(feed.mode).toBe('stream');
    expect(streams).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
    last().send(1);
    expect(data).toEqual([1]);
  });

  it('retries a failed stream with back-off, saying so, and resets the back-off once one opens', () => {
    feed.start();
    last().fail('stream unavailable');
    expect(modes.at(-1)).toEqual({ mode: 'retrying', previous: 'connecting', detail: 'stream unavailable' });
    for (const delay of [2_000, 4_000, 8_000]) {
      const count = streams.length;
      vi.advanceTimersByTime(delay - 1);
      expect(streams).toHaveLength(count);
      vi.advanceTimersByTime(1);
      expect(streams).toHaveLength(count + 1);
      last().fail('stream unavailable');
    }
    vi.advanceTimersByTime(16_000);
    last().open();
    expect(modes.at(-1)).toEqual({ mode: 'stream', previous: 'retrying' });
    last().fail('stream dropped');
    const count = streams.length;
    vi.advanceTimersByTime(2_000);
    expect(streams).toHaveLength(count + 1);
  });

  it('stops for good when the server refuses in a way another try will not change, and tries again on resume', () => {
    feed.start();
    last().refuse('token');
    expect(last().closed).toBe(true);
    expect(modes.at(-1)).toEqual({ mode: 'stopped', previous: 'connecting', detail: 'token' });
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(600_000);
    expect(streams).toHaveLength(1);
    // Hidden and shown again, it stays stopped: nothing to try.
    feed.setHidden(true);
    feed.setHidden(false);
    expect(feed.mode).toBe('stopped');
    expect(modes.at(-1)).toEqual({ mode: 'stopped', previous: 'hidden', detail: 'token' });
    expect(streams).toHaveLength(1);
    // The operator pausing and resuming asks again.
    feed.pause();
    feed.start();
    expect(feed.mode).toBe('connecting');
    expect(streams).toHaveLength(2);
  });

  it('ignores what a stream it gave up on says later', () => {
    feed.start();
    const first = last();
    first.fail();
    first.open();
    first.refuse('token');
    expect(feed.mode).toBe('retrying');
  });
});
