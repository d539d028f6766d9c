import {
  createService,
  OptionalRedis,
  type ProxyRoute,
  STATS_KEYS,
  type StatsAnswer,
  UpgradeProxy,
  UpstreamPool,
} from '@titanium/service-kit';
import type { FastifyInstance } from 'fastify';
import { ClusterStats } from './cluster-stats.js';
import type { Config } from './config.js';
import { FrontDoor } from './front-door.js';
import { Heartbeat } from './heartbeat.js';
import { history } from './history-route.js';
import { ProxiedRequestMetrics } from './proxied-metrics.js';
import { RouteObserver } from './route-observer.js';
import { StatsFanout } from './stats-fanout.js';
import { StatsWindow } from './stats-window.js';
import { loadBalancerBlock } from './traffic-report.js';

const INFRA = { config: { infra: true } } as const;

export interface BuildOptions {
  /** Clock for the traffic window, in milliseconds; tests move it instead of waiting. */
  now?: () => number;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function build(config: Config, options: BuildOptions = {}): FastifyInstance {
  const door = new FrontDoor(config.server);
  const app = createService({
    config: config.kit,
    statsKey: STATS_KEYS['load-balancer'],
    ownStatsRoute: true,
    server: { serverFactory: door.serverFactory },
  });

  const pool = (name: string, urls: string[]) =>
    new UpstreamPool(
      name,
      urls,
      { ...config.upstream, readinessIntervalMs: urls.length > 1 ? config.upstream.readinessIntervalMs : 0 },
      app.log,
    );
  const { upstreams } = config;
  const api = pool('api-gateway', upstreams.apiGateway);
  const dashboard = pool('dashboard-ui', upstreams.dashboard);
  const blog = pool('blog-service', upstreams.blog);
  const auth = pool('auth-service', upstreams.auth);
  const user = pool('user-service', upstreams.user);

  const window = new StatsWindow(options.now ?? Date.now);
  const proxied = new ProxiedRequestMetrics();
  app.kit.metrics.registry.registerMetric(proxied.asMetric());
  const closing = () => app.kit.lifecycle.state === 'draining';
  const route = (target: UpstreamPool, label: string, counted?: StatsWindow): ProxyRoute => ({
    pool: target,
    observer: new RouteObserver(label, proxied, counted),
    closing,
  });
  const heartbeat = new Heartbeat({ ...config.heartbeat, onActivity: () => window.activity() });
  const upgrades = new UpgradeProxy();
  door.open({
    api: { counted: route(api, '/api/*', window), uncounted: route(api, '/api/*') },
    blog: route(blog, '/blog/*'),
    dashboard: route(dashboard, '/*'),
    heartbeat,
    upgrades,
  });

  const redis = config.redisUrl ? new OptionalRedis(config.redisUrl, app.log) : undefined;
  const cluster = new ClusterStats({
    redis,
    window,
    instanceId: config.instanceId,
    prefix: config.redisPrefix,
    wsConnections: () => heartbeat.connections,
  });
  app.register(history, { window, redis, instanceId: config.instanceId, redisPrefix: config.redisPrefix });
  const fanout = new StatsFanout(
    [
      { key: STATS_KEYS['api-gateway'], pool: api },
      { key: STATS_KEYS['auth-service'], pool: auth },
      { key: STATS_KEYS['user-service'], pool: user },
      { key: STATS_KEYS['blog-service'], pool: blog },
    ],
    config.statsTimeoutMs,
  );

  app.get('/lb-health', INFRA, async () => ({ status: 'ok' }));

  app.get('/stats', INFRA, async (_request, reply): Promise<StatsAnswer> => {
    const [services, totals] = await Promise.all([fanout.collect(), cluster.totals()]);
    // Every block as its service wrote it (or why it could not be had): passed on, not re-checked.
    const passOn = <K extends keyof StatsAnswer>(value: unknown) => value as StatsAnswer[K];
    const userStats = services.user_service ?? {};
    const unknown = { status: 'unknown', error: 'user-service did not report it' } as const;
    reply.header('cache-control', 'no-store');
    return {
      'load-balancer': loadBalancerBlock(totals),
      'api-gateway': passOn<'api-gateway'>(services['api-gateway']),
      auth: passOn<'auth'>(services.auth),
      user_service: passOn<'user_service'>(userStats),
      blog_service: passOn<'blog_service'>(services.blog_service),
      database: isObject(userStats.database) ? passOn<'database'>(userStats.database) : unknown,
      cache: isObject(userStats.cache) ? passOn<'cache'>(userStats.cache) : unknown,
    };
  });

  app.addHook('onReady', async () => cluster.start());
  app.addHook('preClose', async () => {
    heartbeat.close();
    upgrades.close();
  });
  app.addHook('onClose', async () => {
    cluster.stop();
    await Promise.all([redis?.close(), fanout.close(), ...[api, dashboard, blog, auth, user].map((p) => p.close())]);
  });

  return app;
}
