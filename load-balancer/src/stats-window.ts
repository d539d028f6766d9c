import { isSuccess, LatencyHistogram } from '@titanium/service-kit';

export const WINDOW_SECONDS = 10;

/** A bucket as published to Redis: count, successes, 5xx, sum of ms, active, sparse histogram, status classes. */
export interface SerializedBucket {
  c: number;
  s: number;
  e: number;
  m: number;
  a: 0 | 1;
  h: number[];
  x: number[];
}

/** One closed second as published to Redis: its totals, and its buckets by route key and by target key. */
export interface SerializedSecond extends SerializedBucket {
  r?: Record<string, SerializedBucket>;
  u?: Record<string, SerializedBucket>;
}

export function finite(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : 0;
}

/**
 * What happened in one second (or, merged, over a span): the counted requests of the whole API
 * or of one route, or the requests sent to one upstream target.
 */
export class TrafficBucket {
  count = 0;
  success = 0;
  serverErrors = 0;
  sumMs = 0;
  /** Answers by status class, 2xx to 5xx; a request the client left before its answer is in none. */
  readonly classes = [0, 0, 0, 0];
  /** Any counted request or WebSocket activity. */
  active = false;
  readonly histogram = new LatencyHistogram();

  /** One request; one the client left is a failure whatever its status. */
  record(statusCode: number, elapsedMs: number, aborted: boolean): void {
    this.count++;
    if (isSuccess(statusCode, aborted)) this.success++;
    else if (statusCode >= 500) this.serverErrors++;
    if (!aborted) {
      const cls = ((statusCode / 100) | 0) - 2;
      if (cls >= 0 && cls < 4) this.classes[cls] = (this.classes[cls] ?? 0) + 1;
    }
    this.sumMs += elapsedMs;
    this.active = true;
    this.histogram.record(elapsedMs);
  }

  reset(): void {
    this.count = 0;
    this.success = 0;
    this.serverErrors = 0;
    this.sumMs = 0;
    this.classes.fill(0);
    this.active = false;
    this.histogram.reset();
  }

  /** Adds `other`, its counts times `weight` when only part of its span is wanted. */
  add(other: TrafficBucket, weight = 1): void {
    this.count += other.count * weight;
    this.success += other.success * weight;
    this.serverErrors += other.serverErrors * weight;
    this.sumMs += other.sumMs * weight;
    for (let i = 0; i < 4; i++) this.classes[i] = (this.classes[i] ?? 0) + (other.classes[i] ?? 0) * weight;
    this.active ||= other.active;
    this.histogram.add(other.histogram, weight);
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
      x: [...this.classes],
    };
  }

  /** Adds a bucket published by another instance (times `weight`); fields that are not numbers count as 0. */
  addSerialized(data: Partial<SerializedBucket>, weight = 1): void {
    this.count += finite(data.c) * weight;
    this.success += finite(data.s) * weight;
    this.serverErrors += finite(data.e) * weight;
    this.sumMs += finite(data.m) * weight;
    if (Array.isArray(data.x)) {
      for (let i = 0; i < 4; i++) this.classes[i] = (this.classes[i] ?? 0) + finite(data.x[i]) * weight;
    }
    this.active ||= data.a === 1;
    this.histogram.addSparse(data.h, weight);
  }
}

/** One second of the ring: its totals, and its buckets by route index and by target index, made when first used. */
class Second {
  second = -1;
  readonly total = new TrafficBucket();
  readonly routes: (TrafficBucket | undefined)[] = [];
  readonly targets: (TrafficBucket | undefined)[] = [];

  reset(second: number): void {
    this.second = second;
    this.total.reset();
    for (const bucket of this.routes) bucket?.reset();
    for (const bucket of this.targets) bucket?.reset();
  }
}

function bucketAt(list: (TrafficBucket | undefined)[], index: number): TrafficBucket {
  let bucket = list[index];
  if (!bucket) {
    bucket = new TrafficBucket();
    list[index] = bucket;
  }
  return bucket;
}

/** The merged window: totals, and buckets by route key and by target key. */
export interface WindowView {
  total: TrafficBucket;
  routes: Map<string, TrafficBucket>;
  targets: Map<string, TrafficBucket>;
}

export function emptyView(): WindowView {
  return { total: new TrafficBucket(), routes: new Map(), targets: new Map() };
}

/**
 * Real API traffic over the last WINDOW_SECONDS: a fixed ring of one-second buckets (the current
 * one and the ten before it), so recording is O(1) and memory is fixed. The window is the current
 * second, the nine before it, and of the tenth before it the share still inside the last ten
 * seconds (its counts pro-rated), so requests_per_second is the count of the last ten seconds / 10,
 * and a burst is in the figures the moment it ends. Each counted request is also filed under its
 * route (an index into `routeKeys`), and every proxied request under its target.
 */
export class StatsWindow {
  readonly #now: () => number;
  readonly #ring: Second[];
  readonly routeKeys: readonly string[];
  readonly targetKeys: readonly string[];
  #lifetimeCount = 0;
  #lifetimeMs = 0;

  constructor(now: () => number = Date.now, routeKeys: readonly string[] = [], targetKeys: readonly string[] = []) {
    this.#now = now;
    this.#ring = Array.from({ length: WINDOW_SECONDS + 1 }, () => new Second());
    this.routeKeys = routeKeys;
    this.targetKeys = targetKeys;
  }

  now(): number {
    return this.#now();
  }

  currentSecond(): number {
    return Math.floor(this.#now() / 1000);
  }

  #current(): Second {
    const second = this.currentSecond();
    const slot = this.#ring[second % this.#ring.length] as Second;
    if (slot.second !== second) slot.reset(second);
    return slot;
  }

  /** One counted request, filed under route `route` (an index into `routeKeys`), or under none with -1. */
  record(statusCode: number, elapsedMs: number, aborted: boolean, route = -1): void {
    const slot = this.#current();
    slot.total.record(statusCode, elapsedMs, aborted);
    if (route >= 0) bucketAt(slot.routes, route).record(statusCode, elapsedMs, aborted);
    this.#lifetimeCount++;
    this.#lifetimeMs += elapsedMs;
  }

  /** One proxied request, counted or not, sent to target `target` (an index into `targetKeys`). */
  recordTarget(target: number, statusCode: number, elapsedMs: number, aborted: boolean): void {
    bucketAt(this.#current().targets, target).record(statusCode, elapsedMs, aborted);
  }

  /** WebSocket activity: makes the window active without counting a request. */
  activity(): void {
    this.#current().total.active = true;
  }

  #slot(second: number): Second | undefined {
    const slot = this.#ring[second % this.#ring.length] as Second;
    return slot.second === second ? slot : undefined;
  }

  /** The totals of a closed second still in the ring, or undefined when nothing happened then. */
  closedBucket(second: number): TrafficBucket | undefined {
    const bucket = second < this.currentSecond() ? this.#slot(second)?.total : undefined;
    return bucket && !bucket.empty ? bucket : undefined;
  }

  /** A closed second still in the ring, with its routes and targets, as it is published; undefined when idle. */
  closedSecond(second: number): SerializedSecond | undefined {
    const slot = second < this.currentSecond() ? this.#slot(second) : undefined;
    if (!slot) return undefined;
    const targets = named(slot.targets, this.targetKeys);
    if (slot.total.empty && targets === undefined) return undefined;
    return { ...slot.total.toJSON(), r: named(slot.routes, this.routeKeys) ?? {}, u: targets ?? {} };
  }

  get lifetime(): { count: number; sumMs: number } {
    return { count: this.#lifetimeCount, sumMs: this.#lifetimeMs };
  }

  /** The closed seconds still in the ring, oldest first: what can be published. */
  closedSeconds(): number[] {
    const current = this.currentSecond();
    return Array.from({ length: WINDOW_SECONDS }, (_, i) => current - WINDOW_SECONDS + i);
  }

  /**
   * The seconds that make up the window and how much of each counts: the oldest pro-rated by how
   * much of it is still within the last ten seconds, the others whole, the current one last.
   */
  windowWeights(): [second: number, weight: number][] {
    const now = this.#now();
    const current = Math.floor(now / 1000);
    const pastOldest = (now - current * 1000) / 1000;
    return Array.from({ length: WINDOW_SECONDS + 1 }, (_, i) => {
      const second = current - WINDOW_SECONDS + i;
      return [second, i === 0 ? 1 - pastOldest : 1];
    });
  }

  /** This instance's own window, merged; `into` when given (to add other instances to). */
  view(into: WindowView = emptyView()): WindowView {
    for (const [second, weight] of this.windowWeights()) {
      const slot = this.#slot(second);
      if (!slot || weight <= 0) continue;
      into.total.add(slot.total, weight);
      addNamed(into.routes, slot.routes, this.routeKeys, weight);
      addNamed(into.targets, slot.targets, this.targetKeys, weight);
    }
    return into;
  }
}

/** The buckets that saw anything, by key; undefined when none did. */
function named(
  buckets: (TrafficBucket | undefined)[],
  keys: readonly string[],
): Record<string, SerializedBucket> | undefined {
  let out: Record<string, SerializedBucket> | undefined;
  buckets.forEach((bucket, index) => {
    const key = keys[index];
    if (!bucket || bucket.empty || key === undefined) return;
    out ??= {};
    out[key] = bucket.toJSON();
  });
  return out;
}

function addNamed(
  into: Map<string, TrafficBucket>,
  buckets: (TrafficBucket | undefined)[],
  keys: readonly string[],
  weight: number,
): void {
  buckets.forEach((bucket, index) => {
    const key = keys[index];
    if (!bucket || bucket.empty || key === undefined) return;
    let merged = into.get(key);
    if (!merged) {
      merged = new TrafficBucket();
      into.set(key, merged);
    }
    merged.add(bucket, weight);
  });
}
