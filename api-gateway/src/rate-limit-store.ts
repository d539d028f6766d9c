import type { FastifyRateLimitStore } from '@fastify/rate-limit';
import type { OptionalRedis } from '@titanium/service-kit';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';

/** Counters kept in this process: at most this many keys per limiter, least recently used dropped. */
export const LOCAL_KEYS = 10_000;

export interface LimiterOptions {
  /** Redis keys are `<keyPrefix>:<key>`. */
  keyPrefix: string;
  /** Points per window; counts go on past it, so a caller sees how far over a key is. */
  points: number;
  /** Fixed window from a key's first point, never extended; counted in whole seconds, rounded up. */
  windowMs: number;
}

/** One point taken: the key's count in its window so far (this point included). */
export interface Taken {
  count: number;
  msBeforeNext: number;
  /** Gives the point back where it was taken, unless its window has ended meanwhile. */
  giveBack(): Promise<void>;
}

/**
 * A counter per key over a fixed window, kept in Redis while Redis answers, so every gateway
 * instance shares it, and in this process while it does not, so a Redis outage makes a limit
 * per-instance instead of turning it off or into errors. Nothing waits for an unhealthy Redis;
 * its own pings mark it healthy again, and counting goes back to it.
 */
export class FallbackLimiter {
  readonly #redis: OptionalRedis | undefined;
  readonly #shared: RateLimiterRedis | undefined;
  readonly #local: BoundedMemoryLimiter;
  readonly #onLocal: () => void;

  /** `onLocal` is told of each point counted in the process because a configured Redis did not answer. */
  constructor(redis: OptionalRedis | undefined, options: LimiterOptions, onLocal: () => void = () => {}) {
    const limits = {
      keyPrefix: options.keyPrefix,
      points: options.points,
      duration: Math.ceil(options.windowMs / 1000),
    };
    this.#redis = redis;
    this.#shared = redis && new RateLimiterRedis({ ...limits, storeClient: redis.client });
    this.#local = new BoundedMemoryLimiter(limits, LOCAL_KEYS);
    this.#onLocal = onLocal;
  }

  async take(key: string): Promise<Taken> {
    const startedAt = Date.now();
    const redis = this.#redis;
    const shared = this.#shared;
    // OptionalRedis.attempt rather than an insuranceLimiter: it marks Redis unhealthy on the first
    // failure, so later requests skip it at once, and it says where the point went.
    const inRedis = redis?.healthy && shared ? await redis.attempt(() => counted(shared.consume(key))) : undefined;
    if (redis && !inRedis) this.#onLocal();
    const res = inRedis ?? (await counted(this.#local.consume(key)));
    // Measured from before the point was sent, so this never ends after the window it was counted in.
    const endsAt = startedAt + res.msBeforeNext;
    return {
      count: res.consumedPoints,
      msBeforeNext: res.msBeforeNext,
      giveBack: async () => {
        if (Date.now() >= endsAt) return;
        if (!inRedis) await giveBack(this.#local, key);
        else if (redis && shared) await redis.attempt(() => giveBack(shared, key));
      },
    };
  }

  /** Keys counted in this process right now. */
  get localKeys(): number {
    return this.#local.size;
  }
}

/** A rejection for being over the limit still says how far over: resolve with it. */
function counted(consumed: Promise<RateLimiterRes>): Promise<RateLimiterRes> {
  return consumed.catch((err: unknown) => {
    if (err instanceof RateLimiterRes) return err;
    throw err;
  });
}

async function giveBack(limiter: RateLimiterRedis | BoundedMemoryLimiter, key: string): Promise<void> {
  const res = await limiter.reward(key);
  // A key that had gone (its window ended, or it was dropped) starts again below zero: back to zero.
  if (res.consumedPoints < 0) await limiter.penalty(key, -res.consumedPoints);
}

/** RateLimiterMemory keeps every key until its window ends; this keeps at most `maxKeys`. */
class BoundedMemoryLimiter {
  readonly #limiter: RateLimiterMemory;
  readonly #maxKeys: number;
  /** Keys in the limiter, least recently used first. */
  readonly #keys = new Set<string>();

  constructor(options: ConstructorParameters<typeof RateLimiterMemory>[0], maxKeys: number) {
    this.#limiter = new RateLimiterMemory(options);
    this.#maxKeys = maxKeys;
  }

  consume(key: string): Promise<RateLimiterRes> {
    this.#touch(key);
    return this.#limiter.consume(key);
  }

  reward(key: string): Promise<RateLimiterRes> {
    this.#touch(key);
    return this.#limiter.reward(key);
  }

  penalty(key: string, points: number): Promise<RateLimiterRes> {
    this.#touch(key);
    return this.#limiter.penalty(key, points);
  }

  get size(): number {
    return this.#limiter.dump().storage.length;
  }

  #touch(key: string): void {
    this.#keys.delete(key);
    this.#keys.add(key);
    if (this.#keys.size <= this.#maxKeys) return;
    const oldest = this.#keys.values().next().value as string;
    this.#keys.delete(oldest);
    void this.#limiter.delete(oldest);
  }
}

/**
 * A store for @fastify/rate-limit (its documented custom-store interface) on FallbackLimiter:
 * one limiter per `bucket` named in the route's rate-limit config, so routes naming the same
 * bucket share their counters, in Redis and in the process alike.
 */
export function fallbackStore(redis: OptionalRedis | undefined, onLocal: () => void) {
  const buckets = new Map<string, FallbackLimiter>();
  return class FallbackStore implements FastifyRateLimitStore {
    readonly #limiter: FallbackLimiter | undefined;

    constructor(_options: unknown, limiter?: FallbackLimiter) {
      this.#limiter = limiter;
    }

    incr(key: string, callback: (err: Error | null, result?: { current: number; ttl: number }) => void): void {
      if (!this.#limiter) {
        callback(new Error('rate limits are set per route, with a bucket'));
        return;
      }
      this.#limiter.take(key).then(
        (taken) => callback(null, { current: taken.count, ttl: taken.msBeforeNext }),
        (err: Error) => callback(err),
      );
    }

    child(routeOptions: object): FallbackStore {
      // @fastify/rate-limit hands over the route's rate-limit config merged with the plugin's.
      const { bucket, max, timeWindow } = routeOptions as { bucket?: unknown; max?: unknown; timeWindow?: unknown };
      if (typeof bucket !== 'string' || typeof max !== 'number' || typeof timeWindow !== 'number') {
        throw new Error('a rate-limited route needs a bucket name, a numeric max and a numeric timeWindow');
      }
      let limiter = buckets.get(bucket);
      if (!limiter) {
        limiter = new FallbackLimiter(
          redis,
          { keyPrefix: `titanium:rate-limit:${bucket}`, points: max, windowMs: timeWindow },
          onLocal,
        );
        buckets.set(bucket, limiter);
      }
      return new FallbackStore(undefined, limiter);
    }
  };
}
