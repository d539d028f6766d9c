import proxyAddr from '@fastify/proxy-addr';
import { createService, type GatewayFields, messaging, OptionalRedis, STATS_KEYS } from '@titanium/service-kit';
import type { FastifyInstance } from 'fastify';
import { apiCallLog } from './api-log.js';
import type { Config } from './config.js';
import { LoginFailures } from './login-failures.js';
import { rateLimits } from './rate-limits.js';
import { gatewayRoutes } from './routes.js';
import { upstreams } from './upstream.js';

/** The API gateway: /api/* routed to the auth, user and blog services with timeouts and rate limits. */
export function build(config: Config): FastifyInstance {
  const { serverTimeouts } = config;
  const trustedAddress = proxyAddr.compile(config.trustedProxyAddresses);
  const app = createService({
    config: config.kit,
    statsKey: STATS_KEYS['api-gateway'],
    server: {
      // Only the last `hops` X-Forwarded-For entries, written by our own proxies, are believed, and
      // only when each of those proxies connects from a trusted address: a client that reaches
      // the gateway directly cannot choose its address by sending X-Forwarded-For.
      trustProxy: (address: string, hop: number) => hop < config.trustedProxyHops && trustedAddress(address, hop),
      keepAliveTimeout: serverTimeouts.keepAliveMs,
      requestTimeout: serverTimeouts.requestMs,
      // Node checks the header and request limits every connectionsCheckingInterval (30 s by default).
      http: { headersTimeout: serverTimeouts.headersMs, connectionsCheckingInterval: serverTimeouts.checkIntervalMs },
    },
  });
  app.register(upstreams, { urls: config.upstreams, timeouts: config.upstreamTimeouts });

  const redis = config.redisUrl ? new OptionalRedis(config.redisUrl, app.log) : undefined;
  if (redis) {
    app.kit.stats.add(
      (): Pick<GatewayFields, 'redis'> => ({ redis: { status: redis.healthy ? 'healthy' : 'unhealthy' } }),
    );
    app.kit.status.dependsOn('redis', () => redis.healthy);
    app.addHook('onClose', () => redis.close());
  }
  const loginFailures = new LoginFailures(redis, config.rateLimits.loginFailures);
  app.register(rateLimits, { redis, jwtSecret: config.jwtSecret, loginFailures });
  app.register(messaging, config.messaging);
  app.register(apiCallLog);
  app.register(gatewayRoutes, (parent) => ({ config, upstreams: parent.upstreams, loginFailures }));
  return app;
}
