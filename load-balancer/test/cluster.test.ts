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

/**
 * How long a figure over the ten-second window still counts every request sent from `since`
 * (`Date.now()`) on: each one is counted whole for nine seconds at least, pro-rated after that.
 */
const windowLeft = (since: number) => Math.max(since + 9_000 - Date.now(), 0);

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
    const sentFrom = Date.now();
    await Promise.all([send(a.url, 30), send(b.url, 20)]);
    // Each instance publishes its closed seconds once a second; both must show the sum while the
    // requests are still inside the window, or requests_per_second no longer counts them all.
    const both = { scope: 'cluster', instances: 2, requests_per_second: 5, total_requests: 50 };
    await expect
      .poll(() => Promise.all([a, b].map(async (lb) => (await getStats(lb.url))['load-balancer'])), {
        timeout: windowLeft(sentFrom),
        interval: 200,
      })
      .toMatchObject([both, both]);
  });

  it('report the same routes and upstream targets, each summed over both', async () => {
    const send = async (base: string, path: string, n: number) => {
      for (let i = 0; i < n; i++) expect((await fetch(`${base}${path}${i}`)).status).toBe(200);
    };
    const sentFrom = Date.now();
    await Promise.all([
      send(a.url, '/api/posts/', 20),
      send(b.url, '/api/posts/', 10),
      send(b.url, '/api/users/u', 10),
    ]);
    const view = async (base: string) => {
      const block = (await getStats(base))['load-balancer'];
      return {
        routes: block.routes
          .filter(({ route }) => route !== 'other')
          .map(({ route, requests_per_second, status }) => ({ route, requests_per_second, status })),
        api: block.upstreams.api.map(({ url, state }) => ({ url, state })),
      };
    };
    // The earlier test's requests (under `other`) may still be in the window: these routes are new.
    const expected = {
      routes: [
        { route: 'GET /api/posts/:id', requests_per_second: 3, status: { '2xx': 30, '3xx': 0, '4xx': 0, '5xx': 0 } },
        {
          route: 'GET /api/users/:username',
          requests_per_second: 1,
          status: { '2xx': 10, '3xx': 0, '4xx': 0, '5xx': 0 },
        },
      ],
      api: [{ url: upstream.url, state: 'up' }],
    };
    await expect
      .poll(() => Promise.all([view(a.url), view(b.url)]), { timeout: windowLeft(sentFrom), interval: 200 })
      .toEqual([expected, expected]);
    // Both count every request either of them sent to the target.
    const requests = async (base: string) => (await getStats(base))['load-balancer'].upstreams.api[0]?.requests ?? 0;
    const [fromA, fromB] = [await requests(a.url), await requests(b.url)];
    expect(fromA).toBeGreaterThanOrEqual(40);
    expect(Math.abs(fromA - fromB)).toBeLessThanOrEqual(1);
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
