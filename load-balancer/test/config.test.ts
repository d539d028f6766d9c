import { loadConfig } from '@titanium/service-kit';
import { type FakeUpstream, type RedisServer, startFakeUpstream, startRedis } from '@titanium/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readConfig } from '../src/config.js';
import { getStats, type RunningLb, startLb } from './helpers.js';

describe('load balancer Redis settings', () => {
  it('takes REDIS_HOST and REDIS_PORT when REDIS_URL is not set, and REDIS_URL first', () => {
    const read = (env: Record<string, string>) => loadConfig(readConfig, env).redisUrl;
    expect(read({})).toBeUndefined();
    expect(read({ REDIS_HOST: 'redis' })).toBe('redis://redis:6379');
    expect(read({ REDIS_HOST: 'cache.internal', REDIS_PORT: '6380' })).toBe('redis://cache.internal:6380');
    expect(read({ REDIS_URL: 'redis://other:7000', REDIS_HOST: 'redis' })).toBe('redis://other:7000');
    expect(() => read({ REDIS_HOST: 'redis', REDIS_PORT: 'six' })).toThrow(/REDIS_PORT must be a TCP port/);
  });

  describe('given only REDIS_HOST and REDIS_PORT of a real Redis', () => {
    let redis: RedisServer;
    let upstream: FakeUpstream;
    let lb: RunningLb;

    beforeAll(async () => {
      redis = await startRedis();
      upstream = await startFakeUpstream('echo');
      const urls = ['API_GATEWAY_URL', 'DASHBOARD_UI_URL', 'AUTH_SERVICE_URL', 'USER_SERVICE_URL', 'BLOG_SERVICE_URL'];
      lb = await startLb({
        REDIS_HOST: '127.0.0.1',
        REDIS_PORT: String(redis.port),
        ...Object.fromEntries(urls.map((name) => [name, upstream.url])),
      });
    });

    afterAll(async () => {
      await lb?.app.close();
      await upstream?.close();
      await redis?.stop();
    });

    it('counts its traffic in Redis: /stats speaks for the cluster', async () => {
      for (let i = 0; i < 5; i++) expect((await fetch(`${lb.url}/api/items/${i}`)).status).toBe(200);
      await expect
        .poll(async () => (await getStats(lb.url))['load-balancer'], { timeout: 5_000, interval: 200 })
        .toMatchObject({ scope: 'cluster', instances: 1, total_requests: 5 });
    });
  });
});
