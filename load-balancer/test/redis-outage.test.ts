import { setTimeout as sleep } from 'node:timers/promises';
import { summarize } from '@titanium/dashboard-ui/status';
import { steadyLoad, stopAllProcesses, tokenFor } from '@titanium/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTopology, TOPOLOGY_START_MS, type Topology } from './topology.js';

const WRITE_LIMIT = 3;

interface Seen {
  cache: string;
  scope: string;
  rateLimitStore: string;
}

describe('Redis stopped and restarted under load', () => {
  let stack: Topology;

  beforeAll(async () => {
    stack = await startTopology({ redis: true, gatewayEnv: { RATE_LIMIT_WRITE_MAX: String(WRITE_LIMIT) } });
    const res = await fetch(`${stack.lb.url}/api/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'cached', email: 'cached@example.com', password: 'correct horse' }),
    });
    expect(res.status).toBe(201);
  }, TOPOLOGY_START_MS);

  afterAll(async () => {
    await (stack ? stack.close() : stopAllProcesses());
  });

  /** What the dashboard shows for the cache, the load balancer's scope and the gateway's rate-limit store. */
  async function seen(): Promise<Seen> {
    const stats = await stack.stats();
    const gateway = stats['api-gateway'] as { rate_limit?: { store?: string } } | undefined;
    return {
      cache: summarize(stats).cache,
      scope: stats['load-balancer'].scope,
      rateLimitStore: gateway?.rate_limit?.store ?? 'none',
    };
  }

  function write(title: string): Promise<Response> {
    return fetch(`${stack.lb.url}/api/posts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tokenFor(42, 'writer')}` },
      body: JSON.stringify({ title, content: 'written while Redis comes and goes' }),
    });
  }

  it('fails no user request, limits per process while Redis is away, and goes back to shared state by itself', async () => {
    const redis = stack.redis;
    if (!redis) throw new Error('no redis');
    const online: Seen = { cache: 'ONLINE', scope: 'cluster', rateLimitStore: 'redis' };
    await expect.poll(seen, { timeout: 5_000 }).toEqual(online);
    const users = steadyLoad({ url: stack.lb.url, request: { path: '/api/users/cached' }, rate: 40 });
    const posts = steadyLoad({ url: stack.lb.url, request: { path: '/api/posts?limit=2' }, rate: 10 });
    await sleep(500);

    await redis.stop();
    const downAt = users.now();
    await expect
      .poll(seen, { timeout: 5_000, interval: 200 })
      .toEqual({ cache: 'OFFLINE', scope: 'instance', rateLimitStore: 'local' });

    // Post writes are still limited per user, now counted in the gateway process, and never fail.
    const statuses: number[] = [];
    for (let i = 0; i <= WRITE_LIMIT; i++) statuses.push((await write(`during the outage ${i}`)).status);
    expect(statuses).toEqual([...Array.from({ length: WRITE_LIMIT }, () => 201), 429]);

    // An outage long enough for a good number of requests to meet it.
    await sleep(Math.max(300, downAt + 1_500 - users.now()));
    await redis.start();
    const upAt = users.now();
    await expect.poll(seen, { timeout: 10_000, interval: 200 }).toEqual(online);
    await sleep(1_000);
    const outcomes = [...(await users.stop()), ...(await posts.stop())];

    expect(users.sent(downAt, upAt).length).toBeGreaterThan(20);
    expect(users.sent(upAt).length).toBeGreaterThan(20);
    expect(
      outcomes
        .filter((o) => !o.ok)
        .map(
          (o) =>
            `${o.status} ${o.error ?? ''} ${o.body} ${Math.round(o.sentAt)}+${Math.round(o.latencyMs)} down ${Math.round(downAt)} up ${Math.round(upAt)}`,
        ),
    ).toEqual([]);
    // Redis came back empty: the shared count starts again from zero.
    expect((await write('after the outage')).status).toBe(201);
  });
});
