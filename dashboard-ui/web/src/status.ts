import type { ReportingKey } from '@titanium/service-kit/stats-contract';
import { type RouteRow, routeRows } from './routes.js';
import type { ServiceBlock, StatsResponse } from './stats-types.js';
import { type UpstreamGroupView, upstreamGroups } from './upstreams.js';

export type Overall = 'HEALTHY' | 'DEGRADED' | 'WARNING' | 'IDLE' | 'DISCONNECTED';
/** `Unknown` while /stats cannot be read: the page cannot tell whether a service is up. */
export type ServiceState = 'Online' | 'Degraded' | 'Offline' | 'Unknown';

/** Below this success rate (with real traffic) the system is in WARNING, and a route alerts. */
export const SUCCESS_RATE_THRESHOLD = 95;

/** The services the dashboard lists, in the order an operator reads the request path. */
export const SERVICES = [
  { key: 'load-balancer', name: 'Load Balancer' },
  { key: 'api-gateway', name: 'API Gateway' },
  { key: 'auth', name: 'Auth Service' },
  { key: 'user_service', name: 'User Service' },
  { key: 'blog_service', name: 'Blog Service' },
] as const satisfies readonly { key: ReportingKey; name: string }[];

export type ServiceKey = (typeof SERVICES)[number]['key'];

export interface ServiceView {
  key: ServiceKey;
  name: string;
  state: ServiceState;
  detail?: string;
}

export interface Summary {
  overall: Overall;
  active: number;
  total: number;
  services: ServiceView[];
  hasTraffic: boolean;
  rps: number;
  avgMs: number;
  p95Ms: number;
  p99Ms: number;
  successRate: number;
  database: 'ONLINE' | 'OFFLINE' | 'UNKNOWN';
  cache: 'ONLINE' | 'OFFLINE' | 'UNKNOWN';
  cacheHitRatio: number | undefined;
  wsConnections: number;
  scope: string;
  instances: number;
  /** The routes in the window, busiest first; undefined when the load balancer reports none. */
  routes: RouteRow[] | undefined;
  upstreams: UpstreamGroupView[];
}

function num(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

function serviceState(block: ServiceBlock | undefined, isBalancer: boolean): ServiceState {
  const status = isBalancer ? (block as { status?: string } | undefined)?.status : block?.service_status;
  if (status === 'online' || status === 'healthy') return 'Online';
  if (status === 'degraded') return 'Degraded';
  return 'Offline';
}

function storeState(status: string | undefined): 'ONLINE' | 'OFFLINE' | 'UNKNOWN' {
  if (status === undefined || status === 'unknown') return 'UNKNOWN';
  return status === 'healthy' || status === 'online' ? 'ONLINE' : 'OFFLINE';
}

/** What the page shows for one `/stats` answer; `undefined` stats means it could not be fetched. */
export function summarize(stats: StatsResponse | undefined): Summary {
  const lb = stats?.['load-balancer'] ?? {};
  const services: ServiceView[] = SERVICES.map(({ key, name }) => {
    if (!stats) return { key, name, state: 'Unknown', detail: 'no answer from /stats' };
    const block = stats[key] as ServiceBlock | undefined;
    const state = serviceState(block, key === 'load-balancer');
    const detail = typeof block?.error === 'string' ? block.error : undefined;
    return detail ? { key, name, state, detail } : { key, name, state };
  });
  const active = services.filter((s) => s.state === 'Online' || s.state === 'Degraded').length;
  const hasTraffic = lb.has_real_traffic === true;
  const successRate = lb.success_rate === undefined ? 100 : num(lb.success_rate);
  let overall: Overall;
  if (!stats) overall = 'DISCONNECTED';
  else if (services.some((s) => s.state !== 'Online')) overall = 'DEGRADED';
  else if (hasTraffic && successRate < SUCCESS_RATE_THRESHOLD) overall = 'WARNING';
  else if (!hasTraffic) overall = 'IDLE';
  else overall = 'HEALTHY';
  return {
    overall,
    active: stats ? active : 0,
    total: SERVICES.length,
    services,
    hasTraffic,
    rps: num(lb.requests_per_second),
    avgMs: num(lb.avg_response_time_ms),
    p95Ms: num(lb.p95_response_time_ms),
    p99Ms: num(lb.p99_response_time_ms),
    successRate,
    database: stats ? storeState(stats.database?.status) : 'UNKNOWN',
    cache: stats ? storeState(stats.cache?.status) : 'UNKNOWN',
    cacheHitRatio: typeof stats?.cache?.hit_ratio === 'number' ? stats.cache.hit_ratio : undefined,
    wsConnections: num(lb.ws_active_connections),
    scope: lb.scope ?? 'instance',
    instances: num(lb.instances) || 1,
    routes: stats ? routeRows(lb.routes) : undefined,
    upstreams: upstreamGroups(stats),
  };
}
