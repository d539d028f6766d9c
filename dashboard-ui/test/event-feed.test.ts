import type { ApiCallEvent } from '@titanium/service-kit/events-contract';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EventLogFeed, type EventLogState, eventLogText, type JsonAnswer } from '../web/src/event-feed.js';
import { type LogEvent, readEvent } from '../web/src/events.js';
import type { StreamHandlers } from '../web/src/live-feed.js';

class FakeStream {
  closed = false;
  constructor(readonly handlers: StreamHandlers<LogEvent>) {}
  close(): void {
    this.closed = true;
  }
}

function apiEvent(n: number): ApiCallEvent {
  return {
    kind: 'api',
    id: `a${n}`,
    timestamp: new Date(Date.parse('2026-12-02T03:00:00.000Z') + n).toISOString(),
    request_id: `r${n}`,
    method: 'GET',
    endpoint: '/api/posts',
    route: 'GET /api/posts',
    status: 200,
    outcome: 'success',
    latency_ms: 1,
    user_id: null,
    username: null,
    message: 'GET /api/posts 200',
  };
}

const log = (events: unknown[] = [], extra: Record<string, unknown> = {}): JsonAnswer => ({
  status: 200,
  body: { type: 'redis', events, next: null, unavailable: [], ...extra },
});

describe('event log feed', () => {
  let requests: string[];
  let answer: (url: string) => JsonAnswer | Promise<JsonAnswer>;
  let streams: FakeStream[];
  let states: EventLogState[];
  let delivered: LogEvent[][];
  let feed: EventLogFeed;
  const stream = () => {
    const last = streams.at(-1);
    if (!last) throw new Error('no stream was opened');
    return last;
  };
  const state = () => states.at(-1);
  const settle = () => vi.advanceTimersByTimeAsync(0);

  beforeEach(() => {
    vi.useFakeTimers();
    requests = [];
    streams = [];
    states = [];
    delivered = [];
    answer = () => log();
    feed = new EventLogFeed({
      onEvents: (events) => delivered.push(events),
      onState: (next) => states.push(next),
      fetchJson: async (url, signal) => {
        requests.push(url);
        const result = await answer(url);
        if (signal.aborted) throw new DOMException('aborted', 'AbortError');
        return result;
      },
      openEvents: (handlers) => {
        const opened = new FakeStream(handlers);
        streams.push(opened);
        return opened;
      },
    });
  });

  afterEach(() => {
    feed.pause();
    vi.useRealTimers();
  });

  it('asks whether there is a log, opens the stream, and once it is open fetches the backlog of both kinds', async () => {
    // The probe asks for one call; the backlog has two.
    answer = (url) => (url === '/logs/messaging?kind=api&limit=200' ? log([apiEvent(2), apiEvent(1)]) : log());
    feed.start();
    expect(state()).toEqual({ kind: 'connecting' });
    await settle();
    expect(requests).toEqual(['/logs/messaging?kind=api&limit=1']);
    expect(streams).toHaveLength(1);
    expect(state()).toEqual({ kind: 'connecting' });
    stream().handlers.onOpen();
    await settle();
    expect(requests.slice(1)).toEqual(['/logs/messaging?kind=api&limit=200', '/logs/messaging?kind=domain&limit=1000']);
    expect(state()).toEqual({ kind: 'live', type: 'redis', unavailable: [], problem: undefined });
    expect(delivered.flat().map((event) => event.kind === 'api' && event.call.id)).toEqual(['a2', 'a1']);
    // Then each event as the stream brings it.
    const live = readEvent(apiEvent(3));
    if (!live) throw new Error('unreadable');
    stream().handlers.onData(live);
    expect(delivered.at(-1)).toEqual([live]);
  });

  it('stops for good on a 401, opening no stream and asking nothing more', async () => {
    answer = () => ({ status: 401, body: { statusCode: 401, error: 'Unauthorized', message: 'token' } });
    feed.start();
    await settle();
    expect(state()).toEqual({ kind: 'stopped', reason: 'token' });
    expect(eventLogText({ kind: 'stopped', reason: 'token' }).text).toBe('the event log needs the OPS token');
    await vi.advanceTimersByTimeAsync(600_000);
    expect(requests).toHaveLength(1);
    expect(streams).toHaveLength(0);
  });

  it('says the event log is off when its type is none, and opens no stream', async () => {
    answer = () => log([], { type: 'none' });
    feed.start();
    await settle();
    expect(state()).toEqual({ kind: 'stopped', reason: 'off' });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(streams).toHaveLength(0);
    expect(requests).toHaveLength(1);
  });

  it('says the load balancer has no event log when it answers 404 or something else than a log', async () => {
    answer = () => ({ status: 404, body: { statusCode: 404 } });
    feed.start();
    await settle();
    expect(state()).toEqual({ kind: 'stopped', reason: 'absent' });
    feed.pause();
    answer = () => ({ status: 200, body: undefined });
    feed.start();
    await settle();
    expect(state()).toEqual({ kind: 'stopped', reason: 'absent' });
    expect(streams).toHaveLength(0);
  });

  it('retries with back-off while the log or its stream fails, and catches up once it is back', async () => {
    answer = () => ({ status: 503, body: {} });
    feed.start();
    await settle();
    expect(state()).toEqual({ kind: 'retrying', detail: 'HTTP 503' });
    await vi.advanceTimersByTimeAsync(2_000);
    expect(requests).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(3_999);
    expect(requests).toHaveLength(2);
    answer = () => log();
    await vi.advanceTimersByTimeAsync(1);
    expect(streams).toHaveLength(1);
    // The stream is refused (too many clients): still retrying, without a stream.
    stream().handlers.onError('stream unavailable');
    expect(stream().closed).toBe(true);
    expect(state()?.kind).toBe('retrying');
    await vi.advanceTimersByTimeAsync(8_000);
    expect(streams).toHaveLength(2);
    stream().handlers.onOpen();
    await settle();
    expect(state()?.kind).toBe('live');
    expect(requests.slice(-2)).toEqual([
      '/logs/messaging?kind=api&limit=200',
      '/logs/messaging?kind=domain&limit=1000',
    ]);
  });

  it('opens nothing while the tab is hidden, and asks, opens and catches up when it is shown', async () => {
    feed.start();
    await settle();
    stream().handlers.onOpen();
    await settle();
    const asked = requests.length;
    feed.setHidden(true);
    expect(stream().closed).toBe(true);
    expect(state()).toEqual({ kind: 'hidden' });
    await vi.advanceTimersByTimeAsync(600_000);
    expect(requests).toHaveLength(asked);
    expect(vi.getTimerCount()).toBe(0);
    feed.setHidden(false);
    await settle();
    expect(streams).toHaveLength(2);
    stream().handlers.onOpen();
    await settle();
    expect(requests.slice(asked)).toEqual([
      '/logs/messaging?kind=api&limit=1',
      '/logs/messaging?kind=api&limit=200',
      '/logs/messaging?kind=domain&limit=1000',
    ]);
    expect(state()?.kind).toBe('live');
  });

  it('drops what a request answers after the tab was hidden', async () => {
    let release: (value: JsonAnswer) => void = () => undefined;
    answer = () =>
      new Promise<JsonAnswer>((resolve) => {
        release = resolve;
      });
    feed.start();
    await settle();
    feed.setHidden(true);
    release(log());
    await settle();
    expect(streams).toHaveLength(0);
    expect(state()).toEqual({ kind: 'hidden' });
  });

  it('tells of sources it could not read and of a backlog it could not fetch, while live', async () => {
    answer = (url) =>
      url.includes('kind=domain') ? { status: 500, body: {} } : log([], { unavailable: ['blog-service'] });
    feed.start();
    await settle();
    stream().handlers.onOpen();
    await settle();
    const live = state();
    expect(live).toEqual({ kind: 'live', type: 'redis', unavailable: ['blog-service'], problem: 'HTTP 500' });
    expect(live && eventLogText(live).text).toBe(
      'event log: live (redis) · not read: blog-service · backlog unavailable (HTTP 500)',
    );
  });

  it('writes each state as one line', () => {
    expect(eventLogText({ kind: 'connecting' }).text).toBe('event log: connecting…');
    expect(eventLogText({ kind: 'retrying', detail: 'x' })).toEqual({
      text: 'event log unavailable, retrying',
      kind: 'retrying',
    });
    expect(eventLogText({ kind: 'stopped', reason: 'off' })).toEqual({
      text: 'the event log is off (messaging type none)',
      kind: 'off',
    });
    expect(eventLogText({ kind: 'stopped', reason: 'absent' }).text).toBe('this load balancer has no event log');
    expect(eventLogText({ kind: 'hidden' }).text).toBe('event log: paused while hidden');
  });
});
