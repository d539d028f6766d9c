import type { ServerOptions as HttpServerOptions } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify';
import type { KitConfig } from './config.js';
import { answerFrameworkError, installErrorHandling } from './errors.js';
import { isoTimestamp } from './iso-time.js';
import { Lifecycle } from './lifecycle.js';
import { createMetrics, type ServiceMetrics } from './metrics.js';
import { REQUEST_ID_HEADER, requestIdFor } from './request-id.js';
import { hasRepeatedHost, installInputRules } from './request-input.js';
import { ReadinessRegistry, ResponseObservers, StatsRegistry, StatusRegistry } from './service-parts.js';
import type { ServiceBlock } from './stats-contract.js';
import { TrafficCounters } from './traffic-counters.js';
import { discardUnreadBody } from './unread-body.js';

export interface ServiceOptions {
  config: KitConfig;
  /** Key of the wrapped `/stats` answer, `{"<statsKey>": {...}}`: the service's entry in `STATS_KEYS`. */
  statsKey: string;
  /** The service registers its own `/stats` route instead of the wrapped default one. */
  ownStatsRoute?: boolean;
  /** Server settings (timeouts, trustProxy, …) passed to Fastify. */
  server?: Pick<
    FastifyServerOptions,
    | 'connectionTimeout'
    | 'keepAliveTimeout'
    | 'requestTimeout'
    | 'trustProxy'
    | 'maxRequestsPerSocket'
    | 'serverFactory'
  > & { http?: HttpServerOptions };
  /** Where JSON logs go; stdout by default. */
  logStream?: NodeJS.WritableStream;
}

export interface Kit {
  config: KitConfig;
  lifecycle: Lifecycle;
  metrics: ServiceMetrics;
  traffic: TrafficCounters;
  /** Fields the service's parts add to its `/stats` block. */
  stats: StatsRegistry;
  /** What `service_status` depends on. */
  status: StatusRegistry;
  /** The checks behind `/ready`. */
  readiness: ReadinessRegistry;
  /** Told of every response once it is over. */
  responses: ResponseObservers;
}

declare module 'fastify' {
  interface FastifyInstance {
    kit: Kit;
  }
  interface FastifyContextConfig {
    /** Probe and telemetry routes: measured in metrics, left out of the service's traffic counters. */
    infra?: boolean;
  }
}

const INFRA = { config: { infra: true } } as const;

/**
 * A Fastify instance with everything a Titanium service shares: JSON logs with request ids,
 * `/health`, `/ready`, `/metrics`, `/stats`, JSON errors and drain-aware keep-alive.
 * It does not listen; `runService` does.
 *
 * Assembly flows one way: create the instance, then let each part (a store, a cache, a client),
 * usually a `fastify-plugin` plugin, register what it owns on `app.kit`:
 * - `app.kit.stats.add(() => ({ cache: cache.stats() }))`: fields of the `/stats` block, typed
 *   against `stats-contract.ts`; collected on each `GET /stats`, merged in the order added, after
 *   `service_status`, `uptime_seconds` and the traffic figures.
 * - `app.kit.status.dependsOn('cache', () => cache.healthy)`: `service_status` is `degraded` while
 *   any dependency answers false (asked after the fields are collected).
 * - `app.kit.readiness.add('database', () => store.isOpen)`: `/ready` answers 200 only once started
 *   and while every check passes, and lists each check's result.
 * - `app.kit.responses.add((response) => …)`: told of every response once it is over (route
 *   template, status, time, whether the client left), by the one `close` listener the kit has
 *   on each response for its own figures.
 * - `app.addHook('onClose', …)`: releasing what the part opened.
 * A name registered twice, or a check that is not a function, throws at once.
 *
 * ```ts
 * const app = createService({ config: config.kit, statsKey: STATS_KEYS['user-service'] });
 * app.register(userCache, config.cache); // adds `cache`, depends on it, closes Redis
 * ```
 */
export function createService(options: ServiceOptions): FastifyInstance {
  const { config, statsKey } = options;
  const app = Fastify({
    logger: {
      level: config.logLevel,
      base: { service: config.name },
      timestamp: () => `,"time":"${isoTimestamp()}"`,
      redact: ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.cookie'],
      ...(options.logStream ? { stream: options.logStream } : {}),
    },
    genReqId: requestIdFor,
    requestIdHeader: false,
    // Completed requests are logged by the hook below (at debug), not twice at info.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'request_id' }),
    bodyLimit: config.bodyLimit,
    return503OnClosing: true,
    frameworkErrors: answerFrameworkError,
    forceCloseConnections: 'idle',
    ...options.server,
  }) as unknown as FastifyInstance;

  const kit: Kit = {
    config,
    lifecycle: new Lifecycle(),
    metrics: createMetrics(config.name),
    traffic: new TrafficCounters(),
    stats: new StatsRegistry(),
    status: new StatusRegistry(),
    readiness: new ReadinessRegistry(),
    responses: new ResponseObservers(),
  };
  app.decorate('kit', kit);
  installErrorHandling(app);
  installInputRules(app);

  const { requestDuration } = kit.metrics;
  const logEachRequest = config.logLevel === 'debug' || config.logLevel === 'trace';
  app.addHook('onRequest', (request, reply, done) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    // Fastify builds a new object on every read of routeOptions: read it once.
    const { config: routeConfig, url: route } = request.routeOptions;
    const counted = routeConfig?.infra !== true;
    if (counted) kit.traffic.started();
    const res = reply.raw;
    // 'close' fires exactly once per response, whether it finished or the client went away; a
    // response the service never ended was cut short by the client.
    res.once('close', () => {
      const aborted = !res.writableEnded;
      const elapsedMs = reply.elapsedTime;
      const statusCode = aborted ? 499 : res.statusCode;
      requestDuration.observe(
        { route: route ?? 'unmatched', method: request.method, status_code: statusCode },
        elapsedMs / 1000,
      );
      if (counted) kit.traffic.finished(statusCode, elapsedMs, aborted);
      if (kit.responses.size > 0) {
        kit.responses.notify({ request, reply, route, statusCode, elapsedMs, aborted }, request.log);
      }
      if (logEachRequest) {
        request.log.debug(
          { method: request.method, url: request.url, statusCode, elapsedMs: Math.round(elapsedMs * 100) / 100 },
          'request completed',
        );
      }
    });
    done();
  });
  app.addHook('onSend', (request, reply, payload, done) => {
    // While draining, every answer closes its connection so clients reconnect to another instance.
    if (kit.lifecycle.state === 'draining') reply.header('connection', 'close');
    else if (!request.raw.complete && !hasRepeatedHost(request.raw.rawHeaders)) {
      // Answered before the whole body arrived (too large, refused before reading). Fastify
      // closes such a connection at once, and a close with unread input is a reset that can
      // cost the client this answer: read the rest instead, and keep the connection.
      reply.removeHeader('connection');
      reply.raw.once('finish', () => discardUnreadBody(request.raw));
    }
    done(null, payload);
  });

  app.get('/health', INFRA, async () => ({ status: 'ok' }));

  app.get('/ready', INFRA, async (_request, reply) => {
    const state = kit.lifecycle.state;
    if (state !== 'ready') return reply.code(503).send({ status: state });
    const { ready, checks } = await kit.readiness.run();
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'unready', checks });
  });

  app.get('/metrics', INFRA, async (_request, reply) => {
    const text = await kit.metrics.registry.metrics();
    return reply.type(kit.metrics.registry.contentType).send(text);
  });

  if (!options.ownStatsRoute) {
    app.get('/stats', INFRA, async () => {
      const fields = await kit.stats.collect();
      const block: ServiceBlock = {
        service_status: kit.status.current(),
        uptime_seconds: Math.round((Date.now() - kit.lifecycle.startedAt) / 1000),
        ...kit.traffic.snapshot(),
      };
      return { [statsKey]: { ...block, ...fields } };
    });
  }

  return app;
}
