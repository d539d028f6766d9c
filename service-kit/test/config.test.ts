import { describe, expect, it } from 'vitest';
import { ConfigError, DEV_JWT_SECRET, loadConfig, readJwtSecret, readKitConfig } from '../src/config.js';

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
      try {
        loadConfig(readJwtSecret, { NODE_ENV: 'production', JWT_SECRET });
        expect.unreachable();
      } catch (err) {
        const [problem] = (err as ConfigError).problems;
        expect(problem).toMatch(/^JWT_SECRET must be a secret of at least 32 characters/);
        if (JWT_SECRET) expect(problem).not.toContain(JWT_SECRET);
      }
    }
  });
});
