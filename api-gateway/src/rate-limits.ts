import fastifyJwt from '@fastify/jwt';
import fastifyRateLimit from '@fastify/rate-limit';
import type { GatewayFields, OptionalRedis } from '@titanium/service-kit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { RateLimits } from './config.js';
import type { LoginFailures } from './login-failures.js';
import { fallbackStore } from './rate-limit-store.js';
import { tokenUser } from './token-user.js';

declare module 'fastify' {
  interface FastifyInstance {
    rateLimitState: RateLimitState;
  }
}

export interface RateLimitState {
  /** Where counters live right now: shared in Redis, or in this process only. */
  store(): 'redis' | 'local';
  /** Requests answered 429 since start. */
  limited: number;
  /** Requests counted in this process because Redis did not answer. */
  fallbacks: number;
}

export interface RateLimitOptions {
  redis: OptionalRedis | undefined;
  jwtSecret: string;
  /** Reported beside the limits in `/stats`. */
  loginFailures: LoginFailures;
}

/** Route config for the per-IP limit on logins and registrations. */
export function authLimit(limits: RateLimits, bucket: string) {
  return { rateLimit: { max: limits.authMax, timeWindow: limits.windowMs, bucket, keyGenerator: byIp } };
}

function byIp(request: FastifyRequest): string {
  return `ip:${request.ip}`;
}

/**
 * Rate limits counted in Redis with a per-process fallback. Routes opt in with `authLimit()` or
 * `writeLimit()` in their config; a limited request gets 429 with Retry-After. Reported in
 * `/stats` as `rate_limit`.
 */
export const rateLimits = fp<RateLimitOptions>(
  async (app: FastifyInstance, { redis, jwtSecret, loginFailures }) => {
    const state: RateLimitState = {
      store: () => (redis?.healthy ? 'redis' : 'local'),
      limited: 0,
      fallbacks: 0,
    };
    app.decorate('rateLimitState', state);
    app.kit.stats.add(
      (): Pick<GatewayFields, 'rate_limit'> => ({
        rate_limit: {
          store: state.store(),
          limited: state.limited,
          counted_locally: state.fallbacks,
          login_failures_limited: loginFailures.limited,
        },
      }),
    );
    await app.register(fastifyJwt, { secret: jwtSecret, verify: { algorithms: ['HS256'] } });
    await app.register(fastifyRateLimit, {
      global: false,
      store: fallbackStore(redis, () => state.fallbacks++),
      addHeadersOnExceeding: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false },
      onExceeded: () => {
        state.limited++;
      },
      errorResponseBuilder: (_request, context) => {
        const seconds = Math.max(1, Math.ceil(context.ttl / 1000));
        return Object.assign(new Error(`Too many requests; try again in ${seconds} s`), { statusCode: 429 });
      },
    });
  },
  { name: 'gateway-rate-limits' },
);

/** Route config for the per-user limit on post writes; a request without a valid token counts against its IP. */
export function writeLimit(app: FastifyInstance, limits: RateLimits) {
  const byUser = (request: FastifyRequest): string => {
    // An invalid token is refused by blog-service; until then it counts against the IP.
    const user = tokenUser(app, request);
    return user ? `user:${user.user_id}` : byIp(request);
  };
  return { rateLimit: { max: limits.writeMax, timeWindow: limits.windowMs, bucket: 'writes', keyGenerator: byUser } };
}
