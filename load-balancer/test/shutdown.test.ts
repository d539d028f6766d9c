import { fakeUpstreamProcess, startService, stopAllProcesses } from '@titanium/test-support';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';

describe('shutdown', () => {
  afterAll(stopAllProcesses);

  it('ends heartbeat connections and exits 0 on SIGTERM, even with keep-alive clients', async () => {
    const upstream = await fakeUpstreamProcess('api-gateway');
    const lb = await startService('load-balancer', { API_GATEWAY_URL: upstream.url, DASHBOARD_UI_URL: upstream.url });
    const ws = new WebSocket(`ws://127.0.0.1:${lb.port}/api/ws-heartbeat`);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    expect((await fetch(`${lb.url}/api/items`)).status).toBe(200);
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    const started = performance.now();
    lb.process.signal('SIGTERM');
    expect(await lb.process.exited).toEqual({ code: 0, signal: null });
    await closed;
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(lb.process.output()).toMatch(/"msg":"stopped"/);
  });
});
