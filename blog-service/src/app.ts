import { createService } from '@titanium/service-kit';
import type { FastifyInstance } from 'fastify';
import { auth } from './auth.js';
import type { Config } from './config.js';
import { PostStore } from './db.js';
import { postRoutes } from './routes/posts.js';
import { spaRoutes } from './routes/spa.js';
import { StorageHealth } from './storage-health.js';

export const STATS_KEY = 'blog_service';

/** The blog service: posts API, blog SPA and probes. Opens (and creates) the database; closes it on close. */
export function build(config: Config): FastifyInstance {
  const store = new PostStore(config.databasePath, { busyTimeoutMs: config.busyTimeoutMs });
  let health: StorageHealth | undefined;
  const app = createService({
    config: config.kit,
    statsKey: STATS_KEY,
    status: () => (health?.degraded || store.readOnly ? 'degraded' : 'online'),
    collectStats: () => {
      let postCount: number | null = null;
      try {
        postCount = store.count();
      } catch (err) {
        app.log.warn({ err }, 'cannot count posts');
      }
      return {
        post_count: postCount,
        database: {
          status: postCount === null || health?.degraded || store.readOnly ? 'unhealthy' : 'healthy',
          error: health?.lastError,
        },
      };
    },
    readinessChecks: { database: () => store.ping() },
  });
  health = new StorageHealth(app.log);
  if (store.readOnly) {
    app.log.warn({ database: config.databasePath }, 'the database file is read-only: serving reads, writes answer 503');
  }
  app.register(auth, { secret: config.jwtSecret });
  app.register(postRoutes, { store, health });
  app.register(spaRoutes);
  app.addHook('onClose', async () => store.close());
  return app;
}
