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

/** The `load-balancer` block of `/stats`, as ARCHITECTURE.md defines it. */
export function loadBalancerBlock(totals: TrafficTotals): LoadBalancerBlock {
  const { window } = totals;
  const count = window.count;
  return {
    status: 'healthy',
    has_real_traffic: window.active || count > 0,
    window_seconds: WINDOW_SECONDS,
    requests_per_second: round(count / WINDOW_SECONDS),
    avg_response_time_ms: count > 0 ? round(window.sumMs / count) : 0,
    avg_response_time_ms_lifetime: totals.lifetimeCount > 0 ? round(totals.lifetimeMs / totals.lifetimeCount) : 0,
    p95_response_time_ms: round(window.histogram.percentile(95)),
    p99_response_time_ms: round(window.histogram.percentile(99)),
    success_rate: count > 0 ? round((window.success / count) * 100) : 100,
    server_error_rate: count > 0 ? round((window.serverErrors / count) * 100) : 0,
    total_requests: totals.lifetimeCount,
    ws_active_connections: totals.wsConnections,
    scope: totals.scope,
    instances: totals.instances,
  };
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
