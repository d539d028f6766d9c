import { connect } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import { Agent, Pool, request } from 'undici';

export type BalancingStrategy = 'least-outstanding' | 'round-robin';

export interface UpstreamOptions {
  strategy: BalancingStrategy;
  /** Consecutive connection failures that take a target out. */
  failureThreshold: number;
  /** How often a target that is out is probed (TCP connect) to bring it back. */
  cooldownMs: number;
  /** With several targets, how often each one's `/ready` is asked; 503 means it is draining. */
  readinessIntervalMs: number;
  connections: number;
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  keepAliveTimeoutMs: number;
}

export class Target {
  readonly url: string;
  readonly pool: Pool;
  readonly host: string;
  readonly port: number;
  outstanding = 0;
  failures = 0;
  /** False once it failed to connect often enough; a probe brings it back. */
  up = true;
  /** False while its `/ready` says it should get no new requests (draining or starting). */
  ready = true;
  probe: NodeJS.Timeout | undefined;
  /** True while a readiness check of it is under way: a slow target does not pile checks up. */
  checking = false;

  constructor(url: string, options: UpstreamOptions) {
    const parsed = new URL(url);
    this.url = url;
    this.host = parsed.hostname.replace(/^\[|\]$/g, '');
    this.port = Number(parsed.port) || (parsed.protocol === 'https:' ? 443 : 80);
    this.pool = new Pool(parsed.origin, {
      connections: options.connections,
      pipelining: 1,
      connectTimeout: options.connectTimeoutMs,
      headersTimeout: options.headersTimeoutMs,
      bodyTimeout: options.bodyTimeoutMs,
      keepAliveTimeout: options.keepAliveTimeoutMs,
      keepAliveMaxTimeout: Math.max(options.keepAliveTimeoutMs, 1000),
    });
  }
}

/**
 * The targets behind one upstream variable. Passive health: a target that fails to connect
 * `failureThreshold` times in a row is taken out and probed with a TCP connect every cool-down
 * until it accepts again, so a restarted target is back within one cool-down even without
 * traffic. With several targets each one's `/ready` is also polled, and one that answers 503
 * (draining before a shutdown) gets no new requests. No request goes to a target known down.
 */
export class UpstreamGroup {
  readonly name: string;
  readonly targets: readonly Target[];
  readonly #options: UpstreamOptions;
  readonly #log: () => FastifyBaseLogger | undefined;
  readonly #readiness: { timer: NodeJS.Timeout; agent: Agent; abort: AbortController } | undefined;
  #next = 0;
  #closed = false;

  constructor(
    name: string,
    urls: readonly string[],
    options: UpstreamOptions,
    log: () => FastifyBaseLogger | undefined,
  ) {
    this.name = name;
    this.#options = options;
    this.#log = log;
    this.targets = urls.map((url) => new Target(url, options));
    if (this.targets.length > 1) {
      // Its own small pool, so a check never waits behind proxied traffic.
      const agent = new Agent({ connections: 1, keepAliveTimeout: Math.max(options.readinessIntervalMs * 4, 1000) });
      const timer = setInterval(() => this.#checkReadiness(), options.readinessIntervalMs);
      timer.unref();
      this.#readiness = { timer, agent, abort: new AbortController() };
    }
  }

  /**
   * A target that is up, chosen by the strategy, or undefined when none is; `except` is skipped.
   * Targets that said they are not ready are used only when no ready one is left.
   */
  pick(except?: Target): Target | undefined {
    const targets = this.targets;
    const n = targets.length;
    if (n === 1) {
      const only = targets[0] as Target;
      return only.up && only !== except ? only : undefined;
    }
    const start = this.#next;
    this.#next = (start + 1) % n;
    let best: Target | undefined;
    let fallback: Target | undefined;
    for (let i = 0; i < n; i++) {
      const target = targets[(start + i) % n] as Target;
      if (!target.up || target === except) continue;
      if (!target.ready) {
        fallback ??= target;
        continue;
      }
      if (this.#options.strategy === 'round-robin') return target;
      if (!best || target.outstanding < best.outstanding) best = target;
    }
    return best ?? fallback;
  }

  /** The longest a request may wait for a target's response headers, queueing included. */
  get headersTimeoutMs(): number {
    return this.#options.headersTimeoutMs;
  }

  succeeded(target: Target): void {
    target.failures = 0;
  }

  /** A connection-level failure; enough in a row take the target out until a probe connects. */
  failed(target: Target, err: Error): void {
    target.failures++;
    if (target.up && target.failures >= this.#options.failureThreshold) {
      target.up = false;
      this.#log()?.warn(
        { upstream: this.name, target: target.url, err: err.message, cooldownMs: this.#options.cooldownMs },
        'upstream target down; sending its traffic elsewhere',
      );
      this.#scheduleProbe(target);
    }
  }

  #scheduleProbe(target: Target): void {
    if (this.#closed) return;
    target.probe = setTimeout(() => this.#probe(target), this.#options.cooldownMs);
    target.probe.unref();
  }

  #probe(target: Target): void {
    target.probe = undefined;
    const socket = connect({ host: target.host, port: target.port });
    const finish = (ok: boolean) => {
      socket.destroy();
      clearTimeout(timer);
      if (target.up || this.#closed) return;
      if (ok) this.#back(target);
      else this.#scheduleProbe(target);
    };
    const timer = setTimeout(() => finish(false), this.#options.connectTimeoutMs);
    timer.unref();
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  }

  #back(target: Target): void {
    clearTimeout(target.probe);
    target.probe = undefined;
    target.up = true;
    target.failures = 0;
    this.#log()?.info({ upstream: this.name, target: target.url }, 'upstream target back');
  }

  #checkReadiness(): void {
    const readiness = this.#readiness;
    if (!readiness || this.#closed) return;
    const timeout = AbortSignal.timeout(Math.max(this.#options.readinessIntervalMs * 2, 1000));
    const signal = AbortSignal.any([readiness.abort.signal, timeout]);
    for (const target of this.targets) {
      if (!target.up || target.checking) continue;
      target.checking = true;
      request(`${target.url}/ready`, { dispatcher: readiness.agent, signal })
        .then(async (res) => {
          await res.body.dump();
          this.#setReady(target, res.statusCode < 300);
        })
        .catch(() => {
          // Refused or no answer in time: not ready; connection failures of real traffic take it out.
          if (!readiness.abort.signal.aborted) this.#setReady(target, false);
        })
        .finally(() => {
          target.checking = false;
        });
    }
  }

  #setReady(target: Target, ready: boolean): void {
    if (target.ready === ready || this.#closed) return;
    target.ready = ready;
    this.#log()?.info(
      { upstream: this.name, target: target.url },
      ready ? 'upstream target ready' : 'upstream target not ready; no new requests',
    );
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const target of this.targets) clearTimeout(target.probe);
    if (this.#readiness) {
      clearInterval(this.#readiness.timer);
      this.#readiness.abort.abort();
      await this.#readiness.agent.destroy().catch(() => undefined);
    }
    await Promise.all(this.targets.map((target) => target.pool.close().catch(() => undefined)));
  }
}
