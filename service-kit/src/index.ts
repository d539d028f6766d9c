export { API_ROUTES, type ApiRoute, type ApiRouteKey, apiRouteKey } from './api-routes.js';
export {
  ConfigError,
  DEV_JWT_SECRET,
  type Env,
  EnvReader,
  EXIT_CONFIG,
  type KitConfig,
  type LogLevel,
  loadConfig,
  loadConfigOrExit,
  readJwtSecret,
  readKitConfig,
  readRedisUrl,
} from './config.js';
export { createService, type Kit, type ServiceOptions } from './create-service.js';
export { type ErrorBody, errorBody, errors, sendErrorJson } from './errors.js';
export * from './events-contract.js';
export { isoTimestamp } from './iso-time.js';
export { HISTOGRAM_BUCKETS, LatencyHistogram } from './latency-histogram.js';
export { Lifecycle, type LifecycleState } from './lifecycle.js';
export {
  type EventFilter,
  EventLog,
  type EventPage,
  EventTail,
  matches,
  type PageQuery,
  parseCursor,
} from './messaging/event-log.js';
export { MemorySink } from './messaging/memory-sink.js';
export { createSink, type MessagingConfig, readMessagingConfig } from './messaging/messaging.js';
export { type Messaging, messaging } from './messaging/messaging-part.js';
export { opsAuthorized } from './messaging/ops-token.js';
export { OUTBOX_SCHEMA, Outbox, type OutboxOptions } from './messaging/outbox.js';
export { EventPublisher, type PublisherOptions } from './messaging/publisher.js';
export { RedisStreamSource, RedisStreamsSink } from './messaging/redis-sink.js';
export { EVENTS_PATH, RemoteRingSource, serveRing } from './messaging/remote-source.js';
export { Ring } from './messaging/ring.js';
export type { EventSource, MessagingSink, SourceEntry } from './messaging/sink.js';
export { createMetrics, DURATION_BUCKETS, type ServiceMetrics } from './metrics.js';
export { contentSecurityPolicy, type PagePolicyOptions, pageSecurityHeaders } from './page-security.js';
export {
  type ProxyCall,
  type ProxyObserver,
  type ProxyOutcome,
  type ProxyRoute,
  proxyRequest,
} from './proxy-request.js';
export { UpgradeProxy } from './proxy-upgrade.js';
export { OptionalRedis, type RedisOptions } from './redis.js';
export { propagationHeaders, REQUEST_ID_HEADER, requestIdFor } from './request-id.js';
export { hasRepeatedHost, REPEATED_HOST } from './request-input.js';
export { type RunOptions, runService } from './run-service.js';
export {
  type DependencyCheck,
  type FinishedResponse,
  type ReadinessCheck,
  ReadinessRegistry,
  type ResponseObserver,
  ResponseObservers,
  type StatsCollector,
  type StatsFields,
  StatsRegistry,
  StatusRegistry,
} from './service-parts.js';
export {
  databaseEnv,
  portEnv,
  portSetting,
  SERVICES,
  type ServiceSpec,
  serviceNamed,
  urlSetting,
} from './service-table.js';
export { hasBody, responseOnSocket } from './socket-response.js';
export {
  type AuthBlock,
  type AuthFields,
  type BlogServiceBlock,
  type BlogServiceFields,
  type CacheStatus,
  type DatabaseStatus,
  type GatewayBlock,
  type GatewayFields,
  type GatewayUpstreamFigures,
  type GatewayUpstreamName,
  type HistoryAnswer,
  type HistoryPoint,
  type HistoryRange,
  isSuccess,
  type LoadBalancerBlock,
  type OfflineBlock,
  type Reported,
  type ReportingKey,
  type RouteFigures,
  type ServiceAnswers,
  type ServiceBlock,
  type ServiceStatus,
  STATS_KEYS,
  STATS_STREAM_EVENT,
  type StatsAnswer,
  type StatsKey,
  type StatusClassCounts,
  type StoreHealth,
  type TargetState,
  type TrafficFields,
  type UnknownStore,
  type UpstreamGroupName,
  type UpstreamTargetFigures,
  type UserServiceBlock,
  type UserServiceFields,
  type WrappedStats,
} from './stats-contract.js';
export { TrafficCounters } from './traffic-counters.js';
export { discardUnreadBody, LINGER_MS } from './unread-body.js';
export {
  classifyFailure,
  describeFailure,
  errorCode,
  isTimeout,
  type UpstreamFailure,
  upstreamError,
} from './upstream-errors.js';
export { type Forwarding, HOP_BY_HOP, peerAddress, requestHeadersFor, responseHeadersFor } from './upstream-headers.js';
export {
  BALANCING_STRATEGIES,
  type BalancingStrategy,
  POOL_DEFAULTS,
  UpstreamPool,
  type UpstreamPoolOptions,
  UpstreamTarget,
} from './upstream-pool.js';
