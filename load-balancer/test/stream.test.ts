import { type FakeUpstream, readStream, startFakeUpstream } from '@titanium/test-support';
import { afterEach, describe, expect, it } from 'vitest';
import { type RunningLb, type StatsAnswer, startLb } from './helpers.js';

const open: { close(): Promise<unknown> | unknown }[] = [];
afterEach(async () => {
  for (const item of open.splice(0).reverse()) await item.close();
});

async function stack(env: Record<string, string> = {}): Promise<{ lb: RunningLb; services: FakeUpstream[] }> {
  const services = await Promise.all(['api', 'auth', 'user', 'blog'].map((name) => startFakeUpstream(name)));
  open.push(...services);
  const [api, auth, user, blog] = services as [FakeUpstream, FakeUpstream, FakeUpstream, FakeUpstream];
  const lb = await startLb({
    API_GATEWAY_URL: api.url,
    AUTH_SERVICE_URL: auth.url,
    USER_SERVICE_URL: user.url,
    BLOG_SERVICE_URL: blog.url,
    DASHBOARD_UI_URL: blog.url,
    ...env,
  });
  open.push(lb.app);
  return { lb, services };
}

describe('GET /stats/stream', () => {
  it('sends the /stats answer as an event "stats" every interval, from the first moment', async () => {
    const { lb } = await stack({ LB_STATS_STREAM_INTERVAL_MS: '200' });
    const { res, reading } = await readStream(`${lb.url}/stats/stream`, (r) => r.events.length >= 3);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(reading.retry).toBe(1000);
    expect(reading.events.map((e) => e.event)).toEqual(['stats', 'stats', 'stats']);
    const stats = JSON.parse(reading.events[0]?.data ?? '{}') as StatsAnswer;
    expect(Object.keys(stats)).toEqual(Object.keys((await (await fetch(`${lb.url}/stats`)).json()) as StatsAnswer));
    expect(stats['load-balancer']).toMatchObject({ status: 'healthy', routes: [], scope: 'instance' });
    expect(stats['api-gateway']).toMatchObject({ service_status: 'online' });
  });

  it('sends a comment line as a heartbeat', async () => {
    const { lb } = await stack({ LB_STATS_STREAM_INTERVAL_MS: '60000', LB_STATS_STREAM_HEARTBEAT_MS: '1000' });
    const { reading } = await readStream(`${lb.url}/stats/stream`, (r) => r.comments.length >= 1);
    expect(reading.comments).toEqual([': keep-alive']);
    expect(reading.events).toHaveLength(1);
  });

  it('serves a bounded number of clients and refuses the next with a 503 JSON until one leaves', async () => {
    const { lb } = await stack({ LB_STATS_STREAM_MAX_CLIENTS: '2' });
    const first = new AbortController();
    const second = new AbortController();
    const streams = [first, second].map((controller) =>
      readStream(`${lb.url}/stats/stream`, () => false, controller.signal).catch(() => undefined),
    );
    const status = async () => {
      const res = await fetch(`${lb.url}/stats/stream`, { signal: AbortSignal.timeout(1_000) });
      await res.body?.cancel();
      return res.status;
    };
    await expect.poll(status).toBe(503);
    const refused = await fetch(`${lb.url}/stats/stream`);
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(await refused.json()).toEqual({
      statusCode: 503,
      error: 'Service Unavailable',
      message: 'Too many stats stream clients (2); poll /stats instead',
    });
    first.abort();
    await expect.poll(status).toBe(200);
    second.abort();
    await Promise.all(streams);
  });

  it('shares one computation with /stats: the services are asked about once a second however many read', async () => {
    const { lb, services } = await stack({ LB_STATS_STREAM_INTERVAL_MS: '100' });
    const calls = () => services.map((service) => service.seen.filter((seen) => seen.url === '/stats').length);
    const before = calls();
    const started = performance.now();
    const readers = Array.from({ length: 5 }, () => readStream(`${lb.url}/stats/stream`, (r) => r.events.length >= 15));
    const polls = (async () => {
      for (let i = 0; i < 20; i++) await (await fetch(`${lb.url}/stats`)).arrayBuffer();
    })();
    await Promise.all([...readers, polls]);
    const seconds = (performance.now() - started) / 1000;
    for (const [i, count] of calls().entries()) {
      expect(count - (before[i] ?? 0)).toBeLessThanOrEqual(Math.ceil(seconds) + 1);
    }
  });

  it('ends every stream when the load balancer shuts down', async () => {
    const { lb } = await stack();
    let started = false;
    const reading = readStream(`${lb.url}/stats/stream`, (r) => {
      started ||= r.events.length > 0;
      return false;
    });
    await expect.poll(() => started).toBe(true);
    await lb.app.close();
    const { reading: read } = await reading;
    expect(read.ended).toBe(true);
    expect(read.events.length).toBeGreaterThanOrEqual(1);
  });
});
