import { createService, OptionalRedis } from '@titanium/service-kit';
import type { FastifyInstance } from 'fastify';
import { UserCache } from './cache.js';
import type { Config } from './config.js';
import { UserStore } from './db.js';
import { prepareDummyHash } from './passwords.js';
import { userRoutes } from './routes/users.js';

export const STATS_KEY = 'user_service';

declare module 'fastify' {
  interface FastifyInstance {
    /** The SQLite store behind the routes, for maintenance work such as backups. */
    userStore: UserStore;
  }
}

export function build(config: Config): FastifyInstance {
  const store = new UserStore(config.database);
  const app = createService({
    config: config.kit,
    statsKey: STATS_KEY,
    collectStats: () => {
      store.recheck();
      return {
        users: store.countUsers(),
        database: { status: store.healthy ? 'healthy' : 'unhealthy' },
        cache: cache.stats(),
      };
    },
    status: () => (store.healthy && cache.healthy ? 'online' : 'degraded'),
    readinessChecks: { database: () => store.isOpen },
  });

  const { redisUrl, commandTimeoutMs, ttlSeconds } = config.cache;
  const redis = redisUrl
    ? new OptionalRedis(redisUrl, app.log.child({ component: 'redis' }), { commandTimeoutMs })
    : undefined;
  const cache = new UserCache(redis, ttlSeconds);

  app.addHook('onReady', async () => {
    store.open();
    await prepareDummyHash();
    app.log.info(
      { database: config.database.path, cache: redisUrl ? 'redis' : 'none' },
      redisUrl ? 'user database open' : 'user database open; no REDIS_URL or REDIS_HOST, so running without a cache',
    );
  });
  app.addHook('onClose', async () => {
    store.close();
    await cache.close();
  });

  app.decorate('userStore', store);
  app.register(userRoutes, { store, cache });
  return app;
}
