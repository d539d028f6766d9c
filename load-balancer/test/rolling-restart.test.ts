import { setTimeout as sleep } from 'node:timers/promises';
import { type Component, steadyLoad, stopAllProcesses, tokenFor } from '@titanium/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTopology, TOPOLOGY_START_MS, type Topology } from './topology.js';

const DRAIN_DELAY_MS = 1_500;

/** Requests the gateway has sent to the blog service since it started, from its own /stats. */
async function blogRequests(gateway: Component): Promise<number> {
  const res = await fetch(`${gateway.url}/stats`);
  const body = (await res.json()) as { 'api-gateway': { upstreams: { blog: { requests: number } } } };
  return body['api-gateway'].upstreams.blog.requests;
}

describe('rolling restart of two gateways behind the load balancer', () => {
  let stack: Topology;

  beforeAll(async () => {
    stack = await startTopology({ gateways: 2, gatewayEnv: { DRAIN_DELAY_MS: String(DRAIN_DELAY_MS) } });
  }, TOPOLOGY_START_MS);

  afterAll(async () => {
    await (stack ? stack.close() : stopAllProcesses());
  });

  it('loses no request while each gateway in turn drains, stops and comes back', async () => {
    const lbPid = stack.lb.pid;
    const token = tokenFor(7, 'roller');
    const load = steadyLoad({
      url: stack.lb.url,
      rate: 60,
      request: (seq) =>
        seq % 3 === 0
          ? {
              method: 'POST',
              path: '/api/posts',
              headers: { authorization: `Bearer ${token}` },
              body: JSON.stringify({ title: `rolling ${seq}`, content: 'written while the gateways restart' }),
            }
          : { path: '/api/posts?limit=2' },
    });
    await sleep(700);

    for (const gateway of stack.gateways) {
      gateway.terminate();
      // Readiness turns 503 at once; within one readiness poll the load balancer sends it nothing new.
      await sleep(900);
      const before = await blogRequests(gateway);
      await sleep(400);
      expect(await blogRequests(gateway)).toBe(before);
      expect(await gateway.process.exited).toEqual({ code: 0, signal: null });

      await gateway.start();
      await expect.poll(() => blogRequests(gateway), { timeout: 3_000 }).toBeGreaterThan(5);
    }
    await sleep(300);
    const outcomes = await load.stop();

    expect(outcomes.length).toBeGreaterThan(300);
    expect(load.failures()).toEqual([]);
    expect(outcomes.filter((o) => o.status === 201).length).toBeGreaterThan(100);
    expect(stack.lb.pid).toBe(lbPid);
  });
});
