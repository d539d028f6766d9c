import fastifyJwt from '@fastify/jwt';
import { type AuthFields, createService, STATS_KEYS } from '@titanium/service-kit';
import type { FastifyInstance } from 'fastify';
import { AuthCounters } from './auth-counters.js';
import type { Config } from './config.js';
import { authRoutes } from './routes/auth.js';
import { userService } from './user-service-plugin.js';

/** Tokens are HS256 only; anything else (none, RS256, …) is refused before the signature is checked. */
const ALGORITHM = 'HS256';
const TOKEN_LIFETIME = '24h';

export function build(config: Config): FastifyInstance {
  const app = createService({ config: config.kit, statsKey: STATS_KEYS['auth-service'] });
  const counters = new AuthCounters();
  app.kit.stats.add((): Pick<AuthFields, 'logins' | 'tokens'> => counters.snapshot());
  app.register(userService, config.userService);
  app.register(fastifyJwt, {
    secret: config.jwtSecret,
    sign: { algorithm: ALGORITHM, expiresIn: TOKEN_LIFETIME },
    verify: { algorithms: [ALGORITHM], requiredClaims: ['user_id', 'username', 'exp'] },
  });
  app.register(authRoutes, (parent) => ({ users: parent.userService, counters }));
  return app;
}
