import {
  createService,
  OptionalRedis,
  type ProxyRoute,
  STATS_KEYS,
  type StatsAnswer,
  UpgradeProxy,
  type UpstreamGroupName,
  UpstreamPool,
  type UpstreamTarget,
} from '@titanium/service-kit';
import type { FastifyInstance } from 'fastify';
import { ClusterStats, type TargetReport } from './cluster-stats.js';
import type { Config } from './config.js';
import { eventLog } from './event-log-route.js';
import { FrontDoor } from './front-door.js';
import { Heartbeat } from './heartbeat.js';
import { history } from './history-route.js';
import { ProxiedRequestMetrics, RouteRequestMetrics } from './proxied-metrics.js';
import { RouteKeys } from './route-keys.js';
import { RouteObserver, type TrafficBooks } from './route-observer.js';
import { StatsFanout } from './stats-fanout.js';
import { SharedSnapshot } from './stats-snapshot.js';
import { STREAM_PATH, StatsStream } from './stats-stream.js';
import { StatsWindow } from './stats-window.js';
import { loadBalancerBlock, type ReportedTarget } from './traffic-report.js';

const INFRA = { config: { infra: true } } as const;

export interface BuildOptions {
  /** Clock for the traffic window, in milliseconds; tests move it instead of waiting. */
  now?: () => number;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function build(config: Config, options: BuildOptions = {}): FastifyInstance {
  const now = options.now ?? Date.now;
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
  const pools: Record<UpstreamGroupName, UpstreamPool> = {
    api: pool('api-gateway', upstreams.apiGateway),
    dashboard: pool('dashboard-ui', upstreams.dashboard),
    blog: pool('blog-service', upstreams.blog),
    auth: pool('auth-service', upstreams.auth),
    user: pool('user-service', upstreams.user),
  };
  // Every target with its key in the window ("<group> <url>"), and the targets each group reports.
  const targets: { target: UpstreamTarget; key: string }[] = [];
  const reported = {} as Record<UpstreamGroupName, ReportedTarget[]>;
  for (const [group, { targets: list }] of Object.entries(pools) as [UpstreamGroupName, UpstreamPool][]) {
    reported[group] = list.map((target) => {
      const key = `${group} ${target.url}`;
      targets.push({ target, key });
      return { url: target.url, key };
    });
  }
  const routeKeys = new RouteKeys();
  const window = new StatsWindow(
    now,
    routeKeys.keys,
    targets.map((t) => t.key),
  );

  const proxied = new ProxiedRequestMetrics();
  app.kit.metrics.registry.registerMetric(proxied.asMetric());
  const books: TrafficBooks = { window, proxied };
  if (config.breakdown) {
    const routeMetrics = new RouteRequestMetrics(routeKeys.keys);
    app.kit.metrics.registry.registerMetric(routeMetrics.asMetric());
    books.breakdown = { routes: routeKeys, routeMetrics, targets: new Map(targets.map((t, i) => [t.target, i])) };
  }
  const closing = () => app.kit.lifecycle.state === 'draining';
  const route = (target: UpstreamPool, label: string, counted = false): ProxyRoute => ({
    pool: target,
    observer: new RouteObserver(label, books, counted),
    closing,
  });
  const heartbeat = new Heartbeat({ ...config.heartbeat, onActivity: () => window.activity() });
  const upgrades = new UpgradeProxy();
  door.open({
    api: { counted: route(pools.api, '/api/*', true), uncounted: route(pools.api, '/api/*') },
    blog: route(pools.blog, '/blog/*'),
    dashboard: route(pools.dashboard, '/*'),
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
    targetReports: () =>
      new Map(
        targets.map(({ target, key }): [string, TargetReport] => [
          key,
          {
            state: target.state,
            inFlight: target.inFlight,
            lastError: target.lastError ?? null,
            lastChange: target.lastChange,
          },
        ]),
      ),
  });
  // Its own connection: a day of history is a pipeline of 1,440 reads, which must not queue the
  // once-a-second stats behind it, nor mark Redis unhealthy for them when it is slow.
  const historyRedis = config.redisUrl ? new OptionalRedis(config.redisUrl, app.log) : undefined;
  app.register(history, {
    window,
    redis: historyRedis,
    instanceId: config.instanceId,
    redisPrefix: config.redisPrefix,
  });
  app.register(eventLog, {
    messaging: config.messaging,
    // With MESSAGING_TYPE=memory each publishing process keeps its own ring.
    rings: (['api', 'user', 'blog'] as const).flatMap((group) =>
      pools[group].targets.map((target, i) => ({ name: `${group}${i}`, url: target.url })),
    ),
    stream: { ...config.eventStream, heartbeatMs: config.statsStream.heartbeatMs },
    production: config.production,
  });
  const fanout = new StatsFanout(
    [
      { key: STATS_KEYS['api-gateway'], pool: pools.api },
      { key: STATS_KEYS['auth-service'], pool: pools.auth },
      { key: STATS_KEYS['user-service'], pool: pools.user },
      { key: STATS_KEYS['blog-service'], pool: pools.blog },
    ],
    config.statsTimeoutMs,
  );

  const snapshot = new SharedSnapshot(async (): Promise<StatsAnswer> => {
    const [services, totals] = await Promise.all([fanout.collect(), cluster.totals()]);
    // Every block as its service wrote it (or why it could not be had): passed on, not re-checked.
    const passOn = <K extends keyof StatsAnswer>(value: unknown) => value as StatsAnswer[K];
    const userStats = services.user_service ?? {};
    const unknown = { status: 'unknown', error: 'user-service did not report it' } as const;
    return {
      'load-balancer': loadBalancerBlock(totals, reported),
      'api-gateway': passOn<'api-gateway'>(services['api-gateway']),
      auth: passOn<'auth'>(services.auth),
      user_service: passOn<'user_service'>(userStats),
      blog_service: passOn<'blog_service'>(services.blog_service),
      database: isObject(userStats.database) ? passOn<'database'>(userStats.database) : unknown,
      cache: isObject(userStats.cache) ? passOn<'cache'>(userStats.cache) : unknown,
    };
  }, now);
  const stream = new StatsStream(config.statsStream, () => snapshot.get(), app.log);

  app.get('/lb-health', INFRA, async () => ({ status: 'ok' }));
  app.get('/stats', INFRA, async (_request, reply): Promise<StatsAnswer> => {
    reply.header('cache-control', 'no-store');
    return snapshot.get();
  });
  app.get(STREAM_PATH, INFRA, (request, reply) => stream.handle(request, reply));

  app.addHook('onReady', async () => cluster.start());
  app.addHook('preClose', async () => {
    heartbeat.close();
    upgrades.close();
    stream.close();
  });
  app.addHook('onClose', async () => {
    cluster.stop();
    await Promise.all([
      redis?.close(),
      historyRedis?.close(),
      fanout.close(),
      ...Object.values(pools).map((p) => p.close()),
    ]);
  });

  return app;
}
