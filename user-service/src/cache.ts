import { type CacheStatus, OptionalRedis } from '@titanium/service-kit';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { CacheConfig } from './config.js';
import type { PublicUser } from './db.js';

declare module 'fastify' {
  interface FastifyInstance {
    userCache: UserCache;
  }
}

const key = (username: string) => `user:${username}`;

function parseUser(raw: string, username: string): PublicUser | undefined {
  try {
    const value = JSON.parse(raw) as Partial<PublicUser>;
    if (typeof value.id === 'number' && value.username === username && typeof value.email === 'string') {
      return { id: value.id, username: value.username, email: value.email };
    }
  } catch {
    // A damaged entry is a miss; the fresh value from SQLite replaces it.
  }
  return undefined;
}

/**
 * Cache-aside for public user records (`user:{username}` → `{id,username,email}`, never the
 * password hash). Without Redis, or while it is down or frozen, every lookup is a miss and the
 * caller reads SQLite; no call here ever throws or waits longer than Redis's command timeout.
 */
export class UserCache {
  readonly #redis: OptionalRedis | undefined;
  readonly #ttlSeconds: number;
  #hits = 0;
  #misses = 0;

  constructor(redis: OptionalRedis | undefined, ttlSeconds: number) {
    this.#redis = redis;
    this.#ttlSeconds = ttlSeconds;
  }

  get healthy(): boolean {
    return this.#redis?.healthy === true;
  }

  async get(username: string): Promise<PublicUser | undefined> {
    // While Redis is known to be unhealthy, lookups go straight to SQLite instead of each paying the
    // command timeout; the connection's own health check notices when Redis answers again.
    const raw = this.healthy ? await this.#redis?.attempt((client) => client.get(key(username))) : undefined;
    const user = typeof raw === 'string' ? parseUser(raw, username) : undefined;
    if (user) this.#hits++;
    else this.#misses++;
    return user;
  }

  /** Stores the record without making the caller wait; commands on one connection stay in order. */
  remember(user: PublicUser): void {
    if (!this.healthy) return;
    const value = JSON.stringify({ id: user.id, username: user.username, email: user.email });
    void this.#redis?.attempt((client) => client.set(key(user.username), value, 'EX', this.#ttlSeconds));
  }

  stats(): CacheStatus {
    const lookups = this.#hits + this.#misses;
    return {
      status: this.healthy ? 'healthy' : 'unhealthy',
      hit_ratio: lookups === 0 ? 0 : Math.round((this.#hits / lookups) * 10_000) / 10_000,
      hits: this.#hits,
      misses: this.#misses,
      configured: this.#redis !== undefined,
    };
  }

  async close(): Promise<void> {
    await this.#redis?.close();
  }
}

/**
 * The cache as a part of the service: its `cache` in `/stats`, `service_status` degraded while Redis
 * is absent or failing, Redis closed with the service. Decorates `app.userCache`.
 */
export const userCache = fp<CacheConfig>(
  async (app: FastifyInstance, { redisUrl, commandTimeoutMs, ttlSeconds }) => {
    if (redisUrl !== undefined && typeof redisUrl !== 'string') {
      throw new Error(`userCache: redisUrl must be a URL or undefined; got ${typeof redisUrl}`);
    }
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) {
      throw new Error(`userCache: ttlSeconds must be a whole number of seconds; got ${JSON.stringify(ttlSeconds)}`);
    }
    const redis = redisUrl
      ? new OptionalRedis(redisUrl, app.log.child({ component: 'redis' }), { commandTimeoutMs })
      : undefined;
    const cache = new UserCache(redis, ttlSeconds);
    app.decorate('userCache', cache);
    app.kit.stats.add(() => ({ cache: cache.stats() }));
    app.kit.status.dependsOn('cache', () => cache.healthy);
    if (!redis) {
      app.addHook('onReady', async () => app.log.info('no REDIS_URL or REDIS_HOST, so running without a cache'));
    }
    app.addHook('onClose', () => cache.close());
  },
  { name: 'user-cache' },
);
