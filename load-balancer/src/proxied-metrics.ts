import { DURATION_BUCKETS, type ServiceMetrics } from '@titanium/service-kit';

type Metric = Parameters<ServiceMetrics['registry']['registerMetric']>[0];

/** One set of label values: counts per duration bucket (the last one is +Inf), sum, count. */
interface Series {
  labels: Record<string, string>;
  counts: Float64Array;
  sum: number;
  count: number;
}

function newSeries(labels: Record<string, string>): Series {
  return { labels, counts: new Float64Array(DURATION_BUCKETS.length + 1), sum: 0, count: 0 };
}

function observe(series: Series, seconds: number): void {
  let bucket = 0;
  while (bucket < DURATION_BUCKETS.length && seconds > (DURATION_BUCKETS[bucket] as number)) bucket++;
  series.counts[bucket] = (series.counts[bucket] ?? 0) + 1;
  series.sum += seconds;
  series.count++;
}

/**
 * A Prometheus histogram kept by plain counters and rendered only when `/metrics` is read.
 * prom-client's own `observe` validates and hashes the labels on every call, which cost the load
 * balancer about 7 % of its requests per second; here a request is a lookup of its series (the
 * subclass's, by indexes or maps, never by building a string), a scan of 14 bounds and three
 * additions. Each subclass keeps its series bounded.
 */
abstract class FastHistogram {
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  abstract readonly name: string;
  abstract readonly help: string;
  protected readonly series: Series[] = [];

  protected add(labels: Record<string, string>): Series {
    const created = newSeries(labels);
    this.series.push(created);
    return created;
  }

  /** What prom-client's registry reads on a scrape: cumulative buckets, then sum and count. */
  get() {
    const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
    for (const { labels, counts, sum, count } of this.series) {
      let cumulative = 0;
      for (let i = 0; i <= DURATION_BUCKETS.length; i++) {
        cumulative += counts[i] ?? 0;
        const le = i < DURATION_BUCKETS.length ? (DURATION_BUCKETS[i] as number) : '+Inf';
        values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le }, value: cumulative });
      }
      values.push({ metricName: `${this.name}_sum`, labels, value: sum });
      values.push({ metricName: `${this.name}_count`, labels, value: count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    for (const series of this.series) {
      series.counts.fill(0);
      series.sum = 0;
      series.count = 0;
    }
  }

  /** For `Registry.registerMetric`, which reads only name, type, `get()` and `reset()`. */
  asMetric(): Metric {
    return this as unknown as Metric;
  }
}

/**
 * Every proxied request by route pattern, method and status. The series are bounded: three
 * routes, the methods Node's parser accepts and the status codes targets send.
 */
export class ProxiedRequestMetrics extends FastHistogram {
  readonly name = 'lb_proxied_request_duration_seconds';
  readonly help =
    'Duration of requests the load balancer proxied, in seconds, by route pattern, method and status code';
  readonly #byRoute = new Map<string, Map<string, Map<number, Series>>>();

  observe(route: string, method: string, statusCode: number, seconds: number): void {
    let byMethod = this.#byRoute.get(route);
    if (!byMethod) {
      byMethod = new Map();
      this.#byRoute.set(route, byMethod);
    }
    let byStatus = byMethod.get(method);
    if (!byStatus) {
      byStatus = new Map();
      byMethod.set(method, byStatus);
    }
    let series = byStatus.get(statusCode);
    if (!series) {
      series = this.add({ route, method, status_code: String(statusCode) });
      byStatus.set(statusCode, series);
    }
    observe(series, seconds);
  }
}

const CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx', 'aborted'] as const;

/**
 * Counted API requests by route key (`METHOD template`, or `other`) and status class (`aborted`
 * when the client left first): at most the route keys times six series.
 */
export class RouteRequestMetrics extends FastHistogram {
  readonly name = 'lb_route_request_duration_seconds';
  readonly help = 'Duration of counted API requests, in seconds, by route (METHOD template, or other) and status class';
  readonly #keys: readonly string[];
  readonly #byRoute: (Series | undefined)[][];

  constructor(keys: readonly string[]) {
    super();
    this.#keys = keys;
    this.#byRoute = keys.map(() => []);
  }

  observe(route: number, statusCode: number, aborted: boolean, seconds: number): void {
    const byClass = this.#byRoute[route];
    if (!byClass) return;
    const cls = aborted ? 5 : Math.min(4, Math.max(0, ((statusCode / 100) | 0) - 1));
    let series = byClass[cls];
    if (!series) {
      series = this.add({ route: this.#keys[route] as string, status_class: CLASSES[cls] as string });
      byClass[cls] = series;
    }
    observe(series, seconds);
  }
}
