import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import type { ServiceStatus } from './stats-contract.js';

export type StatsFields = Record<string, unknown>;
export type StatsCollector = () => object | Promise<object>;
export type DependencyCheck = () => boolean;
export type ReadinessCheck = () => boolean | Promise<boolean>;

function requireFunction(what: string, value: unknown): void {
  if (typeof value !== 'function') throw new Error(`${what} must be a function; got ${typeof value}`);
}

function requireNewName(what: string, name: unknown, taken: ReadonlyMap<string, unknown>): asserts name is string {
  if (typeof name !== 'string' || name === '') throw new Error(`${what} needs a name; got ${JSON.stringify(name)}`);
  if (taken.has(name)) throw new Error(`${what} "${name}" is registered twice`);
}

/** The fields the parts of a service add to its `/stats` block, in the order they were added. */
export class StatsRegistry {
  readonly #collectors: StatsCollector[] = [];

  /** `collect` is called on every `GET /stats`; its fields are merged into the block. */
  add(collect: StatsCollector): void {
    requireFunction('a /stats collector', collect);
    this.#collectors.push(collect);
  }

  async collect(): Promise<StatsFields> {
    const parts = await Promise.all(this.#collectors.map((collect) => collect()));
    return Object.assign({}, ...parts);
  }
}

/** A response as the kit saw it end: answered, or cut short by the client (`aborted`, 499). */
export interface FinishedResponse {
  request: FastifyRequest;
  reply: FastifyReply;
  /** The matched route's template (`/api/posts/:id`), undefined when none matched. */
  route: string | undefined;
  statusCode: number;
  elapsedMs: number;
  aborted: boolean;
}

export type ResponseObserver = (response: FinishedResponse) => void;

/**
 * Parts that want to know of every response once it is over (the gateway's API-call log), told
 * by the one `close` listener the kit has on each response anyway. An observer that throws is
 * logged and the others still run.
 */
export class ResponseObservers {
  readonly #observers: ResponseObserver[] = [];

  add(observe: ResponseObserver): void {
    requireFunction('a response observer', observe);
    this.#observers.push(observe);
  }

  get size(): number {
    return this.#observers.length;
  }

  notify(response: FinishedResponse, log: FastifyBaseLogger): void {
    for (const observe of this.#observers) {
      try {
        observe(response);
      } catch (err) {
        log.error({ err }, 'a response observer failed');
      }
    }
  }
}

/** What `service_status` depends on: `degraded` while any dependency reports itself unhealthy. */
export class StatusRegistry {
  readonly #dependencies = new Map<string, DependencyCheck>();

  /** `healthy` is asked on every `GET /stats`, after the fields are collected; a throw counts as unhealthy. */
  dependsOn(name: string, healthy: DependencyCheck): void {
    requireNewName('a service_status dependency', name, this.#dependencies);
    requireFunction(`the service_status dependency "${name}"`, healthy);
    this.#dependencies.set(name, healthy);
  }

  current(): ServiceStatus {
    for (const healthy of this.#dependencies.values()) {
      let ok: boolean;
      try {
        ok = healthy();
      } catch {
        ok = false;
      }
      if (!ok) return 'degraded';
    }
    return 'online';
  }
}

/** The named checks that must all pass for `/ready` to answer 200 once the service has started. */
export class ReadinessRegistry {
  readonly #checks = new Map<string, ReadinessCheck>();

  /** A check that throws or rejects counts as failed. */
  add(name: string, check: ReadinessCheck): void {
    requireNewName('a readiness check', name, this.#checks);
    requireFunction(`the readiness check "${name}"`, check);
    this.#checks.set(name, check);
  }

  async run(): Promise<{ ready: boolean; checks: Record<string, boolean> }> {
    const checks: Record<string, boolean> = {};
    let ready = true;
    for (const [name, check] of this.#checks) {
      const passed = await Promise.resolve()
        .then(check)
        .catch(() => false);
      checks[name] = passed;
      ready &&= passed;
    }
    return { ready, checks };
  }
}
