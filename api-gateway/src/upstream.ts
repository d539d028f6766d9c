import {
  type ProxyObserver,
  type ProxyOutcome,
  type ProxyRoute,
  proxyRequest,
  UpstreamPool,
} from '@titanium/service-kit';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
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
