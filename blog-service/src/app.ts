import { createService, messaging, STATS_KEYS } from '@titanium/service-kit';
import type { FastifyInstance } from 'fastify';
import { auth } from './auth.js';
import type { Config } from './config.js';
import { PostStore } from './db.js';
import { postRoutes } from './routes/posts.js';
import { spaRoutes } from './routes/spa.js';
import { postStorage, StorageHealth } from './storage-health.js';

/** The blog service: posts API, blog SPA and probes. Opens (and creates) the database; closes it on close. */
export function build(config: Config): FastifyInstance {
  const store = new PostStore(config.databasePath, { busyTimeoutMs: config.busyTimeoutMs });
  const app = createService({ config: config.kit, statsKey: STATS_KEYS['blog-service'] });
  const health = new StorageHealth(app.log);
  if (store.readOnly) {
    app.log.warn({ database: config.databasePath }, 'the database file is read-only: serving reads, writes answer 503');
  }
  // Before the store's part: the store writes its events to an outbox the messaging part relays.
  app.register(messaging, config.messaging);
  app.register(postStorage, { store, health });
  app.register(auth, { secret: config.jwtSecret });
  app.register(postRoutes, { store, health });
  app.register(spaRoutes);
  return app;
}
