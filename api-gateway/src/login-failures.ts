import { createHash } from 'node:crypto';
import type { OptionalRedis } from '@titanium/service-kit';

export interface LoginFailureLimits {
  /** Failed logins per username per window; the next attempt is answered 429. */
  max: number;
  /** Fixed window, from the first failure; attempts while locked do not extend it. */
  windowMs: number;
}

/** What a login attempt may do: go ahead (and later be settled), or wait `retryAfterMs`. */
export type Admission =
  | { allowed: true; settle(failed: boolean): Promise<void> }
  | { allowed: false; retryAfterMs: number };

const NAMESPACE = 'titanium:login-failures:';
/** Usernames counted in this process while Redis is away; the oldest are dropped beyond this. */
const LOCAL_KEYS = 10_000;

// Takes back an attempt that did not fail, unless its window has ended meanwhile (a DECR on a
// missing key would create one without an expiry).
const UNDO = "if redis.call('exists', KEYS[1]) == 1 then return redis.call('decr', KEYS[1]) end return 0";

/**
 * Failed logins per username, counted in Redis so every gateway instance shares them, and in
 * this process while Redis does not answer. Each attempt takes a place before it is sent to the
 * auth service and gives it back unless the answer was 401, so a burst of parallel guesses is
 * bounded as well as a sequence. The window starts at the first failure and is never extended,
 * so an attacker cannot lock a user out for longer than the window without going on spending
 * requests, each of which also counts against their address.
 */
export class LoginFailures {
  readonly #redis: OptionalRedis | undefined;
  readonly #limits: LoginFailureLimits;
  readonly #now: () => number;
  readonly #local = new Map<string, { count: number; resetAt: number }>();
  /** Attempts answered 429 since start. */
  limited = 0;

  constructor(redis: OptionalRedis | undefined, limits: LoginFailureLimits, now: () => number = Date.now) {
    this.#redis = redis;
    this.#limits = limits;
    this.#now = now;
  }

  async admit(username: string): Promise<Admission> {
    // Hashed: key names stay short and never hold what a client typed.
    const key = createHash('sha256').update(username).digest('hex');
    const shared = this.#redis?.healthy ? await this.#takeShared(key) : undefined;
    const taken = shared ?? this.#takeLocal(key);
    if (taken.count > this.#limits.max) {
      this.limited++;
      return { allowed: false, retryAfterMs: Math.max(1, taken.ttlMs) };
    }
    return {
      allowed: true,
      settle: async (failed) => {
        if (failed) return;
        if (shared) await this.#redis?.attempt((client) => client.eval(UNDO, 1, `${NAMESPACE}${key}`));
        else this.#undoLocal(key);
      },
    };
  }

  async #takeShared(key: string): Promise<{ count: number; ttlMs: number } | undefined> {
    const name = `${NAMESPACE}${key}`;
    const replies = await this.#redis?.attempt((client) =>
      client.multi().set(name, 0, 'PX', this.#limits.windowMs, 'NX').incr(name).pttl(name).exec(),
    );
    const count = replies?.[1]?.[1];
    const ttlMs = replies?.[2]?.[1];
    if (typeof count !== 'number' || typeof ttlMs !== 'number') return undefined;
    return { count, ttlMs: ttlMs < 0 ? this.#limits.windowMs : ttlMs };
  }

  #takeLocal(key: string): { count: number; ttlMs: number } {
    const now = this.#now();
    let entry = this.#local.get(key);
    if (!entry || entry.resetAt <= now) {
      this.#local.delete(key);
      if (this.#local.size >= LOCAL_KEYS) this.#local.delete(this.#local.keys().next().value as string);
      entry = { count: 0, resetAt: now + this.#limits.windowMs };
      this.#local.set(key, entry);
    }
    entry.count++;
    return { count: entry.count, ttlMs: entry.resetAt - now };
  }

  #undoLocal(key: string): void {
    const entry = this.#local.get(key);
    if (entry && entry.resetAt > this.#now() && entry.count > 0) entry.count--;
  }
}
