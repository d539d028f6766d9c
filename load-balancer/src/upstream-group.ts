import { connect } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import { Pool } from 'undici';

export type BalancingStrategy = 'least-outstanding' | 'round-robin';

export interface UpstreamOptions {
  strategy: BalancingStrategy;
  /** Consecutive connection failures that take a target out. */
  failureThreshold: number;
  /** How long a target stays out before a connection probe may bring it back. */
  cooldownMs: number;
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
  /** 0 while up; otherwise when the target may be probed again. */
  downUntil = 0;
  probing = false;

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

  get up(): boolean {
    return this.downUntil === 0;
  }
}

/**
 * The targets behind one upstream variable, with passive health: a target that fails to connect
 * `failureThreshold` times in a row is taken out; after the cool-down a TCP connect probe decides
 * whether it comes back. No request goes to a target known down.
 */
export class UpstreamGroup {
  readonly name: string;
  readonly targets: readonly Target[];
  readonly #options: UpstreamOptions;
  readonly #log: () => FastifyBaseLogger | undefined;
  readonly #now: () => number;
  #next = 0;

  constructor(
    name: string,
    urls: readonly string[],
    options: UpstreamOptions,
    log: () => FastifyBaseLogger | undefined,
    now: () => number = Date.now,
  ) {
    this.name = name;
    this.#options = options;
    this.#log = log;
    this.#now = now;
    this.targets = urls.map((url) => new Target(url, options));
  }

  /** A target that is up, chosen by the strategy, or undefined when none is; `except` is skipped. */
  pick(except?: Target): Target | undefined {
    const targets = this.targets;
    const n = targets.length;
    if (n === 1) {
      const only = targets[0] as Target;
      if (only.up && only !== except) return only;
      this.#maybeProbe(only);
      return undefined;
    }
    const start = this.#next;
    this.#next = (start + 1) % n;
    let best: Target | undefined;
    for (let i = 0; i < n; i++) {
      const target = targets[(start + i) % n] as Target;
      if (!target.up) {
        this.#maybeProbe(target);
        continue;
      }
      if (target === except) continue;
      if (this.#options.strategy === 'round-robin') return target;
      if (!best || target.outstanding < best.outstanding) best = target;
    }
    return best;
  }

  succeeded(target: Target): void {
    target.failures = 0;
  }

  /** A connection-level failure; enough in a row take the target out. */
  failed(target: Target, err: Error): void {
    target.failures++;
    if (target.up && target.failures >= this.#options.failureThreshold) {
      target.downUntil = this.#now() + this.#options.cooldownMs;
      this.#log()?.warn(
        { upstream: this.name, target: target.url, err: err.message, cooldownMs: this.#options.cooldownMs },
        'upstream target down; sending its traffic elsewhere',
      );
    }
  }

  #maybeProbe(target: Target): void {
    if (target.probing || target.downUntil > this.#now()) return;
    target.probing = true;
    const socket = connect({ host: target.host, port: target.port });
    const finish = (ok: boolean) => {
      socket.destroy();
      clearTimeout(timer);
      if (!target.probing) return;
      target.probing = false;
      if (ok) {
        target.downUntil = 0;
        target.failures = 0;
        this.#log()?.info({ upstream: this.name, target: target.url }, 'upstream target back');
      } else {
        target.downUntil = this.#now() + this.#options.cooldownMs;
      }
    };
    const timer = setTimeout(() => finish(false), this.#options.connectTimeoutMs);
    timer.unref();
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  }

  async close(): Promise<void> {
    await Promise.all(this.targets.map((target) => target.pool.close().catch(() => undefined)));
  }
}
