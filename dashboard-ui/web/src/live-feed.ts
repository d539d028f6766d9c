import { retryDelay } from './backoff.js';

/**
 * `connecting`: waiting for the stream to open or deliver; `stream`: updates come from the stream;
 * `polling`: the stream is down, `/stats` is polled while it is tried again; `retrying`: the stream
 * is down and tried again (a feed without a poller); `stopped`: the server refused for good (no
 * more tries until the operator resumes); `paused`: the operator paused; `hidden`: the tab is
 * hidden. Paused, hidden and stopped make no requests at all.
 */
export type FeedMode = 'connecting' | 'stream' | 'polling' | 'retrying' | 'stopped' | 'paused' | 'hidden';

/** What the feed needs of an open stream (a browser EventSource, in the page). */
export interface FeedStream {
  close(): void;
}

export interface StreamHandlers<T> {
  onData(value: T): void;
  /** The stream is open: it counts as live before its first event (a stream that is quiet when nothing happens). */
  onOpen(): void;
  /** The stream failed: refused, dropped, or sent something unreadable. It is tried again. */
  onError(reason: string): void;
  /** The server refused in a way another try will not change (no access, switched off): no more tries. */
  onStop(reason: string): void;
}

export interface LiveFeedOptions<T> {
  openStream: (handlers: StreamHandlers<T>) => FeedStream;
  /** Polls `/stats` and reports each result itself (the page's Poller); without one, the feed only retries. */
  poller?: { start(): void; stop(): void };
  onData: (value: T) => void;
  /** No update came for the stale limit: the page has lost its figures, whatever the fallback polls bring next. */
  onStale?: (detail: string) => void;
  onMode: (mode: FeedMode, previous: FeedMode, detail?: string) => void;
  /**
   * A stream without an event for this long is taken as lost (also while it connects); once the
   * stream has been slower (a service holding up the load balancer's figures), twice its slowest
   * gap, up to four times this. Without it, silence is never taken as loss (a stream that only
   * speaks when something happens).
   */
  staleMs?: number;
  /** First delay before trying the stream again; doubled after each failure, up to maxRetryMs. */
  retryMs?: number;
  maxRetryMs?: number;
}

type Options<T> = Required<Omit<LiveFeedOptions<T>, 'poller' | 'staleMs'>> &
  Pick<LiveFeedOptions<T>, 'poller' | 'staleMs'>;

/**
 * Live updates: from the stream while it works, else from polling `/stats` (when there is a
 * poller) while the stream is tried again (with back-off), and back to the stream, polling
 * stopped, as soon as it delivers. Pausing or hiding closes everything and stops every timer.
 */
export class LiveFeed<T> {
  readonly #options: Options<T>;
  #mode: FeedMode = 'paused';
  #stream: FeedStream | undefined;
  #staleTimer: ReturnType<typeof setTimeout> | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #failures = 0;
  #lastDataAt: number | undefined;
  #slowestGapMs = 0;
  #paused = true;
  #hidden = false;
  #stopped = false;
  #stopReason: string | undefined;

  constructor(options: LiveFeedOptions<T>) {
    this.#options = { retryMs: 2000, maxRetryMs: 30_000, onStale: () => undefined, ...options };
  }

  get mode(): FeedMode {
    return this.#mode;
  }

  /** Whether the operator wants live updates (they may still wait for the tab to be shown). */
  get running(): boolean {
    return !this.#paused;
  }

  /** Starts (or resumes) the feed; a stopped feed tries again. */
  start(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#stopped = false;
    this.#run();
  }

  pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.#halt();
    if (!this.#hidden) this.#setMode('paused');
  }

  setHidden(hidden: boolean): void {
    if (hidden === this.#hidden) return;
    this.#hidden = hidden;
    if (hidden) {
      this.#halt();
      this.#setMode('hidden');
    } else if (this.#paused) {
      this.#setMode('paused');
    } else if (this.#stopped) {
      this.#setMode('stopped', this.#stopReason);
    } else {
      this.#run();
    }
  }

  #run(): void {
    if (this.#paused || this.#hidden || this.#stopped) return;
    this.#failures = 0;
    this.#setMode('connecting');
    this.#open();
  }

  #open(): void {
    let stream: FeedStream | undefined;
    const current = () => stream !== undefined && stream === this.#stream;
    stream = this.#options.openStream({
      onData: (value) => {
        if (!current()) return;
        const now = Date.now();
        if (this.#lastDataAt !== undefined) this.#slowestGapMs = Math.max(this.#slowestGapMs, now - this.#lastDataAt);
        this.#lastDataAt = now;
        this.#watch();
        this.#live();
        this.#options.onData(value);
      },
      onOpen: () => {
        if (current()) this.#live();
      },
      onError: (reason) => {
        if (current()) this.#fail(reason);
      },
      onStop: (reason) => {
        if (!current()) return;
        this.#stopped = true;
        this.#stopReason = reason;
        this.#halt();
        this.#setMode('stopped', reason);
      },
    });
    this.#stream = stream;
    this.#lastDataAt = undefined;
    this.#watch();
  }

  #live(): void {
    if (this.#mode === 'stream') return;
    this.#options.poller?.stop();
    this.#failures = 0;
    this.#setMode('stream');
  }

  #watch(): void {
    clearTimeout(this.#staleTimer);
    const { staleMs } = this.#options;
    if (staleMs === undefined) return;
    const limit = Math.min(4 * staleMs, Math.max(staleMs, 2 * this.#slowestGapMs));
    this.#staleTimer = setTimeout(() => {
      const detail = `no update for ${limit / 1000} s`;
      this.#options.onStale?.(detail);
      this.#fail(detail);
    }, limit);
  }

  #fail(reason: string): void {
    this.#closeStream();
    this.#failures++;
    const { poller } = this.#options;
    const mode = poller ? 'polling' : 'retrying';
    if (this.#mode !== mode) {
      this.#setMode(mode, reason);
      poller?.start();
    }
    const delay = retryDelay(this.#failures, this.#options.retryMs, this.#options.maxRetryMs);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#open();
    }, delay);
  }

  #closeStream(): void {
    clearTimeout(this.#staleTimer);
    this.#staleTimer = undefined;
    const stream = this.#stream;
    this.#stream = undefined;
    stream?.close();
  }

  #halt(): void {
    this.#closeStream();
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#options.poller?.stop();
  }

  #setMode(mode: FeedMode, detail?: string): void {
    const previous = this.#mode;
    if (mode === previous) return;
    this.#mode = mode;
    this.#options.onMode(mode, previous, detail);
  }
}
