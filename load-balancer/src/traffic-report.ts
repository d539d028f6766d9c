import type { LoadBalancerBlock } from '@titanium/service-kit';
import { type TrafficBucket, WINDOW_SECONDS } from './stats-window.js';

export interface TrafficTotals {
  window: TrafficBucket;
  lifetimeCount: number;
  lifetimeMs: number;
  wsConnections: number;
  scope: LoadBalancerBlock['scope'];
  instances: number;
}

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

/** The `load-balancer` block of `/stats`, as ARCHITECTURE.md defines it. */
export function loadBalancerBlock(totals: TrafficTotals): LoadBalancerBlock {
  const { p50_response_time_ms: _p50, ...figures } = trafficFigures(totals.window, WINDOW_SECONDS);
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
  };
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
