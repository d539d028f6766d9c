import type { OptionalRedis } from '@titanium/service-kit';
import { finite, type SerializedBucket, type StatsWindow, TrafficBucket, WINDOW_SECONDS } from './stats-window.js';
import type { TrafficTotals } from './traffic-report.js';

/** An instance that has not published for this long is no longer part of the cluster. */
const LIVE_MS = 5_000;

interface InstanceRecord {
  t: number;
  count: number;
  ms: number;
  ws: number;
}

/**
 * Shares this instance's closed one-second buckets through Redis and merges everyone's.
 * Keys: `<prefix>:b:<second>` (hash: instance id → bucket JSON, expiring after the window) and
 * `<prefix>:i` (hash: instance id → lifetime totals and the time of its last publication).
 * Without Redis, or while it is down, every answer is this instance's own.
 */
export class ClusterStats {
  readonly #redis: OptionalRedis | undefined;
  readonly #window: StatsWindow;
  readonly #id: string;
  readonly #prefix: string;
  readonly #wsConnections: () => number;
  #published = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: {
    redis: OptionalRedis | undefined;
    window: StatsWindow;
    instanceId: string;
    prefix: string;
    wsConnections: () => number;
  }) {
    this.#redis = options.redis;
    this.#window = options.window;
    this.#id = options.instanceId;
    this.#prefix = options.prefix;
    this.#wsConnections = options.wsConnections;
  }

  /** Publishes once a second, just after each second closes. */
  start(): void {
    if (!this.#redis || this.#timer) return;
    const tick = () => {
      void this.publish();
      this.#timer = setTimeout(tick, 1020 - (this.#window.now() % 1000));
      this.#timer.unref();
    };
    this.#timer = setTimeout(tick, 1020 - (this.#window.now() % 1000));
    this.#timer.unref();
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Sends the seconds closed since the last publication, and this instance's totals, in one pipeline. */
  async publish(): Promise<void> {
    const redis = this.#redis;
    if (!redis) return;
    const seconds = this.#window.windowSeconds().filter((second) => second > this.#published);
    const lifetime = this.#window.lifetime;
    const record: InstanceRecord = {
      t: this.#window.now(),
      count: lifetime.count,
      ms: lifetime.sumMs,
      ws: this.#wsConnections(),
    };
    const done = await redis.attempt((client) => {
      const pipeline = client.pipeline();
      for (const second of seconds) {
        const bucket = this.#window.closedBucket(second);
        if (!bucket) continue;
        const key = `${this.#prefix}:b:${second}`;
        pipeline.hset(key, this.#id, JSON.stringify(bucket));
        pipeline.expire(key, WINDOW_SECONDS + 5);
      }
      pipeline.hset(`${this.#prefix}:i`, this.#id, JSON.stringify(record));
      return pipeline.exec();
    });
    if (done) this.#published = seconds.at(-1) ?? this.#published;
  }

  /** The window over every live instance, or this instance's own when Redis cannot answer. */
  async totals(): Promise<TrafficTotals> {
    const own = this.#window.merged();
    const lifetime = this.#window.lifetime;
    const local: TrafficTotals = {
      window: own,
      lifetimeCount: lifetime.count,
      lifetimeMs: lifetime.sumMs,
      wsConnections: this.#wsConnections(),
      scope: 'instance',
      instances: 1,
    };
    const redis = this.#redis;
    if (!redis?.healthy) return local;
    const seconds = this.#window.windowSeconds();
    const replies = await redis.attempt((client) => {
      const pipeline = client.pipeline();
      pipeline.hgetall(`${this.#prefix}:i`);
      for (const second of seconds) pipeline.hgetall(`${this.#prefix}:b:${second}`);
      return pipeline.exec();
    });
    if (!replies || replies.some(([err]) => err)) return local;

    const [instancesReply, ...bucketReplies] = replies.map(([, value]) => (value ?? {}) as Record<string, string>);
    const now = this.#window.now();
    const live = new Set<string>();
    const stale: string[] = [];
    const totals = { ...local, scope: 'cluster' as const };
    for (const [id, raw] of Object.entries(instancesReply ?? {})) {
      if (id === this.#id) continue;
      const record = parse<InstanceRecord>(raw);
      if (!record || !(finite(record.t) > now - LIVE_MS)) {
        stale.push(id);
        continue;
      }
      live.add(id);
      totals.lifetimeCount += finite(record.count);
      totals.lifetimeMs += finite(record.ms);
      totals.wsConnections += finite(record.ws);
    }
    const window = new TrafficBucket();
    window.add(own);
    for (const reply of bucketReplies) {
      for (const [id, raw] of Object.entries(reply)) {
        if (!live.has(id)) continue;
        const bucket = parse<SerializedBucket>(raw);
        if (bucket) window.addSerialized(bucket);
      }
    }
    totals.window = window;
    totals.instances = live.size + 1;
    if (stale.length > 0) void redis.attempt((client) => client.hdel(`${this.#prefix}:i`, ...stale));
    return totals;
  }
}

function parse<T>(raw: string): Partial<T> | undefined {
  try {
    const value: unknown = JSON.parse(raw);
    return value && typeof value === 'object' ? (value as Partial<T>) : undefined;
  } catch {
    return undefined;
  }
}
