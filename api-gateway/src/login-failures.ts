import { createHash } from 'node:crypto';
import type { OptionalRedis } from '@titanium/service-kit';
import { FallbackLimiter } from './rate-limit-store.js';

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

/**
 * Failed logins per username, counted in Redis so every gateway instance shares them, and in
 * this process while Redis does not answer. Each attempt takes a place before it is sent to the
 * auth service and gives it back unless the answer was 401, so a burst of parallel guesses is
 * bounded as well as a sequence. The window starts at the first failure and is never extended,
 * so an attacker cannot lock a user out for longer than the window without going on spending
 * requests, each of which also counts against their address.
 */
export class LoginFailures {
  readonly #counter: FallbackLimiter;
  readonly #max: number;
  /** Attempts answered 429 since start. */
  limited = 0;

  constructor(redis: OptionalRedis | undefined, limits: LoginFailureLimits) {
    this.#max = limits.max;
    this.#counter = new FallbackLimiter(redis, {
      keyPrefix: 'titanium:login-failures',
      points: limits.max,
      windowMs: limits.windowMs,
    });
  }

  async admit(username: string): Promise<Admission> {
    // Hashed: key names stay short and never hold what a client typed.
    const key = createHash('sha256').update(username).digest('hex');
    const taken = await this.#counter.take(key);
    if (taken.count > this.#max) {
      this.limited++;
      return { allowed: false, retryAfterMs: Math.max(1, taken.msBeforeNext) };
    }
    return { allowed: true, settle: (failed) => (failed ? Promise.resolve() : taken.giveBack()) };
  }
}
