import { describe, expect, it } from 'vitest';
import { ConfigError, DEV_JWT_SECRET, loadConfig, readJwtSecret, readKitConfig, readRedisUrl } from '../src/config.js';

describe('env readers', () => {
  it('use defaults for unset and blank variables', () => {
    const config = loadConfig((env) => readKitConfig(env, 'svc', 'SVC_PORT', 8001), { SVC_PORT: '  ', LOG_LEVEL: '' });
    expect(config).toEqual({
      name: 'svc',
      host: '0.0.0.0',
      port: 8001,
      logLevel: 'info',
      drainDelayMs: 0,
      shutdownTimeoutMs: 10_000,
      bodyLimit: 65_536,
    });
  });

  it('read durations with or without a unit', () => {
    const read = (value: string) => loadConfig((env) => env.duration('TIMEOUT', 1), { TIMEOUT: value });
    expect(read('2000')).toBe(2000);
    expect(read('2s')).toBe(2000);
    expect(read('1.5s')).toBe(1500);
    expect(read('250ms')).toBe(250);
    expect(read('1m')).toBe(60_000);
  });

  it('read comma-separated URL lists without trailing slashes', () => {
    const urls = loadConfig((env) => env.urlList('API_GATEWAY_URL', 'http://localhost:8000'), {
      API_GATEWAY_URL: 'http://gw-a:8000/, http://gw-b:8000',
    });
    expect(urls).toEqual(['http://gw-a:8000', 'http://gw-b:8000']);
    expect(loadConfig((env) => env.urlList('X', 'http://localhost:8000/'), {})).toEqual(['http://localhost:8000']);
  });

  it('report every bad variable at once, naming each and what it expects', () => {
    const attempt = () =>
      loadConfig(
        (env) => ({
          port: env.port('LB_PORT', 7100),
          flag: env.boolean('VERBOSE', false),
          url: env.urlList('USER_SERVICE_URL', 'http://localhost:8001'),
          redis: env.optionalUrl('REDIS_URL', ['redis:']),
          secret: env.requiredString('JWT_SECRET'),
          level: env.oneOf('LOG_LEVEL', ['info', 'debug'], 'info'),
          limit: env.integer('BODY_LIMIT_BYTES', 10, { min: 1, max: 100 }),
        }),
        {
          LB_PORT: '71oo',
          VERBOSE: 'maybe',
          USER_SERVICE_URL: 'user-service:8001',
          REDIS_URL: 'http://redis:6379',
          LOG_LEVEL: 'chatty',
          BODY_LIMIT_BYTES: '1e3',
        },
      );
    expect(attempt).toThrow(ConfigError);
    try {
      attempt();
    } catch (err) {
      expect((err as ConfigError).problems).toEqual([
        'LB_PORT must be a TCP port (an integer from 0 to 65535); got "71oo"',
        'VERBOSE must be true or false; got "maybe"',
        'USER_SERVICE_URL must be a comma-separated list of http or https URLs (like http://host:port); got "user-service:8001"',
        'REDIS_URL must be a redis URL (like redis://host:port); got "http://redis:6379"',
        'JWT_SECRET must be set to a non-empty value; it is not set',
        'LOG_LEVEL must be one of info, debug; got "chatty"',
        'BODY_LIMIT_BYTES must be an integer from 1 to 100; got "1e3"',
      ]);
    }
  });
});

describe('JWT secret', () => {
  it('falls back to the development secret outside production', () => {
    expect(loadConfig(readJwtSecret, {})).toBe(DEV_JWT_SECRET);
    expect(loadConfig(readJwtSecret, { JWT_SECRET: 'local' })).toBe('local');
  });

  it('is required, strong and not the development default in production, and never echoed', () => {
    const strong = 's'.repeat(32);
    expect(loadConfig(readJwtSecret, { NODE_ENV: 'production', JWT_SECRET: strong })).toBe(strong);
    for (const JWT_SECRET of [undefined, DEV_JWT_SECRET, 'short-secret']) {
      const attempt = () => loadConfig(readJwtSecret, { NODE_ENV: 'production', JWT_SECRET });
      expect(attempt, `JWT_SECRET=${JWT_SECRET} is refused with a ConfigError`).toThrow(ConfigError);
      expect(attempt).toThrow(
        expect.objectContaining({
          problems: [expect.stringMatching(/^JWT_SECRET must be a secret of at least 32 characters/)],
        }),
      );
      if (JWT_SECRET) {
        expect(attempt).toThrow(expect.objectContaining({ message: expect.not.stringContaining(JWT_SECRET) }));
      }
    }
  });
});

describe('the Redis reader', () => {
  const read = (env: Record<string, string>) => loadConfig(readRedisUrl, env);

  it('is undefined when neither REDIS_URL nor REDIS_HOST is set (blank counts as unset)', () => {
    expect(read({})).toBeUndefined();
    expect(read({ REDIS_URL: ' ', REDIS_HOST: '', REDIS_PORT: '6380' })).toBeUndefined();
  });

  it('builds the URL from REDIS_HOST and REDIS_PORT (default 6379), bracketing an IPv6 address', () => {
    expect(read({ REDIS_HOST: 'redis' })).toBe('redis://redis:6379');
    expect(read({ REDIS_HOST: '10.0.0.7', REDIS_PORT: '6380' })).toBe('redis://10.0.0.7:6380');
    expect(read({ REDIS_HOST: '::1', REDIS_PORT: '6381' })).toBe('redis://[::1]:6381');
  });

  it('prefers REDIS_URL over REDIS_HOST', () => {
    expect(read({ REDIS_URL: 'rediss://cache:6390', REDIS_HOST: 'redis' })).toBe('rediss://cache:6390');
  });

  it('refuses a bad REDIS_URL or REDIS_PORT, naming it, without showing a password', () => {
    expect(() => read({ REDIS_URL: 'http://user:hunter2@cache:6379' })).toThrow(ConfigError);
    let problems: readonly string[] = [];
    try {
      read({ REDIS_URL: 'http://user:hunter2@cache:6379', REDIS_HOST: 'redis', REDIS_PORT: '70000' });
    } catch (err) {
      problems = (err as ConfigError).problems;
    }
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^REDIS_URL must be/);
    expect(problems[1]).toMatch(/^REDIS_PORT must be a TCP port/);
    expect(problems.join('\n')).not.toContain('hunter2');
  });
});
