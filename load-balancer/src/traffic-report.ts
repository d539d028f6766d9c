import type {
  LoadBalancerBlock,
  RouteFigures,
  TargetState,
  UpstreamGroupName,
  UpstreamTargetFigures,
} from '@titanium/service-kit';
import type { ClusterTotals, TargetReport } from './cluster-stats.js';
import { type TrafficBucket, WINDOW_SECONDS } from './stats-window.js';

/** The figures of counted traffic in `bucket`, which spans `seconds`: what the window, a route and a history point report. */
export function trafficFigures(bucket: TrafficBucket, seconds: number) {
  const count = bucket.count;
  return {
    has_real_traffic: bucket.active || count > 0,
    requests_per_second: round(count / seconds),
    avg_response_time_ms: count > 0 ? round(bucket.sumMs / count) : 0,
    p50_response_time_ms: round(bucket.histogram.percentile(50)),
    p95_response_time_ms: round(bucket.histogram.percentile(95)),
    p99_response_time_ms: round(bucket.histogram.percentile(99)),
    success_rate: count > 0 ? round((bucket.success / count) * 100) : 100,
    server_error_rate: count > 0 ? round((bucket.serverErrors / count) * 100) : 0,
  };
}

/** A target of a group, as the report lists it: its URL and its key in the window. */
export interface ReportedTarget {
  url: string;
  key: string;
}

/** Every route with traffic in the window, busiest first. */
function routeFigures(totals: ClusterTotals): RouteFigures[] {
  const routes: (RouteFigures & { count: number })[] = [];
  for (const [route, bucket] of totals.view.routes) {
    if (!(bucket.count > 0)) continue;
    const { has_real_traffic: _active, ...figures } = trafficFigures(bucket, WINDOW_SECONDS);
    const [c2 = 0, c3 = 0, c4 = 0, c5 = 0] = bucket.classes;
    routes.push({
      route,
      count: bucket.count,
      ...figures,
      status: { '2xx': Math.round(c2), '3xx': Math.round(c3), '4xx': Math.round(c4), '5xx': Math.round(c5) },
    });
  }
  routes.sort((a, b) => b.count - a.count || a.route.localeCompare(b.route));
  return routes.map(({ count: _count, ...figures }) => figures);
}

const SEVERITY: Record<TargetState, number> = { up: 0, draining: 1, out: 2 };

/**
 * One target over the window, as every instance sees it: the worst state any live instance reports
 * (out, then draining), their requests in flight summed, and the latest failure any of them saw.
 */
function targetFigures(target: ReportedTarget, totals: ClusterTotals): UpstreamTargetFigures {
  const reports: TargetReport[] = totals.targets.get(target.key) ?? [];
  let state: TargetState = 'up';
  let inFlight = 0;
  let lastChange = 0;
  let failure: TargetReport | undefined;
  for (const report of reports) {
    if (SEVERITY[report.state] > SEVERITY[state]) state = report.state;
    inFlight += report.inFlight;
    lastChange = Math.max(lastChange, report.lastChange);
    if (report.lastError !== null && (!failure || report.lastChange > failure.lastChange)) failure = report;
  }
  const bucket = totals.view.targets.get(target.key);
  return {
    url: target.url,
    state,
    in_flight: inFlight,
    requests: Math.round(bucket?.count ?? 0),
    errors: Math.round(bucket?.serverErrors ?? 0),
    p95_response_time_ms: round(bucket?.histogram.percentile(95) ?? 0),
    last_error: failure?.lastError ?? null,
    last_change: new Date(lastChange).toISOString(),
  };
}

/** The `load-balancer` block of `/stats`, as ARCHITECTURE.md defines it. */
export function loadBalancerBlock(
  totals: ClusterTotals,
  groups: Record<UpstreamGroupName, readonly ReportedTarget[]>,
): LoadBalancerBlock {
  const { p50_response_time_ms: _p50, ...figures } = trafficFigures(totals.view.total, WINDOW_SECONDS);
  const upstreams = {} as Record<UpstreamGroupName, UpstreamTargetFigures[]>;
  for (const [group, targets] of Object.entries(groups) as [UpstreamGroupName, readonly ReportedTarget[]][]) {
    upstreams[group] = targets.map((target) => targetFigures(target, totals));
  }
  return {
    status: 'healthy',
    has_real_traffic: figures.has_real_traffic,
    window_seconds: WINDOW_SECONDS,
    requests_per_second: figures.requests_per_second,
    avg_response_time_ms: figures.avg_response_time_ms,
    avg_response_time_ms_lifetime: totals.lifetimeCount > 0 ? round(totals.lifetimeMs / totals.lifetimeCount) : 0,
    p95_response_time_ms: figures.p95_response_time_ms,
    p99_response_time_ms: figures.p99_response_time_ms,
    success_rate: figures.success_rate,
    server_error_rate: figures.server_error_rate,
    total_requests: totals.lifetimeCount,
    ws_active_connections: totals.wsConnections,
    scope: totals.scope,
    instances: totals.instances,
    routes: routeFigures(totals),
    upstreams,
  };
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
