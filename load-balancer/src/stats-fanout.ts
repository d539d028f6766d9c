import { classifyFailure, errorCode, type UpstreamPool } from '@titanium/service-kit';
import { Agent, request } from 'undici';

export interface StatsSource {
  /** Key in the combined answer, and the key the service wraps its block in. */
  key: string;
  pool: UpstreamPool;
}

type Block = Record<string, unknown>;

function isObject(value: unknown): value is Block {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Gathers every service's `/stats` in parallel, each bounded by the timeout, and unwraps
 * `{"<key>": {...}}`. A service that fails, errors or is late is `{service_status: "offline", error}`.
 * Concurrent callers share one round of requests.
 */
export class StatsFanout {
  readonly #sources: readonly StatsSource[];
  readonly #timeoutMs: number;
  readonly #agent = new Agent({ keepAliveTimeout: 10_000, connections: 4 });
  #inFlight: Promise<Record<string, Block>> | undefined;

  constructor(sources: readonly StatsSource[], timeoutMs: number) {
    this.#sources = sources;
    this.#timeoutMs = timeoutMs;
  }

  collect(): Promise<Record<string, Block>> {
    if (!this.#inFlight) {
      this.#inFlight = this.#collect().finally(() => {
        this.#inFlight = undefined;
      });
    }
    return this.#inFlight;
  }

  async #collect(): Promise<Record<string, Block>> {
    const blocks = await Promise.all(this.#sources.map((source) => this.#fetch(source)));
    const result: Record<string, Block> = {};
    this.#sources.forEach((source, i) => {
      result[source.key] = blocks[i] as Block;
    });
    return result;
  }

  async #fetch({ key, pool }: StatsSource): Promise<Block> {
    const target = pool.pick();
    if (!target) return offline(`no reachable ${pool.name} target`);
    try {
      const res = await request(`${target.url}/stats`, {
        dispatcher: this.#agent,
        signal: AbortSignal.timeout(this.#timeoutMs),
        headers: { accept: 'application/json' },
      });
      if (res.statusCode !== 200) {
        await res.body.dump();
        return offline(`HTTP ${res.statusCode}`);
      }
      const body: unknown = await res.body.json();
      pool.succeeded(target);
      if (!isObject(body)) return offline('answer is not a JSON object');
      const inner = body[key];
      if (isObject(inner)) return inner;
      const values = Object.values(body);
      return values.length === 1 && isObject(values[0]) ? values[0] : body;
    } catch (err) {
      const error = err as Error;
      if (error.name === 'TimeoutError' || error.name === 'AbortError') {
        return offline(`no answer within ${this.#timeoutMs} ms`);
      }
      if (classifyFailure(error) === 'connection') pool.failed(target, error);
      const code = errorCode(error);
      return offline(code ? `${code}: ${error.message}` : error.message);
    }
  }

  async close(): Promise<void> {
    await this.#agent.close().catch(() => undefined);
  }
}

function offline(error: string): Block {
  return { service_status: 'offline', error };
}
