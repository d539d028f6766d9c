import { once } from 'node:events';
import { freePort, rawExchange, startFakeUpstream, startSilentUpstream } from '@titanium/test-support';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startLb } from './helpers.js';

const open: { close(): Promise<unknown> | unknown }[] = [];
afterEach(async () => {
  for (const item of open.splice(0).reverse()) await item.close();
});

const UPGRADE =
  'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';

/** Status and where it went, for a request-target sent as plain HTTP or as a WebSocket upgrade. */
async function answer(port: number, target: string, upgrade: boolean) {
  const exchange = await rawExchange(
    port,
    `GET ${target} HTTP/1.1\r\nHost: lb\r\n${upgrade ? UPGRADE : 'Connection: close\r\n'}\r\n`,
    { quietMs: 150 },
  );
  const head = exchange.text.split('\r\n\r\n')[0] ?? '';
  return {
    status: exchange.statuses[0],
    upstream: /\r\nx-upstream: (\S+)/i.exec(head)?.[1] ?? 'load-balancer',
    location: /\r\nlocation: (\S+)/i.exec(head)?.[1],
  };
}

describe('WebSocket upgrades', () => {
  it('go where the same request-target goes over plain HTTP: /blog, /blog/, /api/..., / and *', async () => {
    const [api, blog, dashboard] = await Promise.all(
      ['api', 'blog', 'dashboard'].map((name) => startFakeUpstream(name)),
    );
    open.push(...[api, blog, dashboard].flatMap((upstream) => (upstream ? [upstream] : [])));
    const lb = await startLb({
      API_GATEWAY_URL: api?.url ?? '',
      BLOG_SERVICE_URL: blog?.url ?? '',
      DASHBOARD_UI_URL: dashboard?.url ?? '',
    });
    open.push(lb.app);
    const expected = {
      '/blog': { status: 308, upstream: 'load-balancer', location: '/blog/' },
      '/blog?x=1': { status: 308, upstream: 'load-balancer', location: '/blog/?x=1' },
      '/blog/': { upstream: 'blog' },
      '/blog/live': { upstream: 'blog' },
      '/api/live': { upstream: 'api' },
      '/api': { upstream: 'api' },
      '/': { upstream: 'dashboard' },
      '/live-reload': { upstream: 'dashboard' },
      '/lb-health': { status: 200, upstream: 'load-balancer' },
      '*': { upstream: 'load-balancer' },
      'http://lb/api/x': { upstream: 'load-balancer' },
    };
    for (const [target, where] of Object.entries(expected)) {
      const plain = await answer(lb.port, target, false);
      const upgraded = await answer(lb.port, target, true);
      expect(plain, target).toMatchObject(where);
      expect({ ...upgraded, status: plain.status }, target).toEqual(plain);
      if (plain.upstream === 'load-balancer') expect(upgraded.status, target).toBe(plain.status);
      else expect(upgraded.status, target).toBe(101);
    }
  });

  it('carry an X-Request-Id to the target, the same one the client gets back', async () => {
    const api = await startFakeUpstream('api');
    open.push(api);
    const lb = await startLb({ API_GATEWAY_URL: api.url });
    open.push(lb.app);
    const ws = new WebSocket(`ws://127.0.0.1:${lb.port}/api/live`);
    const upgraded = once(ws, 'upgrade') as Promise<[{ headers: Record<string, string> }]>;
    await once(ws, 'open');
    const [response] = await upgraded;
    ws.send('hi');
    const [reply] = await once(ws, 'message');
    ws.close();
    expect(String(reply)).toBe('api:hi');
    const id = response.headers['x-request-id'];
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(api.upgrades).toEqual([{ url: '/api/live', requestId: id }]);

    const named = new WebSocket(`ws://127.0.0.1:${lb.port}/api/live`, { headers: { 'x-request-id': 'upgrade-7' } });
    await once(named, 'open');
    named.close();
    expect(api.upgrades.at(-1)?.requestId).toBe('upgrade-7');
  });

  it('to a dead target get a JSON 502 and count against its health like any request', async () => {
    const port = await freePort();
    // Probes far apart: a target taken out stays out for the whole test.
    const lb = await startLb({ API_GATEWAY_URL: `http://127.0.0.1:${port}`, LB_COOLDOWN_MS: '60000' });
    open.push(lb.app);
    for (let i = 0; i < 2; i++) {
      const refused = await rawExchange(lb.port, `GET /api/live HTTP/1.1\r\nHost: lb\r\n${UPGRADE}\r\n`);
      expect(refused.statuses).toEqual([502]);
      expect(refused.closed).toBe(true);
      const body = refused.text.slice(refused.text.indexOf('\r\n\r\n') + 4);
      expect(JSON.parse(body)).toEqual({
        statusCode: 502,
        error: 'Bad Gateway',
        message: 'Upstream api-gateway is unavailable',
      });
      expect(refused.text).toMatch(/\r\ncontent-type: application\/json/i);
    }
    // Two failed upgrades took the target out: once it listens, it gets nothing until a probe says so.
    const revived = await startFakeUpstream('api', { port });
    open.push(revived);
    const res = await fetch(`${lb.url}/api/posts`);
    expect(res.status).toBe(502);
    expect(revived.seen).toEqual([]);
    expect(revived.upgrades).toEqual([]);
  });

  it('to a target that does not answer in time get a JSON 504 after the headers timeout', async () => {
    const silent = await startSilentUpstream();
    open.push(silent);
    const lb = await startLb({ API_GATEWAY_URL: silent.url, LB_UPSTREAM_HEADERS_TIMEOUT_MS: '500' });
    open.push(lb.app);
    const late = await rawExchange(lb.port, `GET /api/live HTTP/1.1\r\nHost: lb\r\n${UPGRADE}\r\n`);
    expect(late.statuses).toEqual([504]);
    expect(late.closed).toBe(true);
    expect(late.elapsedMs).toBeGreaterThanOrEqual(450);
    expect(JSON.parse(late.text.slice(late.text.indexOf('\r\n\r\n') + 4))).toEqual({
      statusCode: 504,
      error: 'Gateway Timeout',
      message: 'Upstream api-gateway did not answer in time',
    });
  });
});
