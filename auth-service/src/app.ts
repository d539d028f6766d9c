import fastifyJwt from '@fastify/jwt';
import { createService } from '@titanium/service-kit';
import type { FastifyInstance } from 'fastify';
import { AuthCounters } from './auth-counters.js';
import type { Config } from './config.js';
import { authRoutes } from './routes/auth.js';
import { UserServiceClient } from './user-service-client.js';

export const STATS_KEY = 'auth';

/** Tokens are HS256 only; anything else (none, RS256, …) is refused before the signature is checked. */
const ALGORITHM = 'HS256';
const TOKEN_LIFETIME = '24h';

export function build(config: Config): FastifyInstance {
  const counters = new AuthCounters();
  const app = createService({
    config: config.kit,
    statsKey: STATS_KEY,
    collectStats: () => ({
      ...counters.snapshot(),
      user_service: { status: users.reachable ? 'reachable' : 'unreachable' },
    }),
    status: () => (users.reachable ? 'online' : 'degraded'),
  });
  const users = new UserServiceClient(config.userService, app.log.child({ component: 'user-service-client' }));

  app.register(fastifyJwt, {
    secret: config.jwtSecret,
    sign: { algorithm: ALGORITHM, expiresIn: TOKEN_LIFETIME },
    verify: { algorithms: [ALGORITHM], requiredClaims: ['user_id', 'username', 'exp'] },
  });
  app.register(authRoutes, { users, counters });
  app.addHook('onReady', async () => void users.check());
  app.addHook('onClose', () => users.close());
  return app;
}
