/**
 * Typed readers for configuration from the environment. Blank means "use the default";
 * a value that is present but wrong is an error naming the variable and what it expects.
 * Every problem is collected so one start-up attempt reports all of them.
 */

export type Env = Readonly<Record<string, string | undefined>>;

export class ConfigError extends Error {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Exit status for a configuration problem (sysexits.h EX_CONFIG): supervisors should not restart. */
export const EXIT_CONFIG = 78;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export class EnvReader {
  readonly #env: Env;
  readonly #problems: string[] = [];

  constructor(env: Env) {
    this.#env = env;
  }

  get problems(): readonly string[] {
    return this.#problems;
  }

  #raw(name: string): string | undefined {
    const value = this.#env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  }

  /** Records a problem found by a check outside these readers; `shown` stands in for the value. */
  reject(name: string, expected: string, shown: string): void {
    this.#problems.push(`${name} must be ${expected}; got ${shown}`);
  }

  #fail<T>(name: string, expected: string, got: string | undefined, fallback: T): T {
    const shown = got === undefined ? 'it is not set' : `got ${JSON.stringify(got)}`;
    this.#problems.push(`${name} must be ${expected}; ${shown}`);
    return fallback;
  }

  string(name: string, fallback: string): string {
    return this.#raw(name) ?? fallback;
  }

  optionalString(name: string): string | undefined {
    return this.#raw(name);
  }

  requiredString(name: string, expected = 'set to a non-empty value'): string {
    const raw = this.#raw(name);
    return raw ?? this.#fail(name, expected, undefined, '');
  }

  integer(name: string, fallback: number, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}): number {
    const raw = this.#raw(name);
    if (raw === undefined) return fallback;
    const value = /^-?\d+$/.test(raw) ? Number(raw) : Number.NaN;
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      return this.#fail(name, `an integer from ${min} to ${max}`, raw, fallback);
    }
    return value;
  }

  port(name: string, fallback: number): number {
    const raw = this.#raw(name);
    if (raw === undefined) return fallback;
    const value = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
    if (!Number.isInteger(value) || value < 0 || value > 65535) {
      return this.#fail(name, 'a TCP port (an integer from 0 to 65535)', raw, fallback);
    }
    return value;
  }

  /** Milliseconds as a plain integer (`2000`) or with a unit (`2s`, `500ms`, `1m`). */
  duration(name: string, fallbackMs: number, { min = 0, max = 24 * 3600_000 } = {}): number {
    const raw = this.#raw(name);
    if (raw === undefined) return fallbackMs;
    const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(raw);
    const unit = match?.[2] ?? 'ms';
    const ms = match ? Math.round(Number(match[1]) * (unit === 'm' ? 60_000 : unit === 's' ? 1000 : 1)) : Number.NaN;
    if (!Number.isFinite(ms) || ms < min || ms > max) {
      return this.#fail(name, `a duration from ${min} to ${max} ms (like 2000, 2s or 500ms)`, raw, fallbackMs);
    }
    return ms;
  }

  boolean(name: string, fallback: boolean): boolean {
    const raw = this.#raw(name)?.toLowerCase();
    if (raw === undefined) return fallback;
    if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
    if (['0', 'false', 'no', 'off'].includes(raw)) return false;
    return this.#fail(name, 'true or false', raw, fallback);
  }

  oneOf<const T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const raw = this.#raw(name);
    if (raw === undefined) return fallback;
    if ((allowed as readonly string[]).includes(raw)) return raw as T;
    return this.#fail(name, `one of ${allowed.join(', ')}`, raw, fallback);
  }

  url(name: string, fallback: string, protocols: readonly string[] = ['http:', 'https:']): string {
    return this.#parseUrls(name, this.#raw(name) ?? fallback, protocols, false)[0] ?? fallback;
  }

  optionalUrl(name: string, protocols: readonly string[] = ['http:', 'https:']): string | undefined {
    const raw = this.#raw(name);
    if (raw === undefined) return undefined;
    return this.#parseUrls(name, raw, protocols, false)[0];
  }

  /** A comma-separated list of http(s) URLs, trailing slashes removed. */
  urlList(name: string, fallback: string, protocols: readonly string[] = ['http:', 'https:']): string[] {
    return this.#parseUrls(name, this.#raw(name) ?? fallback, protocols, true);
  }

  #parseUrls(name: string, raw: string, protocols: readonly string[], list: boolean): string[] {
    const parts = raw
      .split(',')
      .map((part) => part.trim())
      .filter(Boolean);
    const urls: string[] = [];
    for (const part of parts) {
      let parsed: URL | undefined;
      try {
        parsed = new URL(part);
      } catch {
        parsed = undefined;
      }
      if (!parsed || !protocols.includes(parsed.protocol) || !parsed.hostname) {
        const kind = protocols.map((p) => p.replace(':', '')).join(' or ');
        const expected = list ? `a comma-separated list of ${kind} URLs` : `a ${kind} URL`;
        return this.#fail(name, `${expected} (like ${protocols[0]}//host:port)`, withoutCredentials(raw), []);
      }
      urls.push(parsed.href.replace(/\/+$/, ''));
    }
    if (urls.length === 0 || (!list && urls.length > 1)) {
      return this.#fail(name, list ? 'at least one URL' : 'a single URL', withoutCredentials(raw), []);
    }
    return urls;
  }
}

/** What is shown of a bad URL: user and password (a Redis URL may carry one) replaced by `***`. */
function withoutCredentials(raw: string): string {
  return raw.replace(/\/\/[^/?#\s]*@/g, '//***@');
}

/** Settings every service shares, read from the same variables everywhere. */
export interface KitConfig {
  /** Service name used in logs and metrics. */
  name: string;
  host: string;
  port: number;
  logLevel: LogLevel;
  /** How long readiness reports 503 before the listener closes, so balancers stop sending. */
  drainDelayMs: number;
  /** Upper bound for in-flight requests and resources to finish once the listener closes. */
  shutdownTimeoutMs: number;
  /** Largest accepted request body in bytes. */
  bodyLimit: number;
}

export function readKitConfig(env: EnvReader, name: string, portVariable: string, defaultPort: number): KitConfig {
  return {
    name,
    host: env.string('HOST', '0.0.0.0'),
    port: env.port(portVariable, defaultPort),
    logLevel: env.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
    drainDelayMs: env.duration('DRAIN_DELAY_MS', 0, { max: 120_000 }),
    shutdownTimeoutMs: env.duration('SHUTDOWN_TIMEOUT_MS', 10_000, { min: 100, max: 600_000 }),
    bodyLimit: env.integer('BODY_LIMIT_BYTES', 64 * 1024, { min: 1024, max: 64 * 1024 * 1024 }),
  };
}

/**
 * The Redis to use: `REDIS_URL`, or else `REDIS_HOST` with `REDIS_PORT` (default 6379), as the
 * architecture allows both; undefined when neither is set.
 */
export function readRedisUrl(env: EnvReader): string | undefined {
  const url = env.optionalUrl('REDIS_URL', ['redis:', 'rediss:']);
  if (url !== undefined) return url;
  const host = env.optionalString('REDIS_HOST');
  const port = env.port('REDIS_PORT', 6379);
  // An IPv6 address needs brackets in a URL.
  return host === undefined ? undefined : `redis://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Signs and verifies tokens only outside production; a production start with it (or none) is refused. */
export const DEV_JWT_SECRET = 'titanium-dev-secret-not-for-production';
const MIN_PRODUCTION_SECRET_LENGTH = 32;

/**
 * `JWT_SECRET`, shared by the services that sign or verify tokens. Outside production a missing
 * secret falls back to DEV_JWT_SECRET; with NODE_ENV=production it must be set, must not be the
 * development default and must be at least 32 characters long.
 */
export function readJwtSecret(env: EnvReader): string {
  const production = env.string('NODE_ENV', 'development') === 'production';
  if (!production) return env.string('JWT_SECRET', DEV_JWT_SECRET);
  const expected = `a secret of at least ${MIN_PRODUCTION_SECRET_LENGTH} characters (other than the development default) when NODE_ENV=production`;
  const secret = env.requiredString('JWT_SECRET', expected);
  if (secret && (secret === DEV_JWT_SECRET || secret.length < MIN_PRODUCTION_SECRET_LENGTH)) {
    env.reject('JWT_SECRET', expected, '(hidden)');
  }
  return secret;
}

/**
 * Builds a typed configuration with `read` and throws one ConfigError listing every bad or
 * missing variable.
 */
export function loadConfig<T>(read: (env: EnvReader) => T, env: Env = process.env): T {
  const reader = new EnvReader(env);
  const config = read(reader);
  if (reader.problems.length > 0) throw new ConfigError(reader.problems);
  return config;
}

/**
 * Like loadConfig, but a bad value ends the process: one line per problem on stderr, exit 78.
 * For entry points only.
 */
export function loadConfigOrExit<T>(service: string, read: (env: EnvReader) => T, env: Env = process.env): T {
  try {
    return loadConfig(read, env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const problem of err.problems) process.stderr.write(`${service}: invalid configuration: ${problem}\n`);
    process.exit(EXIT_CONFIG);
  }
}
