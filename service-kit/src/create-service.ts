import type { ServerOptions as HttpServerOptions } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify';
import type { KitConfig } from './config.js';
import { answerFrameworkError, installErrorHandling } from './errors.js';
import { Lifecycle } from './lifecycle.js';
import { createMetrics, type ServiceMetrics } from './metrics.js';
import { REQUEST_ID_HEADER, requestIdFor } from './request-id.js';
import { hasRepeatedHost, installInputRules } from './request-input.js';
import { TrafficCounters } from './traffic-counters.js';
import { discardUnreadBody } from './unread-body.js';

export type ServiceStatus = 'online' | 'degraded';
export type StatsFields = Record<string, unknown>;

export interface ServiceOptions {
  config: KitConfig;
  /** Key of the wrapped `/stats` answer: `{"<statsKey>": {...}}`. */
  statsKey: string;
  /** Service-specific fields merged into the `/stats` block. */
  collectStats?: () => StatsFields | Promise<StatsFields>;
  /** The service registers its own `/stats` route instead of the wrapped default one. */
  ownStatsRoute?: boolean;
  /** `degraded` when the service works but a dependency does not. */
  status?: () => ServiceStatus;
  /** Named checks that must all pass for `/ready` to answer 200 once started. */
  readinessChecks?: Record<string, () => boolean | Promise<boolean>>;
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
 */
export function createService(options: ServiceOptions): FastifyInstance {
  const { config, statsKey } = options;
  const app = Fastify({
    logger: {
      level: config.logLevel,
      base: { service: config.name },
      timestamp: () => `,"time":"${new Date().toISOString()}"`,
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
  };
  app.decorate('kit', kit);
  installErrorHandling(app);
  installInputRules(app);

  const { requestDuration } = kit.metrics;
  const logEachRequest = config.logLevel === 'debug' || config.logLevel === 'trace';
  app.addHook('onRequest', (request, reply, done) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    const counted = request.routeOptions.config?.infra !== true;
    if (counted) kit.traffic.started();
    const res = reply.raw;
    // 'close' fires exactly once per response, whether it finished or the client went away; a
    // response the service never ended was cut short by the client.
    res.once('close', () => {
      const aborted = !res.writableEnded;
      const elapsedMs = reply.elapsedTime;
      const statusCode = aborted ? 499 : res.statusCode;
      requestDuration.observe(
        { route: request.routeOptions.url ?? 'unmatched', method: request.method, status_code: statusCode },
        elapsedMs / 1000,
      );
      if (counted) kit.traffic.finished(statusCode, elapsedMs, aborted);
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

  const checks = Object.entries(options.readinessChecks ?? {});
  app.get('/ready', INFRA, async (_request, reply) => {
    const state = kit.lifecycle.state;
    if (state !== 'ready') return reply.code(503).send({ status: state });
    const results: Record<string, boolean> = {};
    let ok = true;
    for (const [name, check] of checks) {
      const passed = await Promise.resolve()
        .then(check)
        .catch(() => false);
      results[name] = passed;
      ok &&= passed;
    }
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'unready', checks: results });
  });

  app.get('/metrics', INFRA, async (_request, reply) => {
    const text = await kit.metrics.registry.metrics();
    return reply.type(kit.metrics.registry.contentType).send(text);
  });

  if (!options.ownStatsRoute) {
    app.get('/stats', INFRA, async () => {
      const extra = options.collectStats ? await options.collectStats() : {};
      return wrapStats(statsKey, {
        service_status: options.status?.() ?? 'online',
        uptime_seconds: Math.round((Date.now() - kit.lifecycle.startedAt) / 1000),
        ...kit.traffic.snapshot(),
        ...extra,
      });
    });
  }

  return app;
}

/** The wrapped `/stats` answer every service gives: `{"<key>": {...}}`. */
export function wrapStats<T extends { service_status: string }>(key: string, block: T): Record<string, T> {
  return { [key]: block };
}
