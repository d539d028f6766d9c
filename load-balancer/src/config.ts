import { hostname } from 'node:os';
import {
  BALANCING_STRATEGIES,
  type EnvReader,
  type KitConfig,
  type MessagingConfig,
  POOL_DEFAULTS,
  portSetting,
  readKitConfig,
  readMessagingConfig,
  readRedisUrl,
  type UpstreamPoolOptions,
  urlSetting,
} from '@titanium/service-kit';
import type { StatsStreamOptions } from './stats-stream.js';

export interface Config {
  kit: KitConfig;
  upstreams: {
    apiGateway: string[];
    dashboard: string[];
    blog: string[];
    auth: string[];
    user: string[];
  };
  /** For every target group; with a single target its readiness is not polled. */
  upstream: UpstreamPoolOptions;
  server: {
    headersTimeoutMs: number;
    requestTimeoutMs: number;
    keepAliveTimeoutMs: number;
    /** How often Node checks connections against the header and request timeouts. */
    connectionsCheckingIntervalMs: number;
  };
  statsTimeoutMs: number;
  /** `GET /stats/stream`. */
  statsStream: StatsStreamOptions;
  /** Per-route and per-target figures (off only to measure what they cost). */
  breakdown: boolean;
  redisUrl: string | undefined;
  instanceId: string;
  redisPrefix: string;
  heartbeat: {
    pingIntervalMs: number;
    maxConnections: number;
    maxMessageBytes: number;
  };
  /** Where the event log is read from (`/logs/messaging`), and OPS_TOKEN. */
  messaging: MessagingConfig;
  /** `GET /logs/messaging/stream`. */
  eventStream: { pollMs: number; maxClients: number };
  /** NODE_ENV=production: an open event log is worth a warning at start-up. */
  production: boolean;
}

export function readConfig(env: EnvReader): Config {
  const headersTimeoutMs = env.duration('LB_HEADERS_TIMEOUT_MS', 5_000, { min: 100, max: 600_000 });
  const redisUrl = readRedisUrl(env);
  return {
    kit: readKitConfig(env, 'load-balancer', ...portSetting('load-balancer')),
    upstreams: {
      apiGateway: env.urlList(...urlSetting('api-gateway')),
      dashboard: env.urlList(...urlSetting('dashboard-ui')),
      blog: env.urlList(...urlSetting('blog-service')),
      auth: env.urlList(...urlSetting('auth-service')),
      user: env.urlList(...urlSetting('user-service')),
    },
    upstream: {
      ...POOL_DEFAULTS,
      strategy: env.oneOf('LB_BALANCING', BALANCING_STRATEGIES, 'least-outstanding'),
      failureThreshold: env.integer('LB_FAILURE_THRESHOLD', 2, { min: 1, max: 100 }),
      probeIntervalMs: env.duration('LB_COOLDOWN_MS', 500, { min: 50, max: 600_000 }),
      readinessIntervalMs: env.duration('LB_READINESS_INTERVAL_MS', 500, { min: 50, max: 600_000 }),
      connections: env.integer('LB_UPSTREAM_CONNECTIONS', 256, { min: 1, max: 65_536 }),
      connectTimeoutMs: env.duration('LB_UPSTREAM_CONNECT_TIMEOUT_MS', 3_000, { min: 100, max: 60_000 }),
      headersTimeoutMs: env.duration('LB_UPSTREAM_HEADERS_TIMEOUT_MS', 10_000, { min: 100, max: 600_000 }),
      bodyTimeoutMs: env.duration('LB_UPSTREAM_BODY_TIMEOUT_MS', 30_000, { min: 100, max: 600_000 }),
      keepAliveTimeoutMs: env.duration('LB_UPSTREAM_KEEP_ALIVE_TIMEOUT_MS', 30_000, { min: 100, max: 600_000 }),
    },
    server: {
      headersTimeoutMs,
      requestTimeoutMs: env.duration('LB_REQUEST_TIMEOUT_MS', 30_000, { min: headersTimeoutMs, max: 3_600_000 }),
      keepAliveTimeoutMs: env.duration('LB_KEEP_ALIVE_TIMEOUT_MS', 60_000, { min: 100, max: 600_000 }),
      connectionsCheckingIntervalMs: env.duration('LB_CONNECTIONS_CHECK_INTERVAL_MS', 500, { min: 50, max: 30_000 }),
    },
    statsTimeoutMs: env.duration('LB_STATS_TIMEOUT_MS', 2_000, { min: 50, max: 60_000 }),
    statsStream: {
      intervalMs: env.duration('LB_STATS_STREAM_INTERVAL_MS', 1_000, { min: 100, max: 60_000 }),
      heartbeatMs: env.duration('LB_STATS_STREAM_HEARTBEAT_MS', 15_000, { min: 1_000, max: 600_000 }),
      maxClients: env.integer('LB_STATS_STREAM_MAX_CLIENTS', 100, { min: 1, max: 10_000 }),
    },
    breakdown: env.boolean('LB_TRAFFIC_BREAKDOWN', true),
    redisUrl,
    instanceId: env.string('LB_INSTANCE_ID', `${hostname()}-${process.pid}`),
    redisPrefix: env.string('LB_REDIS_PREFIX', 'titanium:lb'),
    heartbeat: {
      pingIntervalMs: env.duration('LB_WS_PING_INTERVAL_MS', 5_000, { min: 50, max: 600_000 }),
      maxConnections: env.integer('LB_WS_MAX_CONNECTIONS', 1_000, { min: 1, max: 1_000_000 }),
      maxMessageBytes: env.integer('LB_WS_MAX_MESSAGE_BYTES', 1_024, { min: 16, max: 1_048_576 }),
    },
    messaging: readMessagingConfig(env, redisUrl),
    eventStream: {
      pollMs: env.duration('LB_EVENT_STREAM_POLL_MS', 500, { min: 50, max: 60_000 }),
      maxClients: env.integer('LB_EVENT_STREAM_MAX_CLIENTS', 50, { min: 1, max: 10_000 }),
    },
    production: env.string('NODE_ENV', 'development') === 'production',
  };
}
