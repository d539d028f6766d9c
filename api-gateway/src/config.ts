import proxyAddr from '@fastify/proxy-addr';
import {
  type EnvReader,
  type KitConfig,
  type MessagingConfig,
  portSetting,
  readJwtSecret,
  readKitConfig,
  readMessagingConfig,
  readRedisUrl,
  urlSetting,
} from '@titanium/service-kit';
import type { LoginFailureLimits } from './login-failures.js';

export type UpstreamName = 'auth' | 'user' | 'blog';

export interface UpstreamTimeouts {
  /** Opening a TCP connection to an upstream. */
  connectMs: number;
  /** From sending a request until the upstream's response headers arrive (504 after that). */
  headersMs: number;
  /** Longest pause between two chunks of an upstream's response body. */
  bodyMs: number;
  /** How long an idle kept-alive upstream connection stays in the pool. */
  idleMs: number;
}

export interface ServerTimeouts {
  /** A client must send its request headers within this time. */
  headersMs: number;
  /** A client must send its whole request within this time. */
  requestMs: number;
  /** An idle kept-alive client connection is closed after this time. */
  keepAliveMs: number;
  /** How often the server checks the two limits above; a limit bites up to this much late. */
  checkIntervalMs: number;
}

export interface RateLimits {
  windowMs: number;
  /** Logins and registrations per client IP per window (each counted on its own). */
  authMax: number;
  /** POST, PATCH and DELETE on /api/posts per user (or per IP without a valid token) per window. */
  writeMax: number;
  /** Failed logins per username, whatever address they come from. */
  loginFailures: LoginFailureLimits;
}

export interface Config {
  kit: KitConfig;
  upstreams: Record<UpstreamName, string>;
  upstreamTimeouts: UpstreamTimeouts;
  serverTimeouts: ServerTimeouts;
  /** Proxies in front of the gateway whose X-Forwarded-For entries are believed (1: the load balancer). */
  trustedProxyHops: number;
  /** Where such a proxy may connect from; a peer elsewhere is a client, whatever it sends. */
  trustedProxyAddresses: string[];
  redisUrl: string | undefined;
  rateLimits: RateLimits;
  jwtSecret: string;
  /** Where the API-call events go. */
  messaging: MessagingConfig;
}

/** The load balancer runs beside the gateway: on the host, or on the cluster's private network. */
const DEFAULT_PROXY_ADDRESSES = 'loopback,linklocal,uniquelocal';

function readProxyAddresses(env: EnvReader): string[] {
  const raw = env.string('TRUSTED_PROXY_ADDRESSES', DEFAULT_PROXY_ADDRESSES);
  const list = raw
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);
  try {
    proxyAddr.compile(list);
  } catch {
    env.reject(
      'TRUSTED_PROXY_ADDRESSES',
      'a comma-separated list of IP addresses, CIDR ranges, loopback, linklocal or uniquelocal',
      JSON.stringify(raw),
    );
  }
  return list;
}

export function readConfig(env: EnvReader): Config {
  const serverTimeouts: ServerTimeouts = {
    headersMs: env.duration('SERVER_HEADERS_TIMEOUT_MS', 2000, { min: 100, max: 600_000 }),
    requestMs: env.duration('SERVER_REQUEST_TIMEOUT_MS', 10_000, { min: 100, max: 3_600_000 }),
    keepAliveMs: env.duration('SERVER_KEEPALIVE_TIMEOUT_MS', 60_000, { min: 100, max: 3_600_000 }),
    checkIntervalMs: env.duration('SERVER_TIMEOUT_CHECK_INTERVAL_MS', 500, { min: 10, max: 60_000 }),
  };
  if (serverTimeouts.headersMs > serverTimeouts.requestMs) {
    env.reject(
      'SERVER_HEADERS_TIMEOUT_MS',
      `at most SERVER_REQUEST_TIMEOUT_MS (${serverTimeouts.requestMs} ms)`,
      String(serverTimeouts.headersMs),
    );
  }
  const redisUrl = readRedisUrl(env);
  return {
    kit: readKitConfig(env, 'api-gateway', ...portSetting('api-gateway')),
    upstreams: {
      auth: env.url(...urlSetting('auth-service')),
      user: env.url(...urlSetting('user-service')),
      blog: env.url(...urlSetting('blog-service')),
    },
    upstreamTimeouts: {
      connectMs: env.duration('UPSTREAM_CONNECT_TIMEOUT_MS', 1000, { min: 10, max: 60_000 }),
      headersMs: env.duration('UPSTREAM_HEADERS_TIMEOUT_MS', 2000, { min: 10, max: 600_000 }),
      bodyMs: env.duration('UPSTREAM_BODY_TIMEOUT_MS', 10_000, { min: 10, max: 600_000 }),
      idleMs: env.duration('UPSTREAM_IDLE_TIMEOUT_MS', 30_000, { min: 100, max: 3_600_000 }),
    },
    serverTimeouts,
    trustedProxyHops: env.integer('TRUSTED_PROXY_HOPS', 1, { min: 0, max: 10 }),
    trustedProxyAddresses: readProxyAddresses(env),
    redisUrl,
    rateLimits: {
      windowMs: env.duration('RATE_LIMIT_WINDOW_MS', 60_000, { min: 100, max: 24 * 3600_000 }),
      authMax: env.integer('RATE_LIMIT_AUTH_MAX', 30, { min: 1, max: 1_000_000 }),
      writeMax: env.integer('RATE_LIMIT_WRITE_MAX', 1200, { min: 1, max: 1_000_000 }),
      loginFailures: {
        max: env.integer('RATE_LIMIT_LOGIN_FAILURES_MAX', 10, { min: 1, max: 1_000_000 }),
        windowMs: env.duration('RATE_LIMIT_LOGIN_FAILURES_WINDOW_MS', 15 * 60_000, { min: 100, max: 24 * 3600_000 }),
      },
    },
    jwtSecret: readJwtSecret(env),
    messaging: readMessagingConfig(env, redisUrl),
  };
}
