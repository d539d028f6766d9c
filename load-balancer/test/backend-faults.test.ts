import { setTimeout as sleep } from 'node:timers/promises';
import { summarize } from '@titanium/dashboard-ui/status';
import { type Outcome, type SteadyLoad, steadyLoad, stopAllProcesses } from '@titanium/test-support';
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

/**
 * How soon a restarted or resumed backend must serve again. The part in front of a restarted one
 * takes it back at its next probe (the gateway probes every 1 s, the load balancer every 500 ms);
 * a resumed one was never taken out. Two of the longer probe intervals leave room for a busy
 * machine; a backend that only a much later probe, or none, brings back misses it.
 */
const BACK_WITHIN_MS = 2_000;

/** How long the load balancer waits for each service's /stats (its default). */
const STATS_TIMEOUT_MS = 2_000;

/** Connections the gateway keeps to the blog service. */
const GATEWAY_BLOG_CONNECTIONS = 128;

/** Resolves once `load` has answers for a few requests sent from `from` on, so a check from there is not empty. */
async function loadOnPast(load: SteadyLoad, from: number): Promise<void> {
  await expect.poll(() => load.sent(from).length, { timeout: 10_000 }).toBeGreaterThanOrEqual(5);
}

describe('a backend killed or frozen under load', () => {
  let stack: Topology;

  beforeAll(async () => {
    // The load balancer keeps its defaults: a restarted target must be back within BACK_WITHIN_MS with them.
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

  it('answers 502 at once for a killed blog-service, shows it offline within a poll and serves again within 2 s of its restart', async () => {
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
    expect((posts.firstSuccessAfter(upAt)?.sentAt ?? Number.POSITIVE_INFINITY) - upAt).toBeLessThan(BACK_WITHIN_MS);
    await loadOnPast(posts, upAt + BACK_WITHIN_MS);
    await posts.stop();
    await users.stop();
    expect(posts.failures(upAt + BACK_WITHIN_MS)).toEqual([]);
    expect(users.failures()).toEqual([]);
    expect(await blogState()).toBe('Online');
    expect([stack.lb.pid, stack.gateways[0]?.pid, stack.auth.pid, stack.user.pid]).toEqual(pids);
  });

  it('answers 502 at once for a killed gateway and sends traffic to it again within 2 s of its restart', async () => {
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
    expect((load.firstSuccessAfter(upAt)?.sentAt ?? Number.POSITIVE_INFINITY) - upAt).toBeLessThan(BACK_WITHIN_MS);
    await loadOnPast(load, upAt + BACK_WITHIN_MS);
    await load.stop();
    expect(load.failures(upAt + BACK_WITHIN_MS)).toEqual([]);
    expect(stack.lb.pid).toBe(lbPid);
  });

  it('answers 504 after the 2 s limit for a frozen blog-service, even beyond the pool size, and serves again once resumed', async () => {
    const posts = steadyLoad({ url: stack.lb.url, request: { path: '/api/posts?limit=2' }, rate: 10 });
    await sleep(300);
    stack.blog.freeze();
    const frozenAt = posts.now();

    const started = performance.now();
    const stats = await stack.stats();
    // By the stats timeout, well before a second one: waiting on the frozen service, it would not
    // come until the service is resumed below.
    expect(performance.now() - started).toBeLessThan(2 * STATS_TIMEOUT_MS);
    expect(stats.blog_service).toMatchObject({ service_status: 'offline' });
    expect(stats.user_service?.service_status).not.toBe('offline');

    // More requests at once than the gateway keeps connections to the blog.
    const burst = steadyLoad({ url: stack.lb.url, request: { path: '/api/posts?limit=1' }, concurrency: 160 });
    await sleep(50);
    const answers = await burst.stop();
    expect(answers.length).toBeGreaterThanOrEqual(160);
    // Each one 504 after the 2 s limit, and the ones queued beyond the pool no later than the others
    // (not after two limits, one spent queued). Compared with each other rather than with the clock,
    // so a busy machine that delays the whole burst does not count against the services: had the
    // queued ones waited for a connection before their limit began, the slowest answers would come
    // a whole limit after the rest. Middles rather than extremes, so a few answers that a busy
    // machine delays on their own do not decide it.
    const notTimely = answers.filter((o) => o.status !== 504 || o.latencyMs < 1_900 || o.latencyMs >= 6_000);
    expect(notTimely.map(describeOutcome)).toEqual([]);
    const latencies = answers.map((o) => o.latencyMs).sort((a, b) => a - b);
    const middle = (sorted: number[]) => sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
    expect(middle(latencies.slice(GATEWAY_BLOG_CONNECTIONS)) - middle(latencies)).toBeLessThan(1_000);
    await sleep(500);
    stack.blog.resume();
    const resumedAt = posts.now();
    await expect.poll(() => posts.firstSuccessAfter(resumedAt), { timeout: 3_000 }).toBeDefined();
    expect((posts.firstSuccessAfter(resumedAt)?.sentAt ?? Number.POSITIVE_INFINITY) - resumedAt).toBeLessThan(
      BACK_WITHIN_MS,
    );
    await loadOnPast(posts, resumedAt + BACK_WITHIN_MS);
    await posts.stop();
    // Whatever was answered before the resume was answered without the blog service.
    const whileFrozen = posts.sent(frozenAt + 50).filter((o) => o.at < resumedAt);
    expect(whileFrozen.length).toBeGreaterThan(10);
    expect(whileFrozen.filter((o) => o.status !== 504).map(describeOutcome)).toEqual([]);
    expect(posts.failures(resumedAt + BACK_WITHIN_MS)).toEqual([]);
    expect((await stack.stats()).blog_service?.service_status).toBe('online');
  });
});
