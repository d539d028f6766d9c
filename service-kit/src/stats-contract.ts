/**
 * The `/stats` contract (ARCHITECTURE.md, "/stats shape"): the key each service wraps its block in,
 * the fields every block has, each service's own fields, the load balancer's block and its combined
 * answer. Types, constants and the success rule only, with no imports but types, so the
 * dashboard's page can import its types without any of the kit's code.
 */
import type { MessagingFields, OutboxFields } from './events-contract.js';

/** The key each service wraps its `/stats` block in (`{"<key>": {...}}`), by service name. */
export const STATS_KEYS = {
  'load-balancer': 'load-balancer',
  'api-gateway': 'api-gateway',
  'auth-service': 'auth',
  'user-service': 'user_service',
  'blog-service': 'blog_service',
  'dashboard-ui': 'dashboard_ui',
} as const;

export type StatsKey = (typeof STATS_KEYS)[keyof typeof STATS_KEYS];

/** `degraded`: the service answers, but a dependency it needs does not. */
export type ServiceStatus = 'online' | 'degraded';

/** Lifetime figures of the requests a service served itself, probes left out. */
export interface TrafficFields {
  requests_total: number;
  requests_in_flight: number;
  /** Completed responses by status class; `aborted`: the client left before the answer was sent. */
  responses: Record<'1xx' | '2xx' | '3xx' | '4xx' | '5xx' | 'aborted', number>;
  avg_response_time_ms: number;
  max_response_time_ms: number;
}

/** The fields every service's block has. */
export interface ServiceBlock extends TrafficFields {
  service_status: ServiceStatus;
  uptime_seconds: number;
}

export type StoreHealth = 'healthy' | 'unhealthy';

export interface DatabaseStatus {
  status: StoreHealth;
  /** What the last storage fault was, while it is reported. */
  error?: string;
}

export interface CacheStatus {
  status: StoreHealth;
  /** Share of lookups answered from the cache since start (0 to 1); 0 before the first lookup. */
  hit_ratio: number;
  hits: number;
  misses: number;
  /** False when no Redis is configured. */
  configured: boolean;
}

export interface UserServiceFields extends Partial<OutboxFields> {
  /** null while the database cannot be read. */
  users: number | null;
  database: DatabaseStatus;
  cache: CacheStatus;
}

export interface BlogServiceFields extends Partial<OutboxFields> {
  /** null while the database cannot be read. */
  post_count: number | null;
  database: DatabaseStatus;
}

export interface AuthFields {
  logins: { succeeded: number; failed: number; unavailable: number };
  tokens: { verified: number; rejected: number };
  user_service: { status: 'reachable' | 'unreachable' };
}

export type GatewayUpstreamName = 'auth' | 'user' | 'blog';

/** What the gateway saw of one upstream since start. */
export interface GatewayUpstreamFigures {
  requests: number;
  /** Requests answered with a 5xx. */
  errors: number;
  avg_response_time_ms: number;
  p95_response_time_ms: number;
  /** Why the upstream is failing; absent while it answers. */
  failing?: string;
}

export interface GatewayFields extends MessagingFields {
  upstreams: Record<GatewayUpstreamName, GatewayUpstreamFigures>;
  rate_limit: {
    /** Where the counters live right now. */
    store: 'redis' | 'local';
    limited: number;
    /** Requests counted in this process because Redis did not answer. */
    counted_locally: number;
    login_failures_limited: number;
  };
  /** Present when Redis is configured. */
  redis?: { status: StoreHealth };
}

export type UserServiceBlock = ServiceBlock & UserServiceFields;
export type BlogServiceBlock = ServiceBlock & BlogServiceFields;
export type AuthBlock = ServiceBlock & AuthFields;
export type GatewayBlock = ServiceBlock & GatewayFields;

/** Each service's own `/stats` answer, by its key. */
export interface ServiceAnswers {
  'api-gateway': GatewayBlock;
  auth: AuthBlock;
  user_service: UserServiceBlock;
  blog_service: BlogServiceBlock;
  dashboard_ui: ServiceBlock;
}

/** The wrapped answer a service gives on `GET /stats`. */
export type WrappedStats<K extends keyof ServiceAnswers> = { [key in K]: ServiceAnswers[K] };

/** Counted answers in the window by status class. */
export interface StatusClassCounts {
  '2xx': number;
  '3xx': number;
  '4xx': number;
  '5xx': number;
}

/**
 * One route of the API over the window, counted by the same rules as the totals. `route` is
 * `METHOD template` from the API's own routes (`GET /api/posts/:id`), or `other` for whatever
 * matches none of them or comes beyond the cap on keys.
 */
export interface RouteFigures {
  route: string;
  requests_per_second: number;
  success_rate: number;
  server_error_rate: number;
  avg_response_time_ms: number;
  p50_response_time_ms: number;
  p95_response_time_ms: number;
  p99_response_time_ms: number;
  status: StatusClassCounts;
}

/** `up`: gets traffic; `out`: unreachable, gets none until its probe answers; `draining`: said it is not ready. */
export type TargetState = 'up' | 'out' | 'draining';

/** One target of a load-balancer upstream group: its state now, and what it was sent over the window. */
export interface UpstreamTargetFigures {
  url: string;
  state: TargetState;
  in_flight: number;
  /** Requests proxied to it in the window, counted or not. */
  requests: number;
  /** Of those, answers of 5xx (the load balancer's own 502 and 504 for it included). */
  errors: number;
  p95_response_time_ms: number;
  /** Why the last exchange with it failed, until one succeeds again; null while it answers. */
  last_error: string | null;
  /** When its state last changed, ISO 8601. */
  last_change: string;
}

/** The load balancer's target groups: `api`, `blog` and `dashboard` carry traffic, `auth` and `user` only `/stats`. */
export type UpstreamGroupName = 'api' | 'blog' | 'dashboard' | 'auth' | 'user';

/** The load balancer's own block: API traffic over the window, and lifetime figures. */
export interface LoadBalancerBlock {
  status: 'healthy';
  /** Any counted request or WebSocket activity in the window. */
  has_real_traffic: boolean;
  window_seconds: number;
  requests_per_second: number;
  avg_response_time_ms: number;
  avg_response_time_ms_lifetime: number;
  p95_response_time_ms: number;
  p99_response_time_ms: number;
  /** Share of 200–399 answers in the window, in percent; 100 without traffic. */
  success_rate: number;
  /** Share of 5xx answers in the window, in percent. */
  server_error_rate: number;
  total_requests: number;
  ws_active_connections: number;
  /** `cluster` when the figures are summed over every instance in Redis. */
  scope: 'instance' | 'cluster';
  instances: number;
  /** Every route with counted traffic in the window, busiest first. */
  routes: RouteFigures[];
  /** Each target group's targets, in the order their variable lists them. */
  upstreams: Record<UpstreamGroupName, UpstreamTargetFigures[]>;
}

/** `GET /stats/history?range=`: the last hour at 10 s, or the last 24 hours at 1 minute. */
export type HistoryRange = '1h' | '24h';

/** One slot of the history: the figures of the whole slot, as the window's for its 10 s. */
export interface HistoryPoint {
  /** The start of the slot, ISO 8601. */
  t: string;
  requests_per_second: number;
  avg_response_time_ms: number;
  p95_response_time_ms: number;
  p99_response_time_ms: number;
  success_rate: number;
  server_error_rate: number;
  has_real_traffic: boolean;
}

/**
 * The load balancer's `GET /stats/history`: oldest point first; a slot no instance recorded (no
 * load balancer ran) has no point. `scope` is `cluster` when the series is every instance's, read
 * from Redis, and `instance` when it is this instance's own, kept in its memory.
 */
export interface HistoryAnswer {
  range: HistoryRange;
  resolution_seconds: number;
  scope: 'instance' | 'cluster';
  points: HistoryPoint[];
}

/** The event `GET /stats/stream` sends (Server-Sent Events), with the `/stats` answer as its data. */
export const STATS_STREAM_EVENT = 'stats';

/** A service whose `/stats` failed, errored or took longer than the limit. */
export interface OfflineBlock {
  service_status: 'offline';
  error: string;
}

/** A data store user-service did not report. */
export interface UnknownStore {
  status: 'unknown';
  error: string;
}

/** A service's block as the load balancer passes it on: its own, or why it could not be had. */
export type Reported<B> = B | OfflineBlock;

/** The load balancer's `GET /stats`: its own block, every service's block unwrapped, and user-service's stores. */
export interface StatsAnswer {
  'load-balancer': LoadBalancerBlock;
  'api-gateway': Reported<GatewayBlock>;
  auth: Reported<AuthBlock>;
  user_service: Reported<UserServiceBlock>;
  blog_service: Reported<BlogServiceBlock>;
  database: DatabaseStatus | UnknownStore;
  cache: CacheStatus | UnknownStore;
}

/** The services whose blocks the load balancer's answer carries. */
export type ReportingKey = Exclude<keyof StatsAnswer, 'database' | 'cache'>;

/**
 * The success rule of `success_rate` and of an API call's `outcome`: an answer from 200 to 399.
 * A request the client left before its answer is a failure whatever its status.
 */
export function isSuccess(statusCode: number, aborted = false): boolean {
  return !aborted && statusCode >= 200 && statusCode < 400;
}
