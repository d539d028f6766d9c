import type { FeedStream, StreamHandlers } from './live-feed.js';

export interface EventSourceOptions<T> {
  url: string;
  /** The SSE event name the data comes as. */
  event: string;
  /** The event's data, parsed as JSON, as the feed takes it; undefined for data the page cannot read. */
  read(value: unknown): T | undefined;
  /**
   * What unreadable data means: `fail` the stream (one whose every event is a whole answer), or
   * `skip` the event (one event of many).
   */
  unreadable: 'fail' | 'skip';
  /**
   * When the stream counts as live: on `open` (one that is quiet while nothing happens), or with
   * its first `data` (one that sends at once, so an open stream that stays silent is not live).
   */
  liveOn: 'open' | 'data';
}

/**
 * Opens a Server-Sent Events stream for a LiveFeed. The browser's own reconnecting is cut short:
 * on an error the source is closed at once, and the feed decides when to try again.
 */
export function openEventSource<T>(options: EventSourceOptions<T>, handlers: StreamHandlers<T>): FeedStream {
  const source = new EventSource(options.url);
  let opened = false;
  source.addEventListener('open', () => {
    opened = true;
    if (options.liveOn === 'open') handlers.onOpen();
  });
  source.addEventListener(options.event, (event) => {
    let value: T | undefined;
    try {
      // A MessageEvent: the DOM's typings say so for any event name, Node's (the tests') do not.
      value = options.read(JSON.parse((event as MessageEvent).data));
    } catch {
      value = undefined;
    }
    if (value !== undefined) handlers.onData(value);
    else if (options.unreadable === 'fail') handlers.onError('unreadable event');
  });
  source.addEventListener('error', () => {
    source.close();
    handlers.onError(opened ? 'stream dropped' : 'stream unavailable');
  });
  return source;
}
