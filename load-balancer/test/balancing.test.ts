import { fakeUpstreamProcess, startService, stopAllProcesses } from '@titanium/test-support';
import { afterAll, describe, expect, it } from 'vitest';

interface Outcome {
  at: number;
  status: number;
  port?: number;
}

/** Keeps `concurrency` requests in flight until `stop.done`, recording every outcome. */
async function load(base: string, outcomes: Outcome[], stop: { done: boolean }, concurrency = 8) {
  const worker = async () => {
    while (!stop.done) {
      try {
        const res = await fetch(`${base}/api/items`);
        const body = (await res.json()) as { port?: number };
        outcomes.push({ at: performance.now(), status: res.status, port: body.port });
      } catch {
        outcomes.push({ at: performance.now(), status: 0 });
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

describe('balancing across two gateway targets', () => {
  afterAll(stopAllProcesses);

  it('spreads traffic, routes around a killed target without failing requests, and takes it back', async () => {
    const one = await fakeUpstreamProcess('api-gateway');
    const two = await fakeUpstreamProcess('api-gateway');
    const lb = await startService('load-balancer', {
      API_GATEWAY_URL: `${one.url},${two.url}`,
      LB_COOLDOWN_MS: '500',
      LB_FAILURE_THRESHOLD: '2',
    });
    const outcomes: Outcome[] = [];
    const stop = { done: false };
    const running = load(lb.url, outcomes, stop);

    // A sample large enough to tell a spread from chance.
    await expect.poll(() => outcomes.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(80);
    const spread = outcomes.filter((o) => o.status === 200);
    expect(spread.filter((o) => o.port === one.port).length).toBeGreaterThan(spread.length / 4);
    expect(spread.filter((o) => o.port === two.port).length).toBeGreaterThan(spread.length / 4);

    one.process.signal('SIGKILL');
    await one.process.exited;
    const killedAt = performance.now();
    // Once the load balancer has taken the dead target out, enough requests that each had to go
    // around it; the ones before (from the kill on) are checked too.
    await lb.process.waitForLine(/upstream target down/);
    const takenOutAt = performance.now();
    await expect.poll(() => outcomes.filter((o) => o.at > takenOutAt).length, { timeout: 10_000 }).toBeGreaterThan(40);
    const afterKill = outcomes.filter((o) => o.at > killedAt);
    expect(afterKill.length).toBeGreaterThan(20);
    const failures = afterKill.filter((o) => o.status !== 200);
    expect(failures).toEqual([]);
    expect(afterKill.every((o) => o.port === two.port)).toBe(true);

    await fakeUpstreamProcess('api-gateway', { port: one.port });
    const restartedAt = performance.now();
    await expect
      .poll(() => outcomes.filter((o) => o.at > restartedAt && o.port === one.port).length, { timeout: 5_000 })
      .toBeGreaterThan(10);
    stop.done = true;
    await running;
    expect(outcomes.filter((o) => o.status !== 200)).toEqual([]);
    expect(lb.process.output()).toMatch(/upstream target down/);
    expect(lb.process.output()).toMatch(/upstream target back/);
  });
});
