import type { FastifyBaseLogger } from 'fastify';
import { Agent, Pool, request } from 'undici';
import type { TargetState } from './stats-contract.js';
import { classifyFailure, describeFailure } from './upstream-errors.js';

export type BalancingStrategy = 'least-outstanding' | 'round-robin';
export const BALANCING_STRATEGIES: readonly BalancingStrategy[] = ['least-outstanding', 'round-robin'];

export interface UpstreamPoolOptions {
  strategy: BalancingStrategy;
  /** Consecutive connection failures that take a target out. */
  failureThreshold: number;
  /** While a target is failing, how often its probe path is asked; an answer below 500 brings it back. */
  probeIntervalMs: number;
  probePath: string;
  /** How often each target's readiness path is asked (a 2xx: ready; anything else: draining); 0 for never. */
  readinessIntervalMs: number;
  readinessPath: string;
  connections: number;
  connectTimeoutMs: number;
  /** The longest a request may wait for response headers, queueing for a connection included. */
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  keepAliveTimeoutMs: number;
}

export const POOL_DEFAULTS: UpstreamPoolOptions = {
  strategy: 'least-outstanding',
  failureThreshold: 2,
  probeIntervalMs: 500,
  probePath: '/health',
  readinessIntervalMs: 0,
  readinessPath: '/ready',
  connections: 128,
  connectTimeoutMs: 3_000,
  headersTimeoutMs: 10_000,
  bodyTimeoutMs: 30_000,
  keepAliveTimeoutMs: 30_000,
};

/** One target URL of an upstream. Its counters and state are changed by its pool only. */
export class UpstreamTarget {
  readonly url: string;
  /** Kept-alive connections for the traffic it is sent. */
  readonly dispatcher: Pool;
  /** Requests sent to it and not yet finished. */
  inFlight = 0;
  /** Connection failures in a row. */
  failures = 0;
  /** False once it failed to connect `failureThreshold` times in a row, until a probe answers. */
  up = true;
  /** False while its readiness path says it should get no new requests (draining or starting). */
  ready = true;
  /** Why the last exchange with it failed, until one succeeds again. */
  lastError: string | undefined;
  /** When `state` last changed (ms since the epoch). */
  lastChange = Date.now();
  probe: NodeJS.Timeout | undefined;
  /** True while a readiness check of it is under way: a slow target does not pile checks up. */
  checking = false;

  constructor(url: string, options: UpstreamPoolOptions) {
    const parsed = new URL(url);
    this.url = url;
    this.dispatcher = new Pool(parsed.origin, {
      connections: options.connections,
      pipelining: 1,
      connectTimeout: options.connectTimeoutMs,
      headersTimeout: options.headersTimeoutMs,
      bodyTimeout: options.bodyTimeoutMs,
      keepAliveTimeout: options.keepAliveTimeoutMs,
      keepAliveMaxTimeout: Math.max(options.keepAliveTimeoutMs, 1000),
    });
  }

  get state(): TargetState {
    if (!this.up) return 'out';
    return this.ready ? 'up' : 'draining';
  }

  /** Up, ready and answering: nothing failed since the last exchange that worked. */
  get healthy(): boolean {
    return this.up && this.ready && this.lastError === undefined;
  }
}

/**
 * The targets behind one upstream, with one health model for every caller.
 * Passive: a target that fails to connect `failureThreshold` times in a row is taken out, and
 * gets no request until its probe path answers; any failure (a timeout too) marks it failing,
 * and a failing target is probed every `probeIntervalMs` until it answers, so a restarted
 * target is back within one interval even without traffic. Active, when `readinessIntervalMs`
 * is set: each target's readiness path is asked; one that answers other than 2xx (draining
 * before a shutdown, or starting) gets new requests only when no ready one is left.
 */
export class UpstreamPool {
  readonly name: string;
  readonly targets: readonly UpstreamTarget[];
  readonly options: UpstreamPoolOptions;
  readonly #log: FastifyBaseLogger;
  /** Probes and readiness checks: their own small pool, so a check never waits behind traffic. */
  readonly #checks: Agent;
  readonly #abort = new AbortController();
  readonly #readinessTimer: NodeJS.Timeout | undefined;
  #next = 0;
  #closed = false;

  constructor(name: string, urls: readonly string[], options: Partial<UpstreamPoolOptions>, log: FastifyBaseLogger) {
    if (urls.length === 0) throw new Error(`upstream ${name} needs at least one target URL`);
    this.name = name;
    this.options = { ...POOL_DEFAULTS, ...options };
    this.#log = log;
    this.targets = urls.map((url) => new UpstreamTarget(url, this.options));
    const { readinessIntervalMs, probeIntervalMs } = this.options;
    this.#checks = new Agent({
      connections: 1,
      keepAliveTimeout: Math.max(readinessIntervalMs * 4, probeIntervalMs * 4, 1000),
    });
    if (readinessIntervalMs > 0) {
      this.#readinessTimer = setInterval(() => this.checkReadiness(), readinessIntervalMs);
      this.#readinessTimer.unref();
    }
  }

  /**
   * A target that is up, chosen by the strategy, or undefined when none is; `except` is skipped.
   * Targets that said they are not ready are used only when no ready one is left.
   */
  pick(except?: UpstreamTarget): UpstreamTarget | undefined {
    const targets = this.targets;
    const n = targets.length;
    if (n === 1) {
      const only = targets[0] as UpstreamTarget;
      return only.up && only !== except ? only : undefined;
    }
    const start = this.#next;
    this.#next = (start + 1) % n;
    let best: UpstreamTarget | undefined;
    let fallback: UpstreamTarget | undefined;
    for (let i = 0; i < n; i++) {
      const target = targets[(start + i) % n] as UpstreamTarget;
      if (!target.up || target === except) continue;
      if (!target.ready) {
        fallback ??= target;
        continue;
      }
      if (this.options.strategy === 'round-robin') return target;
      if (!best || target.inFlight < best.inFlight) best = target;
    }
    return best ?? fallback;
  }

  /** A request goes to `target`; `release` once it is over, however it ended. */
  begin(target: UpstreamTarget): void {
    target.inFlight++;
  }

  release(target: UpstreamTarget): void {
    target.inFlight--;
  }

  /** An exchange with `target` worked: it is reachable and no longer failing. */
  succeeded(target: UpstreamTarget): void {
    target.failures = 0;
    if (target.lastError === undefined) return;
    target.lastError = undefined;
    if (!target.up) this.#setUp(target, true);
    clearTimeout(target.probe);
    target.probe = undefined;
    this.#log.info({ upstream: this.name, target: target.url }, 'upstream target answering again');
  }

  /**
   * An exchange with `target` failed. Connection failures count towards taking it out; every
   * failure marks it failing and has it probed until it answers.
   */
  failed(target: UpstreamTarget, err: Error): void {
    const kind = classifyFailure(err);
    if (kind === 'closed' || this.#closed) return;
    const first = target.lastError === undefined;
    target.lastError = describeFailure(err);
    if (kind === 'connection') target.failures++;
    if (target.up && target.failures >= this.options.failureThreshold) {
      this.#setUp(target, false);
      this.#log.warn(
        {
          upstream: this.name,
          target: target.url,
          err: target.lastError,
          probeIntervalMs: this.options.probeIntervalMs,
        },
        'upstream target down; no requests until it answers',
      );
    } else if (first) {
      this.#log.warn({ upstream: this.name, target: target.url, err: target.lastError }, 'upstream target failing');
    }
    if (!target.probe) this.#scheduleProbe(target);
  }

  #scheduleProbe(target: UpstreamTarget): void {
    if (this.#closed) return;
    target.probe = setTimeout(() => void this.#probe(target), this.options.probeIntervalMs);
    target.probe.unref();
  }

  async #probe(target: UpstreamTarget): Promise<void> {
    target.probe = undefined;
    let answered = false;
    try {
      answered = (await this.#ask(target, this.options.probePath, this.options.probeIntervalMs)) < 500;
    } catch {
      // still failing; the next probe tries again
    }
    if (this.#closed || target.lastError === undefined) return;
    if (!answered) {
      this.#scheduleProbe(target);
      return;
    }
    this.succeeded(target);
    if (this.options.readinessIntervalMs > 0) this.#checkReadiness(target);
  }

  /** Asks every target's readiness path now (also what the timer does). */
  checkReadiness(): void {
    if (this.#closed) return;
    for (const target of this.targets) {
      if (target.up) this.#checkReadiness(target);
    }
  }

  #checkReadiness(target: UpstreamTarget): void {
    if (target.checking) return;
    target.checking = true;
    this.#ask(target, this.options.readinessPath, this.options.readinessIntervalMs)
      .then((status) => this.#setReady(target, status >= 200 && status < 300))
      .catch((err: Error) => {
        if (this.#abort.signal.aborted) return;
        this.#setReady(target, false);
        this.failed(target, err);
      })
      .finally(() => {
        target.checking = false;
      });
  }

  /** GET `path` on the target through the checks' own pool; resolves with the status code. */
  async #ask(target: UpstreamTarget, path: string, intervalMs: number): Promise<number> {
    const timeout = AbortSignal.timeout(Math.max(intervalMs * 2, 1000));
    const signal = AbortSignal.any([this.#abort.signal, timeout]);
    const res = await request(`${target.url}${path}`, { dispatcher: this.#checks, signal });
    await res.body.dump();
    return res.statusCode;
  }

  #setUp(target: UpstreamTarget, up: boolean): void {
    target.up = up;
    target.lastChange = Date.now();
    if (up) {
      target.failures = 0;
      this.#log.info({ upstream: this.name, target: target.url }, 'upstream target back');
    }
  }

  #setReady(target: UpstreamTarget, ready: boolean): void {
    if (target.ready === ready || this.#closed) return;
    target.ready = ready;
    target.lastChange = Date.now();
    this.#log.info(
      { upstream: this.name, target: target.url },
      ready ? 'upstream target ready' : 'upstream target not ready; no new requests',
    );
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#readinessTimer);
    for (const target of this.targets) clearTimeout(target.probe);
    this.#abort.abort();
    await Promise.all([
      this.#checks.destroy().catch(() => undefined),
      ...this.targets.map((target) => target.dispatcher.close().catch(() => undefined)),
    ]);
  }
}
