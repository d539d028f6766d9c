import {
  type EnvReader,
  type KitConfig,
  type MessagingConfig,
  portSetting,
  readKitConfig,
  readMessagingConfig,
  readRedisUrl,
} from '@titanium/service-kit';

export interface DatabaseConfig {
  path: string;
  /** How long a write waits for another connection's lock before failing with SQLITE_BUSY. */
  busyTimeoutMs: number;
}

export interface CacheConfig {
  /** Undefined when no Redis is configured: the service then runs on SQLite alone. */
  redisUrl: string | undefined;
  commandTimeoutMs: number;
  ttlSeconds: number;
}

export interface Config {
  kit: KitConfig;
  database: DatabaseConfig;
  cache: CacheConfig;
  /** Where the domain events (user.created, user.login) go; Redis Streams when Redis is configured. */
  messaging: MessagingConfig;
}

export function readConfig(env: EnvReader): Config {
  const redisUrl = readRedisUrl(env);
  return {
    kit: readKitConfig(env, 'user-service', ...portSetting('user-service')),
    database: {
      path: env.string('DATABASE_PATH', '/data/users.db'),
      busyTimeoutMs: env.duration('DATABASE_BUSY_TIMEOUT_MS', 1000, { max: 60_000 }),
    },
    cache: {
      redisUrl,
      commandTimeoutMs: env.duration('REDIS_COMMAND_TIMEOUT_MS', 200, { min: 10, max: 10_000 }),
      ttlSeconds: env.integer('USER_CACHE_TTL_SECONDS', 300, { min: 1, max: 30 * 24 * 3600 }),
    },
    messaging: readMessagingConfig(env, redisUrl),
  };
}
