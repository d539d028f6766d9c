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
export {
  createService,
  type Kit,
  type ServiceOptions,
  type ServiceStatus,
  type StatsFields,
  wrapStats,
} from './create-service.js';
export { type ErrorBody, errorBody, errors } from './errors.js';
export { HISTOGRAM_BUCKETS, LatencyHistogram } from './latency-histogram.js';
export { Lifecycle, type LifecycleState } from './lifecycle.js';
export { createMetrics, DURATION_BUCKETS, type ServiceMetrics } from './metrics.js';
export { contentSecurityPolicy, type PagePolicyOptions, pageSecurityHeaders } from './page-security.js';
export { OptionalRedis, type RedisOptions } from './redis.js';
export { propagationHeaders, REQUEST_ID_HEADER, requestIdFor } from './request-id.js';
export { hasRepeatedHost, REPEATED_HOST } from './request-input.js';
export { type RunOptions, runService } from './run-service.js';
export {
  databaseEnv,
  portEnv,
  portSetting,
  SERVICES,
  type ServiceSpec,
  serviceNamed,
  urlSetting,
} from './service-table.js';
export { TrafficCounters } from './traffic-counters.js';
export { discardUnreadBody, LINGER_MS } from './unread-body.js';
