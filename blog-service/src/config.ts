import { type EnvReader, type KitConfig, portSetting, readJwtSecret, readKitConfig } from '@titanium/service-kit';

export interface Config {
  kit: KitConfig;
  /** SQLite file holding the posts; its folder is created when missing. */
  databasePath: string;
  /** How long a write waits for another writer's lock before giving up with 503. */
  busyTimeoutMs: number;
  /** Shared HS256 secret the auth service signs tokens with. */
  jwtSecret: string;
}

export function readConfig(env: EnvReader): Config {
  return {
    kit: readKitConfig(env, 'blog-service', ...portSetting('blog-service')),
    databasePath: env.string('BLOG_DATABASE_PATH', '/data/blog.db'),
    busyTimeoutMs: env.duration('BLOG_DB_BUSY_TIMEOUT_MS', 2000, { max: 60_000 }),
    jwtSecret: readJwtSecret(env),
  };
}
