import { createServer, type IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { createService, hasRepeatedHost, OptionalRedis, REPEATED_HOST } from '@titanium/service-kit';
import type { FastifyInstance } from 'fastify';
import { ClusterStats } from './cluster-stats.js';
import type { Config } from './config.js';
import { HEARTBEAT_PATH, Heartbeat } from './heartbeat.js';
import { type ProxyContext, proxyRequest, sendJson } from './http-proxy.js';
import { ProxiedRequestMetrics } from './proxied-metrics.js';
import { StatsFanout } from './stats-fanout.js';
import { StatsWindow } from './stats-window.js';
import { loadBalancerBlock } from './traffic-report.js';
import { UpgradeProxy } from './upgrade-proxy.js';
import { UpstreamGroup } from './upstream-group.js';

export const STATS_KEY = 'load-balancer';

/** Paths the load balancer answers itself; everything else is proxied without touching Fastify. */
const OWN_PATHS = new Set(['/lb-health', '/stats', '/health', '/ready', '/metrics']);
const INFRA = { config: { infra: true } } as const;

export interface BuildOptions {
  /** Clock for the traffic window, in milliseconds; tests move it instead of waiting. */
  now?: () => number;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Answers a request asking to upgrade to anything but WebSocket as the plain HTTP/1.1 request it also
 * is (a server may ignore Upgrade), then closes the connection: only WebSocket tunnels are proxied.
 * Node hands every request with an Upgrade header to the upgrade handler, without the parser that
 * would read a body, so one with a body is refused instead.
 */
function answerWithoutUpgrade(req: IncomingMessage, socket: Socket, handle: Handler): void {
  const res = new ServerResponse(req);
  res.shouldKeepAlive = false;
  res.assignSocket(socket);
  res.once('finish', () => {
    res.detachSocket(socket);
    socket.end();
  });
  if (req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0') {
    sendJson(res, 400, {
      statusCode: 400,
      error: 'Bad Request',
      message: `Upgrade to ${req.headers.upgrade} is not supported`,
    });
    return;
  }
  handle(req, res);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function build(config: Config, options: BuildOptions = {}): FastifyInstance {
  const now = options.now ?? Date.now;
  const window = new StatsWindow(now);
  let app: FastifyInstance | undefined;
  const log = () => app?.log;
  const group = (name: string, urls: string[]) => new UpstreamGroup(name, urls, config.upstream, log);
  const { upstreams } = config;
  const api = group('api-gateway', upstreams.apiGateway);
  const dashboard = group('dashboard-ui', upstreams.dashboard);
  const blog = group('blog-service', upstreams.blog);
  const auth = group('auth-service', upstreams.auth);
  const user = group('user-service', upstreams.user);
  const heartbeat = new Heartbeat({ ...config.heartbeat, onActivity: () => window.activity() });
  const upgrades = new UpgradeProxy();
  const proxied = new ProxiedRequestMetrics();
  const context: ProxyContext = {
    window,
    draining: () => app?.kit.lifecycle.state === 'draining',
    observe: (route, method, statusCode, seconds) => proxied.observe(route, method, statusCode, seconds),
  };

  const route = (req: IncomingMessage, res: ServerResponse, own: Handler) => {
    if (hasRepeatedHost(req.rawHeaders)) {
      sendJson(res, 400, { statusCode: 400, error: 'Bad Request', message: REPEATED_HOST }, ['connection', 'close']);
      return;
    }
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    if (path.startsWith('/api/') || path === '/api') {
      if (path === HEARTBEAT_PATH) {
        sendJson(res, 426, { statusCode: 426, error: 'Upgrade Required', message: 'This is a WebSocket endpoint' });
        return;
      }
      const counted =
        path.length > 4 && req.method !== 'HEAD' && req.headers['x-heartbeat']?.toString().toLowerCase() !== 'true';
      proxyRequest(req, res, api, context, counted, '/api/*');
    } else if (path.startsWith('/blog/')) {
      proxyRequest(req, res, blog, context, false, '/blog/*');
    } else if (path === '/blog') {
      res.writeHead(308, { location: `/blog/${query === -1 ? '' : url.slice(query)}`, 'content-length': '0' });
      res.end();
    } else if (OWN_PATHS.has(path) || !url.startsWith('/')) {
      own(req, res);
    } else {
      proxyRequest(req, res, dashboard, context, false, '/*');
    }
  };

  const { server } = config;
  app = createService({
    config: config.kit,
    statsKey: STATS_KEY,
    ownStatsRoute: true,
    server: {
      serverFactory: (handler) => {
        const http = createServer(
          {
            headersTimeout: server.headersTimeoutMs,
            requestTimeout: server.requestTimeoutMs,
            keepAliveTimeout: server.keepAliveTimeoutMs,
            connectionsCheckingInterval: server.connectionsCheckingIntervalMs,
            noDelay: true,
          },
          (req, res) => route(req, res, handler),
        );
        http.keepAliveTimeout = server.keepAliveTimeoutMs;
        http.on('upgrade', (req: IncomingMessage, socket, head: Buffer) => {
          socket.on('error', () => socket.destroy());
          if (req.headers.upgrade?.toLowerCase() !== 'websocket') {
            answerWithoutUpgrade(req, socket as Socket, (request, response) => route(request, response, handler));
            return;
          }
          const path = (req.url ?? '/').split('?')[0] ?? '/';
          if (path === HEARTBEAT_PATH) heartbeat.handleUpgrade(req, socket, head);
          else if (path.startsWith('/api/') || path === '/api') upgrades.handle(req, socket, head, api);
          else if (path.startsWith('/blog/')) upgrades.handle(req, socket, head, blog);
          else upgrades.handle(req, socket, head, dashboard);
        });
        return http;
      },
    },
  });

  app.kit.metrics.registry.registerMetric(proxied.asMetric());
  const redis = config.redisUrl ? new OptionalRedis(config.redisUrl, app.log) : undefined;
  const cluster = new ClusterStats({
    redis,
    window,
    instanceId: config.instanceId,
    prefix: config.redisPrefix,
    wsConnections: () => heartbeat.connections,
  });
  const fanout = new StatsFanout(
    [
      { key: 'api-gateway', group: api },
      { key: 'auth', group: auth },
      { key: 'user_service', group: user },
      { key: 'blog_service', group: blog },
    ],
    config.statsTimeoutMs,
  );

  app.get('/lb-health', INFRA, async () => ({ status: 'ok' }));

  app.get('/stats', INFRA, async (_request, reply) => {
    const [services, totals] = await Promise.all([fanout.collect(), cluster.totals()]);
    const userStats = services.user_service ?? {};
    const unknown = { status: 'unknown', error: 'user-service did not report it' };
    reply.header('cache-control', 'no-store');
    return {
      [STATS_KEY]: loadBalancerBlock(totals),
      'api-gateway': services['api-gateway'],
      auth: services.auth,
      user_service: userStats,
      blog_service: services.blog_service,
      database: isObject(userStats.database) ? userStats.database : unknown,
      cache: isObject(userStats.cache) ? userStats.cache : unknown,
    };
  });

  app.addHook('onReady', async () => cluster.start());
  app.addHook('preClose', async () => {
    heartbeat.close();
    upgrades.close();
  });
  app.addHook('onClose', async () => {
    cluster.stop();
    await Promise.all([redis?.close(), fanout.close(), ...[api, dashboard, blog, auth, user].map((g) => g.close())]);
  });

  return app;
}
