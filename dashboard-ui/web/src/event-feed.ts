import { openEventSource } from './event-source.js';
import {
  EVENT_LOG_MAX,
  EVENT_STREAM_PATH,
  type EventLogPage,
  eventLogUrl,
  type LogEvent,
  readEvent,
  readEventLog,
  STREAM_EVENT,
} from './events.js';
import { type FeedMode, type FeedStream, LiveFeed, type StreamHandlers } from './live-feed.js';

/** Why the event log is not tried again: it needs the OPS token, it is switched off, or this load balancer has none. */
export type StopReason = 'token' | 'off' | 'absent';

export type EventLogState =
  | { kind: 'connecting' | 'paused' | 'hidden' }
  | { kind: 'live'; type: string; unavailable: string[]; problem: string | undefined }
  | { kind: 'retrying'; detail: string }
  | { kind: 'stopped'; reason: StopReason };

export type EventLogStateKind = EventLogState['kind'] | StopReason;

/** The state as one line of text, and a short name for it (`data-state`). */
export function eventLogText(state: EventLogState): { text: string; kind: EventLogStateKind } {
  switch (state.kind) {
    case 'connecting':
      return { text: 'event log: connecting…', kind: 'connecting' };
    case 'paused':
      return { text: 'event log: paused', kind: 'paused' };
    case 'hidden':
      return { text: 'event log: paused while hidden', kind: 'hidden' };
    case 'retrying':
      return { text: 'event log unavailable, retrying', kind: 'retrying' };
    case 'live': {
      const parts = [`event log: live (${state.type})`];
      if (state.unavailable.length > 0) parts.push(`not read: ${state.unavailable.join(', ')}`);
      if (state.problem) parts.push(`backlog unavailable (${state.problem})`);
      return { text: parts.join(' · '), kind: 'live' };
    }
    case 'stopped':
      return {
        text: {
          token: 'the event log needs the OPS token',
          off: 'the event log is off (messaging type none)',
          absent: 'this load balancer has no event log',
        }[state.reason],
        kind: state.reason,
      };
  }
}

/** How many API calls the panel fills from the backlog, and domain events the activity line. */
export const BACKLOG = { api: 200, domain: EVENT_LOG_MAX } as const;

export interface JsonAnswer {
  status: number;
  body: unknown;
}

export interface EventLogFeedOptions {
  /** Events from the backlog (newest first) or the stream (one at a time); the same event may come twice. */
  onEvents(events: LogEvent[]): void;
  /** Called when the state changes. */
  onState(state: EventLogState): void;
  /** The browser's fetch unless given (tests). */
  fetchJson?: (url: string, signal: AbortSignal) => Promise<JsonAnswer>;
  /** The browser's EventSource on `/logs/messaging/stream` unless given (tests). */
  openEvents?: (handlers: StreamHandlers<LogEvent>) => FeedStream;
  timeoutMs?: number;
  retryMs?: number;
  maxRetryMs?: number;
}

async function browserFetchJson(url: string, signal: AbortSignal): Promise<JsonAnswer> {
  // Built apart from the call: Node's RequestInit (the unit tests run there) has no `cache`.
  const init = { signal, headers: { accept: 'application/json' }, cache: 'no-store' as const };
  const res = await fetch(url, init);
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    body = undefined;
  }
  return { status: res.status, body };
}

function browserOpenEvents(handlers: StreamHandlers<LogEvent>): FeedStream {
  return openEventSource(
    { url: EVENT_STREAM_PATH, event: STREAM_EVENT, read: readEvent, unreadable: 'skip', liveOn: 'open' },
    handlers,
  );
}

type Reading = { page: EventLogPage } | { stop: StopReason } | { error: string };

/**
 * The load balancer's event log, live: each connection first asks `/logs/messaging` whether there
 * is a log to read (a 401 or an event log switched off stops it for good, a load balancer without
 * one too), then opens `/logs/messaging/stream` and, once it is open, fetches the backlog, so the
 * events from before (on load, after a drop, after the tab was hidden) are there too. The stream
 * is the page's LiveFeed: while the tab is hidden or monitoring is paused nothing is open, a
 * stream that fails is tried again with back-off. It has no silence limit: the log speaks only
 * when something happens, and its heartbeats are comments a browser does not pass on.
 */
export class EventLogFeed {
  readonly #options: Required<Omit<EventLogFeedOptions, 'retryMs' | 'maxRetryMs'>>;
  readonly #feed: LiveFeed<LogEvent>;
  #type = '';
  #unavailable: string[] = [];
  #problem: string | undefined;
  #state = '';

  constructor(options: EventLogFeedOptions) {
    this.#options = { fetchJson: browserFetchJson, openEvents: browserOpenEvents, timeoutMs: 5000, ...options };
    this.#feed = new LiveFeed<LogEvent>({
      openStream: (handlers) => this.#connect(handlers),
      onData: (event) => this.#options.onEvents([event]),
      onMode: (mode, _previous, detail) => this.#report(mode, detail),
      ...(options.retryMs === undefined ? {} : { retryMs: options.retryMs }),
      ...(options.maxRetryMs === undefined ? {} : { maxRetryMs: options.maxRetryMs }),
    });
  }

  get mode(): FeedMode {
    return this.#feed.mode;
  }

  get running(): boolean {
    return this.#feed.running;
  }

  start(): void {
    this.#feed.start();
  }

  pause(): void {
    this.#feed.pause();
  }

  setHidden(hidden: boolean): void {
    this.#feed.setHidden(hidden);
  }

  #connect(handlers: StreamHandlers<LogEvent>): FeedStream {
    const controller = new AbortController();
    const { signal } = controller;
    let stream: FeedStream | undefined;
    const probe = async () => {
      const reading = await this.#read(eventLogUrl({ kind: 'api', limit: 1 }), signal);
      if (signal.aborted) return;
      if ('stop' in reading) {
        handlers.onStop(reading.stop);
        return;
      }
      if ('error' in reading) {
        handlers.onError(reading.error);
        return;
      }
      this.#type = reading.page.type ?? 'unknown';
      this.#unavailable = reading.page.unavailable;
      this.#problem = undefined;
      stream = this.#options.openEvents({
        ...handlers,
        onOpen: () => {
          handlers.onOpen();
          void this.#catchUp(handlers, signal);
        },
      });
    };
    void probe();
    return {
      close() {
        controller.abort();
        stream?.close();
      },
    };
  }

  /** The backlog of both kinds, once the stream is open. */
  async #catchUp(handlers: StreamHandlers<LogEvent>, signal: AbortSignal): Promise<void> {
    const readings = await Promise.all([
      this.#read(eventLogUrl({ kind: 'api', limit: BACKLOG.api }), signal),
      this.#read(eventLogUrl({ kind: 'domain', limit: BACKLOG.domain }), signal),
    ]);
    if (signal.aborted) return;
    const unavailable = new Set<string>();
    let problem: string | undefined;
    for (const reading of readings) {
      if ('stop' in reading) {
        handlers.onStop(reading.stop);
        return;
      }
      if ('error' in reading) problem ??= reading.error;
      else {
        for (const source of reading.page.unavailable) unavailable.add(source);
        this.#options.onEvents(reading.page.events);
      }
    }
    this.#unavailable = [...unavailable];
    this.#problem = problem;
    if (this.#feed.mode === 'stream') this.#report('stream');
  }

  async #read(url: string, signal: AbortSignal): Promise<Reading> {
    const { timeoutMs } = this.#options;
    try {
      const { status, body } = await this.#options.fetchJson(
        url,
        AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
      );
      if (status === 401) return { stop: 'token' };
      if (status === 404) return { stop: 'absent' };
      if (status !== 200) return { error: `HTTP ${status}` };
      const page = readEventLog(body);
      if (!page.valid) return { stop: 'absent' };
      if (page.type === 'none') return { stop: 'off' };
      return { page };
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      return { error: error.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : error.message };
    }
  }

  #report(mode: FeedMode, detail?: string): void {
    let state: EventLogState;
    switch (mode) {
      case 'stream':
        state = { kind: 'live', type: this.#type, unavailable: this.#unavailable, problem: this.#problem };
        break;
      case 'polling':
      case 'retrying':
        state = { kind: 'retrying', detail: detail ?? 'stream down' };
        break;
      case 'stopped':
        state = { kind: 'stopped', reason: (detail as StopReason | undefined) ?? 'absent' };
        break;
      default:
        state = { kind: mode };
    }
    const key = JSON.stringify(state);
    if (key === this.#state) return;
    this.#state = key;
    this.#options.onState(state);
  }
}
