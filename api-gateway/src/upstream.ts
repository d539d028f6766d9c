import {
  type GatewayFields,
  type ProxyObserver,
  type ProxyOutcome,
  type ProxyRoute,
  proxyRequest,
  UpstreamPool,
} from '@titanium/service-kit';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { UpstreamName, UpstreamTimeouts } from './config.js';
import { UpstreamStats } from './upstream-stats.js';

/** While an upstream is failing, its /health is asked this often. */
const PROBE_INTERVAL_MS = 1000;

/** The parsed JSON body, encoded again (JSON is the only body type the gateway accepts). */
function bodyOf(request: FastifyRequest): string | undefined {
  const { body } = request;
  if (body === undefined || request.method === 'GET' || request.method === 'HEAD') return undefined;
  return JSON.stringify(body);
}

/**
 * One upstream service behind the gateway: its target pool (kept-alive connections and the kit's
 * health model), the proxy call, and what the gateway saw of it.
 */
export class Upstream implements ProxyObserver {
  readonly name: UpstreamName;
  readonly stats = new UpstreamStats();
  readonly pool: UpstreamPool;
  readonly #route: ProxyRoute;

  constructor(
    name: UpstreamName,
    url: string,
    timeouts: UpstreamTimeouts,
    log: FastifyBaseLogger,
    closing: () => boolean,
  ) {
    this.name = name;
    this.pool = new UpstreamPool(
      name,
      [url],
      {
        connections: 128,
        connectTimeoutMs: timeouts.connectMs,
        headersTimeoutMs: timeouts.headersMs,
        bodyTimeoutMs: timeouts.bodyMs,
        keepAliveTimeoutMs: timeouts.idleMs,
        probeIntervalMs: PROBE_INTERVAL_MS,
      },
      log,
    );
    this.#route = { pool: this.pool, observer: this, closing };
  }

  /** Why the upstream is failing, or undefined while it answers. */
  get failing(): string | undefined {
    return this.pool.targets[0]?.lastError;
  }

  onFinished(outcome: ProxyOutcome): void {
    this.stats.record(outcome.aborted ? undefined : outcome.statusCode, outcome.elapsedMs);
  }

  /**
   * Sends `request` to `path` on this upstream and passes the answer back, resolving once the
   * client has it (or has gone). The client's going away aborts the upstream call; no answer in
   * time is 504, no connection 502.
   */
  forward(request: FastifyRequest, reply: FastifyReply, path: string): Promise<void> {
    reply.hijack();
    const res = reply.raw;
    const done = new Promise<void>((resolve) => res.once('close', resolve));
    proxyRequest(request.raw, res, this.#route, {
      path,
      body: bodyOf(request),
      requestId: request.id,
      proto: request.protocol,
      host: request.host,
    });
    return done;
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The services behind the gateway, by name. */
    upstreams: Record<UpstreamName, Upstream>;
  }
}

const NAMES: readonly UpstreamName[] = ['auth', 'user', 'blog'];

export interface UpstreamsOptions {
  urls: Record<UpstreamName, string>;
  timeouts: UpstreamTimeouts;
}

/**
 * The gateway's upstreams as a part of the service: decorates `app.upstreams`, reports each one
 * in `/stats` as `upstreams`, makes `service_status` degraded while any is failing, and closes
 * their pools with the service.
 */
export const upstreams = fp<UpstreamsOptions>(
  async (app: FastifyInstance, { urls, timeouts }) => {
    for (const name of NAMES) {
      if (typeof urls?.[name] !== 'string')
        throw new Error(`upstreams: urls.${name} must be the ${name} service's URL`);
    }
    const closing = () => app.kit.lifecycle.state === 'draining';
    const built = Object.fromEntries(
      NAMES.map((name) => [name, new Upstream(name, urls[name], timeouts, app.log, closing)]),
    ) as Record<UpstreamName, Upstream>;
    app.decorate('upstreams', built);
    app.kit.stats.add(
      (): Pick<GatewayFields, 'upstreams'> => ({
        upstreams: Object.fromEntries(
          NAMES.map((name) => {
            const { failing, stats } = built[name];
            return [name, { ...stats.snapshot(), ...(failing ? { failing } : {}) }];
          }),
        ) as GatewayFields['upstreams'],
      }),
    );
    app.kit.status.dependsOn('upstreams', () => NAMES.every((name) => built[name].failing === undefined));
    app.addHook('onClose', async () => {
      await Promise.all(NAMES.map((name) => built[name].close()));
    });
  },
  { name: 'gateway-upstreams' },
);
