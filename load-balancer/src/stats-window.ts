import { LatencyHistogram } from '@titanium/service-kit';

export const WINDOW_SECONDS = 10;

/** What happened in one second (or, merged, in a whole window). */
export class TrafficBucket {
  second = -1;
  count = 0;
  success = 0;
  serverErrors = 0;
  sumMs = 0;
  /** Any counted request or WebSocket activity. */
  active = false;
  readonly histogram = new LatencyHistogram();

  reset(second: number): void {
    this.second = second;
    this.count = 0;
    this.success = 0;
    this.serverErrors = 0;
    this.sumMs = 0;
    this.active = false;
    this.histogram.reset();
  }

  add(other: TrafficBucket): void {
    this.count += other.count;
    this.success += other.success;
    this.serverErrors += other.serverErrors;
    this.sumMs += other.sumMs;
    this.active ||= other.active;
    this.histogram.add(other.histogram);
  }

  get empty(): boolean {
    return this.count === 0 && !this.active;
  }

  toJSON(): SerializedBucket {
    return {
      c: this.count,
      s: this.success,
      e: this.serverErrors,
      m: this.sumMs,
      a: this.active ? 1 : 0,
      h: this.histogram.toSparse(),
    };
  }

  /** Adds a bucket published by another instance; fields that are not numbers count as 0. */
  addSerialized(data: Partial<SerializedBucket>): void {
    this.count += finite(data.c);
    this.success += finite(data.s);
    this.serverErrors += finite(data.e);
    this.sumMs += finite(data.m);
    this.active ||= data.a === 1;
    this.histogram.addSparse(data.h);
  }
}

export interface SerializedBucket {
  c: number;
  s: number;
  e: number;
  m: number;
  a: 0 | 1;
  h: number[];
}

export function finite(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : 0;
}

/**
 * Real API traffic over the last WINDOW_SECONDS closed seconds: a fixed ring of one-second
 * buckets (the current one plus the window), so recording is O(1) and memory is fixed.
 * The window is made of closed seconds only, so requests_per_second is exactly count / 10.
 */
export class StatsWindow {
  readonly #now: () => number;
  readonly #ring: TrafficBucket[];
  #lifetimeCount = 0;
  #lifetimeMs = 0;

  constructor(now: () => number = Date.now) {
    this.#now = now;
    this.#ring = Array.from({ length: WINDOW_SECONDS + 1 }, () => new TrafficBucket());
  }

  now(): number {
    return this.#now();
  }

  currentSecond(): number {
    return Math.floor(this.#now() / 1000);
  }

  #bucket(): TrafficBucket {
    const second = this.currentSecond();
    const bucket = this.#ring[second % this.#ring.length] as TrafficBucket;
    if (bucket.second !== second) bucket.reset(second);
    return bucket;
  }

  /** One counted request; an aborted one is a failure whatever its status. */
  record(statusCode: number, elapsedMs: number, aborted: boolean): void {
    const bucket = this.#bucket();
    bucket.count++;
    if (!aborted && statusCode >= 200 && statusCode < 400) bucket.success++;
    else if (statusCode >= 500) bucket.serverErrors++;
    bucket.sumMs += elapsedMs;
    bucket.active = true;
    bucket.histogram.record(elapsedMs);
    this.#lifetimeCount++;
    this.#lifetimeMs += elapsedMs;
  }

  /** WebSocket activity: makes the window active without counting a request. */
  activity(): void {
    this.#bucket().active = true;
  }

  /** The bucket of a closed second still in the ring, or undefined when nothing happened then. */
  closedBucket(second: number): TrafficBucket | undefined {
    const bucket = this.#ring[second % this.#ring.length] as TrafficBucket;
    return bucket.second === second && !bucket.empty ? bucket : undefined;
  }

  /** Whether anything happened in the current, still open second. */
  get activeNow(): boolean {
    const second = this.currentSecond();
    const bucket = this.#ring[second % this.#ring.length] as TrafficBucket;
    return bucket.second === second && bucket.active;
  }

  get lifetime(): { count: number; sumMs: number } {
    return { count: this.#lifetimeCount, sumMs: this.#lifetimeMs };
  }

  /** The closed seconds of the window, oldest first. */
  windowSeconds(): number[] {
    const current = this.currentSecond();
    return Array.from({ length: WINDOW_SECONDS }, (_, i) => current - WINDOW_SECONDS + i);
  }

  /** This instance's own window, merged into one bucket. */
  merged(): TrafficBucket {
    const total = new TrafficBucket();
    for (const second of this.windowSeconds()) {
      const bucket = this.closedBucket(second);
      if (bucket) total.add(bucket);
    }
    if (this.activeNow) total.active = true;
    return total;
  }
}
