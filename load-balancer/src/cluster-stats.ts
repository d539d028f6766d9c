import type { OptionalRedis, TargetState } from '@titanium/service-kit';
import { OTHER_ROUTE } from './route-keys.js';
import {
  emptyView,
  finite,
  type SerializedSecond,
  type StatsWindow,
  TrafficBucket,
  WINDOW_SECONDS,
  type WindowView,
} from './stats-window.js';

/** An instance that has not published for this long is no longer part of the cluster. */
const LIVE_MS = 5_000;

/** What one instance says of one of its targets: the state it sees it in now. */
export interface TargetReport {
  state: TargetState;
  inFlight: number;
  lastError: string | null;
  /** ms since the epoch */
  lastChange: number;
}

interface InstanceRecord {
  t: number;
  count: number;
  ms: number;
  ws: number;
  /** Its targets' reports, by target key. */
  u: Record<string, TargetReport>;
}

/** The window over every live instance, with the lifetime figures and what each instance says of each target. */
export interface ClusterTotals {
  view: WindowView;
  lifetimeCount: number;
  lifetimeMs: number;
  wsConnections: number;
  scope: 'instance' | 'cluster';
  instances: number;
  /** Every live instance's report of each target (this one's first), by target key. */
  targets: Map<string, TargetReport[]>;
}

/**
 * Shares this instance's closed one-second buckets (totals, routes, targets) through Redis and
 * merges everyone's with its own window, its current second included.
 * Keys: `<prefix>:b:<second>` (hash: instance id → second JSON, expiring after the window) and
 * `<prefix>:i` (hash: instance id → lifetime totals, target states and the time of its last
 * publication, expiring when no instance has published for the window).
 * Without Redis, or while it is down, every answer is this instance's own. Only the route and
 * target keys this instance knows are merged (others' unknown routes count as `other`), so what
 * another instance publishes cannot grow what this one keeps.
 */
export class ClusterStats {
  readonly #redis: OptionalRedis | undefined;
  readonly #window: StatsWindow;
  readonly #id: string;
  readonly #prefix: string;
  readonly #wsConnections: () => number;
  readonly #targetReports: () => Map<string, TargetReport>;
  #published = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: {
    redis: OptionalRedis | undefined;
    window: StatsWindow;
    instanceId: string;
    prefix: string;
    wsConnections: () => number;
    /** This instance's report of each of its targets, by target key. */
    targetReports: () => Map<string, TargetReport>;
  }) {
    this.#redis = options.redis;
    this.#window = options.window;
    this.#id = options.instanceId;
    this.#prefix = options.prefix;
    this.#wsConnections = options.wsConnections;
    this.#targetReports = options.targetReports;
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

  /** Sends the seconds closed since the last publication, and this instance's record, in one pipeline. */
  async publish(): Promise<void> {
    const redis = this.#redis;
    if (!redis) return;
    const seconds = this.#window.closedSeconds().filter((second) => second > this.#published);
    const lifetime = this.#window.lifetime;
    const record: InstanceRecord = {
      t: this.#window.now(),
      count: lifetime.count,
      ms: lifetime.sumMs,
      ws: this.#wsConnections(),
      u: Object.fromEntries(this.#targetReports()),
    };
    const done = await redis.attempt((client) => {
      const pipeline = client.pipeline();
      for (const second of seconds) {
        const closed = this.#window.closedSecond(second);
        if (!closed) continue;
        const key = `${this.#prefix}:b:${second}`;
        pipeline.hset(key, this.#id, JSON.stringify(closed));
        pipeline.expire(key, WINDOW_SECONDS + 5);
      }
      pipeline.hset(`${this.#prefix}:i`, this.#id, JSON.stringify(record));
      pipeline.expire(`${this.#prefix}:i`, WINDOW_SECONDS + 5);
      return pipeline.exec();
    });
    if (done) this.#published = seconds.at(-1) ?? this.#published;
  }

  /** The window over every live instance, or this instance's own when Redis cannot answer. */
  async totals(): Promise<ClusterTotals> {
    const window = this.#window;
    const lifetime = window.lifetime;
    const own: ClusterTotals = {
      view: window.view(),
      lifetimeCount: lifetime.count,
      lifetimeMs: lifetime.sumMs,
      wsConnections: this.#wsConnections(),
      scope: 'instance',
      instances: 1,
      targets: new Map([...this.#targetReports()].map(([key, report]) => [key, [report]])),
    };
    const redis = this.#redis;
    if (!redis?.healthy) return own;
    // Other instances' current second is not published yet: the closed ones, with the window's weights.
    const weights = window.windowWeights().slice(0, -1);
    const replies = await redis.attempt((client) => {
      const pipeline = client.pipeline();
      pipeline.hgetall(`${this.#prefix}:i`);
      for (const [second] of weights) pipeline.hgetall(`${this.#prefix}:b:${second}`);
      return pipeline.exec();
    });
    if (!replies || replies.some(([err]) => err)) return own;

    const [records, ...secondReplies] = replies.map(([, value]) => (value ?? {}) as Record<string, string>);
    const now = window.now();
    const live = new Set<string>();
    const stale: string[] = [];
    const totals: ClusterTotals = { ...own, view: emptyView(), scope: 'cluster' };
    for (const [id, raw] of Object.entries(records ?? {})) {
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
      for (const [key, report] of Object.entries(record.u ?? {})) totals.targets.get(key)?.push(checked(report));
    }
    window.view(totals.view);
    secondReplies.forEach((reply, i) => {
      const weight = weights[i]?.[1] ?? 0;
      for (const [id, raw] of Object.entries(reply)) {
        if (!live.has(id)) continue;
        const second = parse<SerializedSecond>(raw);
        if (second) this.#merge(totals.view, second, weight);
      }
    });
    totals.instances = live.size + 1;
    if (stale.length > 0) void redis.attempt((client) => client.hdel(`${this.#prefix}:i`, ...stale));
    return totals;
  }

  #merge(view: WindowView, second: Partial<SerializedSecond>, weight: number): void {
    view.total.addSerialized(second, weight);
    const { routeKeys, targetKeys } = this.#window;
    for (const [key, bucket] of Object.entries(second.r ?? {})) {
      addTo(view.routes, routeKeys.includes(key) ? key : OTHER_ROUTE, bucket, weight);
    }
    for (const [key, bucket] of Object.entries(second.u ?? {})) {
      if (targetKeys.includes(key)) addTo(view.targets, key, bucket, weight);
    }
  }
}

function addTo(
  into: Map<string, TrafficBucket>,
  key: string,
  bucket: Partial<SerializedSecond> | undefined,
  weight: number,
): void {
  if (!bucket || typeof bucket !== 'object') return;
  let merged = into.get(key);
  if (!merged) {
    merged = new TrafficBucket();
    into.set(key, merged);
  }
  merged.addSerialized(bucket, weight);
}

const STATES: readonly TargetState[] = ['up', 'out', 'draining'];

/** Another instance's report of a target, with anything malformed replaced by a harmless value. */
function checked(report: Partial<TargetReport>): TargetReport {
  return {
    state: STATES.includes(report.state as TargetState) ? (report.state as TargetState) : 'up',
    inFlight: finite(report.inFlight),
    lastError: typeof report.lastError === 'string' ? report.lastError.slice(0, 200) : null,
    lastChange: finite(report.lastChange),
  };
}

function parse<T>(raw: string): Partial<T> | undefined {
  try {
    const value: unknown = JSON.parse(raw);
    return value && typeof value === 'object' ? (value as Partial<T>) : undefined;
  } catch {
    return undefined;
  }
}
