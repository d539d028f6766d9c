import type { FastifyBaseLogger } from 'fastify';
import { Redis } from 'ioredis';

export interface RedisOptions {
  /** Longest any command may take before it fails; a frozen Redis must never hang a request. */
  commandTimeoutMs?: number;
  /** How often health is checked with PING while nothing else talks to Redis. */
  pingIntervalMs?: number;
}

/**
 * A Redis connection for caches and counters, where Redis is optional: commands fail fast
 * (no offline queue, short timeouts) while it is down or frozen, it reconnects by itself, and
 * `healthy` says whether the last exchange worked. Log lines come on changes of state only.
 */
export class OptionalRedis {
  readonly client: Redis;
  // Undefined until the first connection attempt has succeeded or failed, so both are logged.
  #healthy: boolean | undefined;
  #closed = false;
  readonly #log: FastifyBaseLogger;
  readonly #ping: NodeJS.Timeout;
  readonly #commandTimeoutMs: number;

  constructor(
    url: string,
    log: FastifyBaseLogger,
    { commandTimeoutMs = 200, pingIntervalMs = 1000 }: RedisOptions = {},
  ) {
    this.#log = log;
    this.#commandTimeoutMs = commandTimeoutMs;
    this.client = new Redis(url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: commandTimeoutMs,
      connectTimeout: Math.max(500, commandTimeoutMs * 5),
      // Keep trying for ever, at most every 2 s.
      retryStrategy: (attempt) => Math.min(100 * 2 ** attempt, 2000),
      lazyConnect: false,
    });
    this.client.on('ready', () => this.#mark(true));
    this.client.on('error', (err) => this.#mark(false, err));
    this.client.on('close', () => this.#mark(false));
    this.#ping = setInterval(() => void this.check(), pingIntervalMs);
    this.#ping.unref();
  }

  get healthy(): boolean {
    return this.#healthy === true;
  }

  /** Runs `command`; on any failure marks Redis unhealthy and returns undefined instead of throwing. */
  async attempt<T>(command: (client: Redis) => Promise<T>): Promise<T | undefined> {
    if (this.#closed || this.client.status !== 'ready') {
      this.#mark(false);
      return undefined;
    }
    try {
      const result = await command(this.client);
      this.#mark(true);
      return result;
    } catch (err) {
      this.#mark(false, err as Error);
      return undefined;
    }
  }

  /** PINGs Redis and returns whether it answered within the command timeout. */
  async check(): Promise<boolean> {
    return (await this.attempt((client) => client.ping())) === 'PONG';
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#ping);
    await this.client.quit().catch(() => this.client.disconnect());
  }

  #mark(healthy: boolean, err?: Error): void {
    if (healthy === this.#healthy || this.#closed) return;
    this.#healthy = healthy;
    if (healthy) this.#log.info('redis available');
    else
      this.#log.warn(
        { err: err?.message, commandTimeoutMs: this.#commandTimeoutMs },
        'redis unavailable; carrying on without it',
      );
  }
}
