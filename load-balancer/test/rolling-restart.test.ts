import { setTimeout as sleep } from 'node:timers/promises';
import { type ManagedProcess, steadyLoad, stopAllProcesses, tokenFor } from '@titanium/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTopology, TOPOLOGY_START_MS, type Topology } from './topology.js';

const DRAIN_DELAY_MS = 3_000;

/** Waits until `proc` prints a line matching `pattern` after its first `from` lines. */
async function lineAfter(proc: ManagedProcess, from: number, pattern: RegExp, timeoutMs: number): Promise<void> {
  await expect
    .poll(() => proc.lines.slice(from).some((line) => pattern.test(line)), { timeout: timeoutMs, interval: 50 })
    .toBe(true);
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
      const seen = stack.lb.process.lines.length;
      gateway.terminate();
      // Readiness turns 503 at once; within a readiness poll, while the gateway still listens
      // during its drain delay, the load balancer stops giving it new requests.
      const notReady = new RegExp(`"target":"${gateway.url}"[^}]*"msg":"upstream target not ready; no new requests"`);
      await lineAfter(stack.lb.process, seen, notReady, DRAIN_DELAY_MS);
      expect(gateway.running).toBe(true);
      expect(await gateway.process.exited).toEqual({ code: 0, signal: null });

      await gateway.start();
      const ready = new RegExp(`"target":"${gateway.url}"[^}]*"msg":"upstream target ready"`);
      await lineAfter(stack.lb.process, seen, ready, 10_000);
    }
    await sleep(300);
    const outcomes = await load.stop();

    expect(outcomes.length).toBeGreaterThan(300);
    expect(load.failures()).toEqual([]);
    expect(outcomes.filter((o) => o.status === 201).length).toBeGreaterThan(100);
    expect(stack.lb.pid).toBe(lbPid);
  });
});
