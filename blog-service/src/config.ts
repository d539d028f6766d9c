import {
  type EnvReader,
  type KitConfig,
  type MessagingConfig,
  portSetting,
  readJwtSecret,
  readKitConfig,
  readMessagingConfig,
  readRedisUrl,
} from '@titanium/service-kit';

export interface Config {
  kit: KitConfig;
  /** SQLite file holding the posts; its folder is created when missing. */
  databasePath: string;
  /** How long a write waits for another writer's lock before giving up with 503. */
  busyTimeoutMs: number;
  /** Shared HS256 secret the auth service signs tokens with. */
  jwtSecret: string;
  /**
   * Where the domain events (post.created, post.updated, post.deleted) go. The service uses no
   * Redis of its own: REDIS_URL or REDIS_HOST only choose Redis Streams here.
   */
  messaging: MessagingConfig;
}

export function readConfig(env: EnvReader): Config {
  return {
    kit: readKitConfig(env, 'blog-service', ...portSetting('blog-service')),
    databasePath: env.string('BLOG_DATABASE_PATH', '/data/blog.db'),
    busyTimeoutMs: env.duration('BLOG_DB_BUSY_TIMEOUT_MS', 2000, { max: 60_000 }),
    jwtSecret: readJwtSecret(env),
    messaging: readMessagingConfig(env, readRedisUrl(env)),
  };
}
