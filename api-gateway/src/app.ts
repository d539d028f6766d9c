import proxyAddr from '@fastify/proxy-addr';
import { createService, OptionalRedis } from '@titanium/service-kit';
import type { FastifyInstance } from 'fastify';
import type { Config, UpstreamName } from './config.js';
import { LoginFailures } from './login-failures.js';
import { rateLimits } from './rate-limits.js';
import { gatewayRoutes } from './routes.js';
import { Upstream } from './upstream.js';

export const STATS_KEY = 'api-gateway';
const NAMES: UpstreamName[] = ['auth', 'user', 'blog'];

/** The API gateway: /api/* routed to the auth, user and blog services with timeouts and rate limits. */
export function build(config: Config): FastifyInstance {
  const { serverTimeouts } = config;
  const trustedAddress = proxyAddr.compile(config.trustedProxyAddresses);
  let upstreams: Record<UpstreamName, Upstream> | undefined;
  let redis: OptionalRedis | undefined;
  const app = createService({
    config: config.kit,
    statsKey: STATS_KEY,
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
    status: () => {
      const failing = NAMES.some((name) => upstreams?.[name].failing !== undefined);
      return failing || (redis !== undefined && !redis.healthy) ? 'degraded' : 'online';
    },
    collectStats: () => ({
      upstreams: Object.fromEntries(
        NAMES.map((name) => {
          const upstream = upstreams?.[name];
          return [name, { ...upstream?.stats.snapshot(), ...(upstream?.failing ? { failing: upstream.failing } : {}) }];
        }),
      ),
      rate_limit: {
        store: app.rateLimitState.store(),
        limited: app.rateLimitState.limited,
        counted_locally: app.rateLimitState.fallbacks,
        login_failures_limited: loginFailures.limited,
      },
      ...(redis ? { redis: { status: redis.healthy ? 'healthy' : 'unhealthy' } } : {}),
    }),
  });
  const built = Object.fromEntries(
    NAMES.map((name) => [
      name,
      new Upstream(name, config.upstreams[name], config.upstreamTimeouts, app.log, () => {
        return app.kit.lifecycle.state === 'draining';
      }),
    ]),
  ) as Record<UpstreamName, Upstream>;
  upstreams = built;
  if (config.redisUrl) redis = new OptionalRedis(config.redisUrl, app.log);
  const loginFailures = new LoginFailures(redis, config.rateLimits.loginFailures);
  app.register(rateLimits, { redis, jwtSecret: config.jwtSecret });
  app.register(gatewayRoutes, { config, upstreams: built, loginFailures });
  app.addHook('onClose', async () => {
    await Promise.all([...NAMES.map((name) => built[name].close()), redis?.close()]);
  });
  return app;
}
