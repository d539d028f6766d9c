import { createService, messaging, STATS_KEYS } from '@titanium/service-kit';
import type { FastifyInstance } from 'fastify';
import { userCache } from './cache.js';
import type { Config } from './config.js';
import { userStore } from './db.js';
import { prepareDummyHash } from './passwords.js';
import { userRoutes } from './routes/users.js';

export function build(config: Config): FastifyInstance {
  const app = createService({ config: config.kit, statsKey: STATS_KEYS['user-service'] });
  // Before the store: the store writes its events to an outbox the messaging part relays.
  app.register(messaging, config.messaging);
  app.register(userStore, config.database);
  app.register(userCache, config.cache);
  app.register(userRoutes, (parent) => ({ store: parent.userStore, cache: parent.userCache }));
  app.addHook('onReady', prepareDummyHash);
  return app;
}
