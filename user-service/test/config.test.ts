import { loadConfig } from '@titanium/service-kit';
import { describe, expect, it } from 'vitest';
import { readConfig } from '../src/config.js';

describe('user-service configuration', () => {
  it('uses /data/users.db, no Redis, a 200 ms Redis timeout and a 300 s cache by default', () => {
    const config = loadConfig(readConfig, {});
    expect(config.database.path).toBe('/data/users.db');
    expect(config.cache).toEqual({ redisUrl: undefined, commandTimeoutMs: 200, ttlSeconds: 300 });
  });

  it('takes Redis from REDIS_URL, or else from REDIS_HOST and REDIS_PORT', () => {
    expect(loadConfig(readConfig, { REDIS_URL: 'redis://cache:6380' }).cache.redisUrl).toBe('redis://cache:6380');
    expect(loadConfig(readConfig, { REDIS_HOST: 'redis' }).cache.redisUrl).toBe('redis://redis:6379');
    expect(loadConfig(readConfig, { REDIS_HOST: 'redis', REDIS_PORT: '7000' }).cache.redisUrl).toBe(
      'redis://redis:7000',
    );
  });

  it('names every bad value', () => {
    expect(() =>
      loadConfig(readConfig, { REDIS_URL: 'http://x', USER_CACHE_TTL_SECONDS: '0', REDIS_COMMAND_TIMEOUT_MS: 'x' }),
    ).toThrow(/REDIS_URL[\s\S]*REDIS_COMMAND_TIMEOUT_MS[\s\S]*USER_CACHE_TTL_SECONDS/);
  });
});
