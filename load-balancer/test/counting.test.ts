import { type FakeUpstream, startFakeUpstream } from '@titanium/test-support';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { getStats, manualClock, type RunningLb, startLb } from './helpers.js';

describe('traffic counting over the 10-second window', () => {
  let api: FakeUpstream;
  let dashboard: FakeUpstream;
  let lb: RunningLb;
  let upstreamAborted = false;
  const clock = manualClock();

  beforeEach(async () => {
    clock.set(1_800_000_000_000);
    upstreamAborted = false;
    api = await startFakeUpstream('api-gateway', {
      handler: (req, res) => {
        if (req.url === '/api/hang') {
          res.on('close', () => {
            upstreamAborted = true;
          });
          return;
        }
        const status = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('status') ?? 200);
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end('{}');
      },
    });
    dashboard = await startFakeUpstream('dashboard');
    lb = await startLb(
      {
        API_GATEWAY_URL: api.url,
        DASHBOARD_UI_URL: dashboard.url,
        BLOG_SERVICE_URL: dashboard.url,
        AUTH_SERVICE_URL: dashboard.url,
        USER_SERVICE_URL: dashboard.url,
      },
      { now: clock.now },
    );
  });

  afterEach(async () => {
    await lb.app.close();
    await api.close();
    await dashboard.close();
  });

  it('reports N counted requests as N/10 per second for the next 10 seconds, then 0', async () => {
    for (let i = 0; i < 7; i++) expect((await fetch(`${lb.url}/api/items/${i}`)).status).toBe(200);

    clock.advance(1_000);
    let block = (await getStats(lb.url))['load-balancer'];
    expect(block.requests_per_second).toBe(0.7);
    expect(block.has_real_traffic).toBe(true);
    expect(block.total_requests).toBe(7);
    expect(block.success_rate).toBe(100);
    expect(block.avg_response_time_ms).toBeGreaterThan(0);
    expect(block.p99_response_time_ms).toBeGreaterThanOrEqual(block.p95_response_time_ms);

    clock.advance(9_000);
    block = (await getStats(lb.url))['load-balancer'];
    expect(block.requests_per_second).toBe(0.7);

    clock.advance(1_000);
    block = (await getStats(lb.url))['load-balancer'];
    expect(block.requests_per_second).toBe(0);
    expect(block.has_real_traffic).toBe(false);
    expect(block.avg_response_time_ms).toBe(0);
    expect(block.total_requests).toBe(7);
    expect(block.avg_response_time_ms_lifetime).toBeGreaterThan(0);
  });

  it('never counts HEAD, X-Heartbeat, its own endpoints or dashboard requests', async () => {
    await fetch(`${lb.url}/api/items`, { method: 'HEAD' });
    await fetch(`${lb.url}/api/items`, { headers: { 'X-Heartbeat': 'true' } });
    await fetch(`${lb.url}/stats`);
    await fetch(`${lb.url}/lb-health`);
    await fetch(`${lb.url}/health`);
    await fetch(`${lb.url}/`);
    await fetch(`${lb.url}/app.js`);
    await fetch(`${lb.url}/api`);
    expect(dashboard.seen.map((r) => r.url)).toEqual(expect.arrayContaining(['/', '/app.js']));

    clock.advance(1_000);
    const block = (await getStats(lb.url))['load-balancer'];
    expect(block.requests_per_second).toBe(0);
    expect(block.total_requests).toBe(0);
    expect(block.has_real_traffic).toBe(false);
  });

  it('counts 4xx and 5xx as failures and reports the share of server errors', async () => {
    for (const status of [200, 204, 302, 404, 500, 503, 200, 201, 400, 502]) {
      await fetch(`${lb.url}/api/answer?status=${status}`, { redirect: 'manual' });
    }
    clock.advance(1_000);
    const block = (await getStats(lb.url))['load-balancer'];
    expect(block.requests_per_second).toBe(1);
    expect(block.success_rate).toBe(50);
    expect(block.server_error_rate).toBe(30);
  });

  it('turns has_real_traffic on for 10 seconds with one WebSocket message alone', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${lb.port}/api/ws-heartbeat`);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    let block = (await getStats(lb.url))['load-balancer'];
    expect(block.has_real_traffic).toBe(false);
    expect(block.ws_active_connections).toBe(1);

    ws.send('hello');
    await expect
      .poll(async () => (await getStats(lb.url))['load-balancer'].has_real_traffic, { timeout: 3_000 })
      .toBe(true);
    clock.advance(10_000);
    block = (await getStats(lb.url))['load-balancer'];
    expect(block.has_real_traffic).toBe(true);
    expect(block.requests_per_second).toBe(0);
    expect(block.total_requests).toBe(0);

    clock.advance(1_000);
    expect((await getStats(lb.url))['load-balancer'].has_real_traffic).toBe(false);
    ws.close();
    await expect
      .poll(async () => (await getStats(lb.url))['load-balancer'].ws_active_connections, { timeout: 3_000 })
      .toBe(0);
  });

  it('counts a request the client abandoned as a failure and aborts it upstream', async () => {
    await fetch(`${lb.url}/api/hang`, { signal: AbortSignal.timeout(300) }).catch(() => undefined);
    await expect.poll(() => upstreamAborted).toBe(true);
    clock.advance(1_000);
    await expect
      .poll(async () => (await getStats(lb.url))['load-balancer'])
      .toMatchObject({ requests_per_second: 0.1, success_rate: 0 });
  });
});
