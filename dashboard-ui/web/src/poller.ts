export interface PollerOptions<T> {
  url: string;
  intervalMs: number;
  timeoutMs: number;
  onResult: (result: T | undefined, error?: Error) => void;
}

/**
 * Fetches `url` every `intervalMs`, measured from the end of the previous request so requests
 * never overlap; a request slower than `timeoutMs` is abandoned and reported as an error.
 */
export class Poller<T> {
  readonly #options: PollerOptions<T>;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #inFlight = false;
  #running = false;

  constructor(options: PollerOptions<T>) {
    this.#options = options;
  }

  get running(): boolean {
    return this.#running;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    void this.pollNow();
  }

  stop(): void {
    this.#running = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Polls at once unless a request is already on its way; the schedule restarts from here. */
  async pollNow(): Promise<void> {
    if (this.#inFlight) return;
    clearTimeout(this.#timer);
    this.#inFlight = true;
    try {
      // Built apart from the call: Node's RequestInit (the unit tests run there) has no `cache`.
      const init = {
        signal: AbortSignal.timeout(this.#options.timeoutMs),
        headers: { accept: 'application/json' },
        cache: 'no-store' as const,
      };
      const res = await fetch(this.#options.url, init);
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      this.#options.onResult((await res.json()) as T);
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      const message = error.name === 'TimeoutError' ? `no answer within ${this.#options.timeoutMs} ms` : error.message;
      this.#options.onResult(undefined, new Error(message));
    } finally {
      this.#inFlight = false;
      if (this.#running) this.#timer = setTimeout(() => void this.pollNow(), this.#options.intervalMs);
    }
  }
}
