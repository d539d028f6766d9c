import type { HistoryAnswer } from '@titanium/service-kit';
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

async function historyOf(base: string): Promise<HistoryAnswer> {
  const res = await fetch(`${base}/stats/history?range=1h`);
  if (res.status !== 200) throw new Error(`/stats/history answered ${res.status}`);
  return (await res.json()) as HistoryAnswer;
}

/** Counted requests in the series: each 10-second point's requests/s × 10. */
function requestsIn(answer: HistoryAnswer): number {
  return Math.round(answer.points.reduce((sum, point) => sum + point.requests_per_second * 10, 0));
}

describe('the history of two load-balancer processes on one Redis', () => {
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

  it('serves one series from both, and still has it after one is killed and started again', async () => {
    const send = async (base: string, n: number) => {
      for (let i = 0; i < n; i++) expect((await fetch(`${base}/api/items/${i}`)).status).toBe(200);
    };
    await Promise.all([send(a.url, 30), send(b.url, 20)]);

    // Once the slots holding the requests have closed, both answer the same cluster-wide series.
    await expect
      .poll(async () => [await historyOf(a.url), await historyOf(b.url)], { timeout: 20_000, interval: 500 })
      .toSatisfy(([fromA, fromB]) => requestsIn(fromA) === 50 && JSON.stringify(fromA) === JSON.stringify(fromB));
    const before = await historyOf(b.url);
    expect(before.scope).toBe('cluster');

    a.process.signal('SIGKILL');
    expect((await a.process.exited).signal).toBe('SIGKILL');
    a = await a.restart();

    await expect.poll(async () => (await historyOf(a.url)).scope, { timeout: 5_000 }).toBe('cluster');
    const after = await historyOf(a.url);
    expect(requestsIn(after)).toBe(50);
    for (const point of before.points) expect(after.points).toContainEqual(point);
  });
});
