import type { HistoryAnswer, HistoryPoint, HistoryRange, OptionalRedis } from '@titanium/service-kit';
import { SharedSnapshot } from './stats-snapshot.js';
import { type SerializedBucket, type StatsWindow, TrafficBucket } from './stats-window.js';
import { trafficFigures } from './traffic-report.js';

/** Each range of `/stats/history`: its resolution, and how many slots of it make the range. */
const HISTORY_SERIES: Readonly<Record<HistoryRange, { resolutionSeconds: number; slots: number }>> = {
  '1h': { resolutionSeconds: 10, slots: 360 },
  '24h': { resolutionSeconds: 60, slots: 1_440 },
};

export const HISTORY_RANGES = Object.keys(HISTORY_SERIES) as HistoryRange[];

const LONGEST_SECONDS = Math.max(...Object.values(HISTORY_SERIES).map((s) => s.resolutionSeconds * s.slots));

interface Slot {
  start: number;
  data: SerializedBucket;
}

/** One resolution: a fixed ring of this instance's closed slots, and the slot still open. */
class Series {
  readonly resolution: number;
  readonly slots: number;
  readonly keyPrefix: string;
  /** The open slot's closed seconds so far. */
  readonly open = new TrafficBucket();
  /** Start of the newest closed slot. */
  latest = Number.NEGATIVE_INFINITY;
  /** Start of the newest closed slot Redis has. */
  written = Number.NEGATIVE_INFINITY;
  readonly #ring: (Slot | undefined)[];

  constructor(range: HistoryRange, prefix: string) {
    const { resolutionSeconds, slots } = HISTORY_SERIES[range];
    this.resolution = resolutionSeconds;
    this.slots = slots;
    this.keyPrefix = `${prefix}:h${resolutionSeconds}:`;
    this.#ring = new Array(slots).fill(undefined);
  }

  close(start: number): void {
    this.#ring[(start / this.resolution) % this.slots] = { start, data: this.open.toJSON() };
    this.open.reset();
    this.latest = start;
  }

  get(start: number): SerializedBucket | undefined {
    const slot = this.#ring[(start / this.resolution) % this.slots];
    return slot?.start === start ? slot.data : undefined;
  }

  get held(): number {
    return this.#ring.filter(Boolean).length;
  }

  /** The start of the oldest closed slot the range covers at `second`. */
  oldest(second: number): number {
    return second - (second % this.resolution) - this.slots * this.resolution;
  }

  /** The starts of the closed slots the range covers at `second`, oldest first. */
  starts(second: number): number[] {
    const oldest = this.oldest(second);
    return Array.from({ length: this.slots }, (_, i) => oldest + i * this.resolution);
  }

  key(start: number): string {
    return this.keyPrefix + start;
  }

  /** Seconds until a slot written at `now` has left the range, with one slot to spare for clocks that differ. */
  ttl(start: number, now: number): number {
    return Math.max(1, start + (this.slots + 2) * this.resolution - now);
  }
}

/**
 * The history of counted API traffic: every closed second of the window is folded into the open
 * 10-second and minute slots (so nothing depends on how many seconds the window's ring keeps),
 * and each slot, idle or not, is recorded when it closes: in this instance's fixed rings always,
 * and in Redis when there is one, as hashes `<prefix>:h10:<start>` and `<prefix>:h60:<start>`
 * (`start`: the slot's first second, Unix time) of instance id → bucket JSON. A key expires once
 * its slot has left the range, and writing a slot deletes the one a range and a slot before it,
 * so Redis holds at most 362 and 1,442 keys. Slots Redis missed while it was away are sent when
 * it answers again, and an instance's own slots are always read from its memory, so an outage
 * loses nothing this instance recorded.
 */
export class TrafficHistory {
  readonly #window: StatsWindow;
  readonly #redis: OptionalRedis | undefined;
  readonly #id: string;
  readonly #series: Record<HistoryRange, Series>;
  /** The next second to fold; undefined until the first look at the clock. */
  #cursor: number | undefined;
  #sending: Promise<void> | undefined;
  readonly #merged = new TrafficBucket();
  readonly #answers: Record<HistoryRange, SharedSnapshot<HistoryAnswer>>;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: { window: StatsWindow; redis: OptionalRedis | undefined; instanceId: string; prefix: string }) {
    this.#window = options.window;
    this.#redis = options.redis;
    this.#id = options.instanceId;
    this.#series = { '1h': new Series('1h', options.prefix), '24h': new Series('24h', options.prefix) };
    const now = () => this.#window.now();
    this.#answers = {
      '1h': new SharedSnapshot(() => this.#read('1h'), now, 1_000),
      '24h': new SharedSnapshot(() => this.#read('24h'), now, 10_000),
    };
  }

  /** Folds each second just after it closes, and sends what closed. */
  start(): void {
    if (this.#timer) return;
    this.#advance();
    const tick = () => {
      this.#advance();
      void this.flush();
      this.#timer = setTimeout(tick, 1020 - (this.#window.now() % 1000));
      this.#timer.unref();
    };
    this.#timer = setTimeout(tick, 1020 - (this.#window.now() % 1000));
    this.#timer.unref();
  }

  /** Stops the timer and sends, with the closed slots, the open ones as far as they go. */
  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#advance();
    await this.flush(true);
  }

  /** How many slots of `range` this instance keeps in memory. */
  held(range: HistoryRange): number {
    return this.#series[range].held;
  }

  #advance(): void {
    const current = this.#window.currentSecond();
    let cursor = this.#cursor ?? current;
    // After a jump of the clock beyond the longest range, nothing before it can be shown any more.
    if (cursor < current - LONGEST_SECONDS - 60) {
      cursor = current - LONGEST_SECONDS - (current % 60);
      for (const series of Object.values(this.#series)) series.open.reset();
    }
    for (; cursor < current; cursor++) {
      const bucket = this.#window.closedBucket(cursor);
      for (const series of Object.values(this.#series)) {
        if (bucket) series.open.add(bucket);
        if ((cursor + 1) % series.resolution === 0) series.close(cursor + 1 - series.resolution);
      }
    }
    this.#cursor = cursor;
  }

  /** Sends the closed slots Redis does not have yet (and, with `open`, the open ones), in one pipeline. */
  async flush(open = false): Promise<void> {
    while (this.#sending) await this.#sending;
    const redis = this.#redis;
    const series = Object.values(this.#series);
    // While Redis is away its own health check notices its return; the slots wait until then.
    if (!redis?.healthy || !(open || series.some((s) => s.latest > s.written))) return;
    this.#sending = this.#send(redis, series, open).finally(() => {
      this.#sending = undefined;
    });
    await this.#sending;
  }

  async #send(redis: OptionalRedis, all: Series[], open: boolean): Promise<void> {
    const now = this.#window.currentSecond();
    const cursor = this.#cursor ?? now;
    const upTo = all.map((series) => series.latest);
    const sent = await redis.attempt((client) => {
      const pipeline = client.pipeline();
      const write = (series: Series, start: number, data: SerializedBucket) => {
        const key = series.key(start);
        pipeline.hset(key, this.#id, JSON.stringify(data));
        pipeline.expire(key, series.ttl(start, now));
      };
      for (const series of all) {
        const from = Math.max(series.written + series.resolution, series.oldest(now));
        for (let start = from; start <= series.latest; start += series.resolution) {
          const data = series.get(start);
          if (!data) continue;
          write(series, start, data);
          pipeline.del(series.key(start - (series.slots + 1) * series.resolution));
        }
        // The open minute is sent every 10 s too, so a killed instance leaves most of it behind.
        const folded = cursor % series.resolution;
        if ((open || series.resolution > HISTORY_SERIES['1h'].resolutionSeconds) && folded > 0) {
          write(series, cursor - folded, series.open.toJSON());
        }
      }
      return pipeline.exec();
    });
    if (!sent || sent.some(([err]) => err)) return;
    all.forEach((series, i) => {
      series.written = upTo[i] as number;
    });
  }

  /**
   * The series of `range`, every instance's from Redis, or this instance's own while Redis cannot
   * answer. Merging a day of every instance's minutes takes tens of milliseconds of CPU, so callers
   * share one reading: the hour's for a second, the day's for ten.
   */
  answer(range: HistoryRange): Promise<HistoryAnswer> {
    return this.#answers[range].get();
  }

  async #read(range: HistoryRange): Promise<HistoryAnswer> {
    this.#advance();
    const series = this.#series[range];
    const starts = series.starts(this.#window.currentSecond());
    const base = { range, resolution_seconds: series.resolution };
    const redis = this.#redis;
    if (redis?.healthy) await this.flush();
    if (redis?.healthy) {
      const replies = await redis.attempt((client) => {
        const pipeline = client.pipeline();
        for (const start of starts) pipeline.hgetall(series.key(start));
        return pipeline.exec();
      });
      if (replies && !replies.some(([err]) => err)) {
        const points = starts.flatMap((start, i) => {
          const fields = (replies[i]?.[1] ?? {}) as Record<string, string>;
          return this.#point(series, start, fields);
        });
        return { ...base, scope: 'cluster', points };
      }
    }
    return { ...base, scope: 'instance', points: starts.flatMap((start) => this.#point(series, start, {})) };
  }

  /** One slot merged over this instance's memory and the other instances' fields; none when nobody recorded it. */
  #point(series: Series, start: number, fields: Record<string, string>): HistoryPoint[] {
    const merged = this.#merged;
    merged.reset();
    const own = series.get(start);
    let recorded = own !== undefined;
    if (own) merged.addSerialized(own);
    for (const [id, raw] of Object.entries(fields)) {
      if (id === this.#id && own) continue;
      const data = parseBucket(raw);
      if (!data) continue;
      merged.addSerialized(data);
      recorded = true;
    }
    if (!recorded) return [];
    const figures = trafficFigures(merged, series.resolution);
    return [
      {
        t: new Date(start * 1000).toISOString(),
        requests_per_second: figures.requests_per_second,
        avg_response_time_ms: figures.avg_response_time_ms,
        p95_response_time_ms: figures.p95_response_time_ms,
        p99_response_time_ms: figures.p99_response_time_ms,
        success_rate: figures.success_rate,
        server_error_rate: figures.server_error_rate,
        has_real_traffic: figures.has_real_traffic,
      },
    ];
  }
}

function parseBucket(raw: string): Partial<SerializedBucket> | undefined {
  try {
    const value: unknown = JSON.parse(raw);
    return value && typeof value === 'object' && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}
