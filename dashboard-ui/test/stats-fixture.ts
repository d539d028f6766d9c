import type { StatsResponse } from '../web/src/stats-types.js';

export const ONLINE = { service_status: 'online' } as const;

/** A `/stats` answer with every service online and these figures, changed by the overrides. */
export function stats(lb: Record<string, unknown> = {}, rest: Partial<StatsResponse> = {}): StatsResponse {
  return {
    'load-balancer': {
      status: 'healthy',
      has_real_traffic: true,
      window_seconds: 10,
      requests_per_second: 12.34,
      avg_response_time_ms: 3.24,
      p95_response_time_ms: 123.4,
      p99_response_time_ms: 250.6,
      success_rate: 99.56,
      ws_active_connections: 0,
      scope: 'instance',
      instances: 1,
      ...lb,
    },
    'api-gateway': ONLINE,
    auth: ONLINE,
    user_service: ONLINE,
    blog_service: ONLINE,
    database: { status: 'healthy' },
    cache: { status: 'healthy', hit_ratio: 0.8123 },
    ...rest,
  };
}
