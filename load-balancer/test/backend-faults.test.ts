import { setTimeout as sleep } from 'node:timers/promises';
import { summarize } from '@titanium/dashboard-ui/status';
import { type Outcome, steadyLoad, stopAllProcesses } from '@titanium/test-support';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTopology, TOPOLOGY_START_MS, type Topology } from './topology.js';

/** Milliseconds until `check` holds, polling every 50 ms; throws after `timeoutMs`. */
async function timeUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = performance.now();
  for (;;) {
    if (await check().catch(() => false)) return performance.now() - started;
    if (performance.now() - started > timeoutMs) throw new Error(`not within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** One outcome in a line, for readable failures. */
function describeOutcome(outcome: Outcome): string {
  return `${outcome.status || outcome.error} after ${Math.round(outcome.latencyMs)} ms: ${outcome.body.slice(0, 120)}`;
}

describe('a backend killed or frozen under load', () => {
  let stack: Topology;

  beforeAll(async () => {
    // The load balancer keeps its defaults: a restarted target must be back within 1 s with them.
    stack = await startTopology();
    const res = await fetch(`${stack.lb.url}/api/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'faulty', email: 'faulty@example.com', password: 'correct horse' }),
    });
    expect(res.status).toBe(201);
  }, TOPOLOGY_START_MS);

  beforeEach(async () => {
    await stack.heal();
  });

  afterAll(async () => {
    await (stack ? stack.close() : stopAllProcesses());
  });

  it('answers 502 at once for a killed blog-service, shows it offline within a poll and serves again within 1 s of its restart', async () => {
    const pids = [stack.lb.pid, stack.gateways[0]?.pid, stack.auth.pid, stack.user.pid];
    const posts = steadyLoad({ url: stack.lb.url, request: { path: '/api/posts?limit=2' }, rate: 25 });
    const users = steadyLoad({ url: stack.lb.url, request: { path: '/api/users/faulty' }, rate: 10 });
    await sleep(500);

    await stack.blog.kill();
    const killedAt = posts.now();
    // What the dashboard, polling /stats every 2 s, shows for the blog service.
    const blogState = async () => summarize(await stack.stats()).services.find((s) => s.key === 'blog_service')?.state;
    const offlineAfter = await timeUntil(async () => (await blogState()) === 'Offline', 2_000);
    expect(offlineAfter).toBeLessThan(2_000);
    await sleep(1_000);
    const downUntil = posts.now();
    await posts.settled(downUntil);
    const whileDown = posts.sent(killedAt + 50, downUntil);
    expect(whileDown.length).toBeGreaterThan(10);
    // At once: without waiting for any timeout (the gateway's shortest is 2 s).
    const notAtOnce = whileDown.filter(
      (o) => o.status !== 502 || o.latencyMs >= 2_000 || !o.body.includes('Upstream blog is unavailable'),
    );
    expect(notAtOnce.map(describeOutcome)).toEqual([]);

    await stack.blog.start();
    const upAt = posts.now();
    await expect.poll(() => posts.firstSuccessAfter(upAt), { timeout: 3_000 }).toBeDefined();
    expect((posts.firstSuccessAfter(upAt)?.sentAt ?? Number.POSITIVE_INFINITY) - upAt).toBeLessThan(1_000);
    await sleep(300);
    await posts.stop();
    await users.stop();
    expect(posts.failures(upAt + 1_000)).toEqual([]);
    expect(users.failures()).toEqual([]);
    expect(await blogState()).toBe('Online');
    expect([stack.lb.pid, stack.gateways[0]?.pid, stack.auth.pid, stack.user.pid]).toEqual(pids);
  });

  it('answers 502 at once for a killed gateway and sends traffic to it again within 1 s of its restart', async () => {
    const gateway = stack.gateways[0];
    if (!gateway) throw new Error('no gateway');
    const lbPid = stack.lb.pid;
    const load = steadyLoad({ url: stack.lb.url, request: { path: '/api/users/faulty' }, rate: 25 });
    await sleep(300);

    await gateway.kill();
    const killedAt = load.now();
    await sleep(1_000);
    const stats = await stack.stats();
    expect(stats['api-gateway']?.service_status).toBe('offline');
    const downUntil = load.now();
    await load.settled(downUntil);
    const whileDown = load.sent(killedAt + 50, downUntil);
    expect(whileDown.length).toBeGreaterThan(10);
    expect(whileDown.filter((o) => o.status !== 502 || o.latencyMs >= 2_000).map(describeOutcome)).toEqual([]);

    await gateway.start();
    const upAt = load.now();
    await expect.poll(() => load.firstSuccessAfter(upAt), { timeout: 6_000 }).toBeDefined();
    expect((load.firstSuccessAfter(upAt)?.sentAt ?? Number.POSITIVE_INFINITY) - upAt).toBeLessThan(1_000);
    await sleep(300);
    await load.stop();
    expect(load.failures(upAt + 1_000)).toEqual([]);
    expect(stack.lb.pid).toBe(lbPid);
  });

  it('answers 504 after the 2 s limit for a frozen blog-service, even beyond the pool size, and serves again once resumed', async () => {
    const posts = steadyLoad({ url: stack.lb.url, request: { path: '/api/posts?limit=2' }, rate: 10 });
    await sleep(300);
    stack.blog.freeze();
    const frozenAt = posts.now();

    const started = performance.now();
    const stats = await stack.stats();
    expect(performance.now() - started).toBeLessThanOrEqual(2_200);
    expect(stats.blog_service).toMatchObject({ service_status: 'offline' });
    expect(stats.user_service?.service_status).not.toBe('offline');

    // More requests at once than the gateway keeps connections to the blog (128).
    const burst = steadyLoad({ url: stack.lb.url, request: { path: '/api/posts?limit=1' }, concurrency: 160 });
    await sleep(50);
    const answers = await burst.stop();
    expect(answers.length).toBeGreaterThanOrEqual(160);
    // Each one 504 after the 2 s limit, and the ones queued beyond the pool no later than the others
    // (not after two limits, one spent queued). Compared with each other rather than with the clock,
    // so a busy machine that delays the whole burst does not count against the services.
    const notTimely = answers.filter((o) => o.status !== 504 || o.latencyMs < 1_900 || o.latencyMs >= 6_000);
    expect(notTimely.map(describeOutcome)).toEqual([]);
    const latencies = answers.map((o) => o.latencyMs);
    expect(Math.max(...latencies) - Math.min(...latencies)).toBeLessThan(1_500);
    await sleep(500);
    stack.blog.resume();
    const resumedAt = posts.now();
    await expect.poll(() => posts.firstSuccessAfter(resumedAt), { timeout: 3_000 }).toBeDefined();
    expect((posts.firstSuccessAfter(resumedAt)?.sentAt ?? Number.POSITIVE_INFINITY) - resumedAt).toBeLessThan(1_000);
    await sleep(500);
    await posts.stop();
    const whileFrozen = posts.sent(frozenAt + 50, resumedAt - 2_100);
    expect(whileFrozen.length).toBeGreaterThan(10);
    expect(whileFrozen.filter((o) => o.status !== 504).map(describeOutcome)).toEqual([]);
    expect(posts.failures(resumedAt + 1_000)).toEqual([]);
    expect((await stack.stats()).blog_service?.service_status).toBe('online');
  });
});
