import { setTimeout as sleep } from 'node:timers/promises';
import {
  type FakeUpstreamProcess,
  fakeUpstreamProcess,
  type RedisServer,
  type RunningService,
  startRedis,
  startService,
  stopAllProcesses,
} from '@titanium/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getStats } from './helpers.js';

describe('two load-balancer instances sharing Redis', () => {
  let redis: RedisServer;
  let upstream: FakeUpstreamProcess;
  let a: RunningService;
  let b: RunningService;

  beforeAll(async () => {
    redis = await startRedis();
    upstream = await fakeUpstreamProcess('api-gateway');
    const env = {
      REDIS_URL: redis.url,
      API_GATEWAY_URL: upstream.url,
      DASHBOARD_UI_URL: upstream.url,
      AUTH_SERVICE_URL: upstream.url,
      USER_SERVICE_URL: upstream.url,
      BLOG_SERVICE_URL: upstream.url,
    };
    [a, b] = await Promise.all([
      startService('load-balancer', { ...env, LB_INSTANCE_ID: 'lb-a' }),
      startService('load-balancer', { ...env, LB_INSTANCE_ID: 'lb-b' }),
    ]);
  });

  afterAll(async () => {
    await stopAllProcesses();
  });

  it('sums the requests sent to both in either instance’s /stats', async () => {
    const send = async (base: string, n: number) => {
      for (let i = 0; i < n; i++) expect((await fetch(`${base}/api/items/${i}`)).status).toBe(200);
    };
    await Promise.all([send(a.url, 30), send(b.url, 20)]);
    for (const lb of [a, b]) {
      await expect
        .poll(async () => (await getStats(lb.url))['load-balancer'], { timeout: 5_000, interval: 200 })
        .toMatchObject({ scope: 'cluster', instances: 2, requests_per_second: 5, total_requests: 50 });
    }
  });

  it('falls back to its own numbers while Redis is down, and keeps answering', async () => {
    redis.freeze();
    try {
      // Answers are shared for the rest of the second they were made in: the next one is made after the freeze.
      await sleep(1_000);
      const started = performance.now();
      const block = (await getStats(a.url))['load-balancer'];
      expect(performance.now() - started).toBeLessThan(2_200);
      expect(block).toMatchObject({ scope: 'instance', instances: 1 });
      expect(block.total_requests).toBeGreaterThanOrEqual(30);
      expect((await fetch(`${a.url}/api/items/x`)).status).toBe(200);
    } finally {
      redis.resume();
    }
    await expect.poll(async () => (await getStats(a.url))['load-balancer'].scope, { timeout: 5_000 }).toBe('cluster');
  });
});
