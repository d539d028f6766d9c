import LocalStore from '@fastify/rate-limit/store/LocalStore.js';
import RedisStore from '@fastify/rate-limit/store/RedisStore.js';
import type { OptionalRedis } from '@titanium/service-kit';

type Result = { current: number; ttl: number };
type Callback = (err: Error | null, result: Result) => void;

/** Counters that are not kept in Redis: at most this many keys per bucket, least recently used dropped. */
const LOCAL_KEYS = 10_000;
const NAMESPACE = 'titanium:rate-limit:';

/**
 * A store for @fastify/rate-limit that counts in Redis while Redis answers, so every gateway
 * instance shares one limit, and in this process's memory while it does not, so a Redis outage
 * makes the limit per-instance instead of turning it off or into errors.
 */
export function fallbackStore(redis: OptionalRedis | undefined, onFallback: () => void) {
  return class FallbackStore {
    readonly #redis: InstanceType<typeof RedisStore> | undefined;
    readonly #local: InstanceType<typeof LocalStore>;

    constructor(_params: unknown, bucket = 'global') {
      this.#redis = redis && new RedisStore(false, false, redis.client, `${NAMESPACE}${bucket}:`);
      this.#local = new LocalStore(false, false, LOCAL_KEYS);
    }

    incr(key: string, callback: Callback, timeWindow: number, max: number): void {
      const local = () => this.#local.incr(key, callback, timeWindow, max);
      const inProcess = () => {
        onFallback();
        local();
      };
      const shared = this.#redis;
      if (!redis || !shared) {
        local();
      } else if (!redis.healthy) {
        // Nothing waits for an unhealthy Redis; its own pings mark it healthy again.
        inProcess();
      } else {
        void redis
          .attempt(
            () =>
              new Promise<Result>((resolve, reject) => {
                shared.incr(key, (err, result) => (err ? reject(err) : resolve(result)), timeWindow, max);
              }),
          )
          .then((result) => (result ? callback(null, result) : inProcess()));
      }
    }

    /** One store per limited route; routes naming the same `bucket` share their counters. */
    child(routeOptions: object) {
      const { bucket, routeInfo } = routeOptions as { bucket?: string; routeInfo?: { method: unknown; url: string } };
      return new FallbackStore(undefined, bucket ?? `${routeInfo?.method}${routeInfo?.url}`);
    }
  };
}
