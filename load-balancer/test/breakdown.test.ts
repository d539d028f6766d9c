import { setTimeout as sleep } from 'node:timers/promises';
import type { RouteFigures, UpstreamTargetFigures } from '@titanium/service-kit';
import {
  type FakeUpstream,
  freePort,
  heapUsedAfterGc,
  INSPECTABLE,
  type RedisServer,
  startFakeUpstream,
  startRedis,
  startService,
  stopAllProcesses,
} from '@titanium/test-support';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getStats, type RunningLb, startLb } from './helpers.js';

const open: { close(): Promise<unknown> | unknown }[] = [];
afterEach(async () => {
  for (const item of open.splice(0).reverse()) await item.close();
});

/** An API that refuses every login with 401, answers `?status=` when asked, and 200 otherwise. */
function startApi(name = 'api'): Promise<FakeUpstream> {
  return startFakeUpstream(name, {
    handler: (req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const status = req.url?.startsWith('/api/login') ? 401 : Number(url.searchParams.get('status') ?? 200);
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end('{}');
    },
  });
}

async function lbBefore(api: FakeUpstream, env: Record<string, string> = {}): Promise<RunningLb> {
  const lb = await startLb({
    API_GATEWAY_URL: api.url,
    DASHBOARD_UI_URL: api.url,
    BLOG_SERVICE_URL: api.url,
    AUTH_SERVICE_URL: api.url,
    USER_SERVICE_URL: api.url,
    ...env,
  });
  open.push(lb.app);
  return lb;
}

/** 40 post lists, 20 post reads over two ids and 5 refused logins, in one burst. */
async function burst(base: string): Promise<void> {
  const calls = [
    ...Array.from({ length: 40 }, () => fetch(`${base}/api/posts?offset=0&limit=20`)),
    ...Array.from({ length: 20 }, (_, i) => fetch(`${base}/api/posts/${i % 2 ? 7 : 8}`)),
    ...Array.from({ length: 5 }, () =>
      fetch(`${base}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }),
    ),
  ];
  for (const res of await Promise.all(calls)) await res.arrayBuffer();
}

const byRoute = (routes: RouteFigures[]) => Object.fromEntries(routes.map((route) => [route.route, route]));

describe('per-route figures', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis.stop();
  });

  for (const withRedis of [false, true]) {
    it(`file known traffic under its API route, exactly, the moment the burst ends (${withRedis ? 'Redis' : 'no Redis'})`, async () => {
      const api = await startApi();
      open.push(api);
      const lb = await lbBefore(api, withRedis ? { REDIS_URL: redis.url, LB_REDIS_PREFIX: `t${Date.now()}` } : {});
      await burst(lb.url);
      const block = (await getStats(lb.url))['load-balancer'];
      expect(block.scope).toBe(withRedis ? 'cluster' : 'instance');
      expect(block.requests_per_second).toBe(6.5);
      expect(block.total_requests).toBe(65);
      const routes = byRoute(block.routes);
      expect(block.routes.map((route) => route.route)).toEqual([
        'GET /api/posts',
        'GET /api/posts/:id',
        'POST /api/login',
      ]);
      expect(routes['GET /api/posts']).toMatchObject({
        requests_per_second: 4,
        success_rate: 100,
        server_error_rate: 0,
        status: { '2xx': 40, '3xx': 0, '4xx': 0, '5xx': 0 },
      });
      expect(routes['GET /api/posts/:id']).toMatchObject({ requests_per_second: 2, status: { '2xx': 20 } });
      expect(routes['POST /api/login']).toMatchObject({
        requests_per_second: 0.5,
        success_rate: 0,
        server_error_rate: 0,
        status: { '2xx': 0, '3xx': 0, '4xx': 5, '5xx': 0 },
      });
      for (const route of block.routes) {
        expect(route.avg_response_time_ms).toBeGreaterThan(0);
        expect(route.p50_response_time_ms).toBeLessThanOrEqual(route.p95_response_time_ms);
        expect(route.p95_response_time_ms).toBeLessThanOrEqual(route.p99_response_time_ms);
      }
    });
  }

  it('never makes a key of an id, a name or an unknown path: 10,000 of them give a handful of keys', async () => {
    const api = await startApi();
    open.push(api);
    const lb = await lbBefore(api);
    const random = () => Math.random().toString(36).slice(2);
    const paths = [
      ...Array.from({ length: 3_000 }, () => `/api/posts/${random()}`),
      ...Array.from({ length: 3_000 }, () => `/api/users/${random()}`),
      ...Array.from({ length: 4_000 }, () => `/api/${random()}/${random()}`),
    ];
    for (let i = 0; i < paths.length; i += 200) {
      const answers = await Promise.all(paths.slice(i, i + 200).map((path) => fetch(`${lb.url}${path}`)));
      for (const res of answers) await res.arrayBuffer();
    }
    const block = (await getStats(lb.url))['load-balancer'];
    expect(block.routes.map((route) => route.route).sort()).toEqual([
      'GET /api/posts/:id',
      'GET /api/users/:username',
      'other',
    ]);
    expect(block.routes.find((route) => route.route === 'other')?.status['2xx']).toBeGreaterThan(0);
    const metrics = await (await fetch(`${lb.url}/metrics`)).text();
    const series = [
      ...metrics.matchAll(/^lb_route_request_duration_seconds_count\{route="([^"]+)",status_class="(\w+)"/gm),
    ];
    expect(series.map(([, route, cls]) => `${route} ${cls}`).sort()).toEqual([
      'GET /api/posts/:id 2xx',
      'GET /api/users/:username 2xx',
      'other 2xx',
    ]);
  });

  it('keep the heap of a load-balancer process flat through 30,000 distinct paths', async () => {
    const api = await startApi();
    open.push(api, { close: stopAllProcesses });
    const lb = await startService('load-balancer', {
      API_GATEWAY_URL: api.url,
      DASHBOARD_UI_URL: api.url,
      BLOG_SERVICE_URL: api.url,
      AUTH_SERVICE_URL: api.url,
      USER_SERVICE_URL: api.url,
      ...INSPECTABLE,
    });
    const sendAll = async (paths: string[]) => {
      for (let i = 0; i < paths.length; i += 100) {
        const answers = await Promise.all(paths.slice(i, i + 100).map((path) => fetch(`${lb.url}${path}`)));
        for (const res of answers) await res.arrayBuffer();
      }
    };
    const random = () => Math.random().toString(36).slice(2, 12);
    // Warm up on the same few paths, so what follows measures the paths, not the first requests.
    await sendAll(Array.from({ length: 10_000 }, (_, i) => `/api/posts/${i % 10}`));
    const before = await heapUsedAfterGc(lb.process);
    await sendAll(Array.from({ length: 30_000 }, () => `/api/${random()}/${random()}?q=${random()}`));
    const after = await heapUsedAfterGc(lb.process);
    const block = (await getStats(lb.url))['load-balancer'];
    expect(block.routes.length).toBeLessThanOrEqual(65);
    expect(block.routes.map((route) => route.route)).toContain('other');
    const kib = (bytes: number) => Math.round(bytes / 1024);
    process.stdout.write(`heap after GC: ${kib(before)} KiB before, ${kib(after)} KiB after 30,000 distinct paths\n`);
    // Under 32 bytes a path (a few hundred KiB all told): the path itself, kept for each, would be more.
    expect(after - before).toBeLessThan(30_000 * 32);
  });

  it('are off, with the per-target ones, when LB_TRAFFIC_BREAKDOWN=false, and the totals stay', async () => {
    const api = await startApi();
    open.push(api);
    const lb = await lbBefore(api, { LB_TRAFFIC_BREAKDOWN: 'false' });
    await burst(lb.url);
    const block = (await getStats(lb.url))['load-balancer'];
    expect(block.requests_per_second).toBe(6.5);
    expect(block.routes).toEqual([]);
    expect(block.upstreams.api[0]).toMatchObject({ state: 'up', requests: 0 });
    expect(await (await fetch(`${lb.url}/metrics`)).text()).not.toContain('lb_route_request_duration_seconds_count');
  });
});

describe('per-upstream target figures', () => {
  it('show each target of each group: state, requests and errors in the window, p95, the last failure and when', async () => {
    const api = await startApi();
    open.push(api);
    const dead = `http://127.0.0.1:${await freePort()}`;
    const startedAt = Date.now();
    const lb = await lbBefore(api, {
      API_GATEWAY_URL: `${api.url},${dead}`,
      LB_BALANCING: 'round-robin',
      LB_COOLDOWN_MS: '60000',
    });
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${lb.url}/api/posts/${i}?status=${i < 4 ? 503 : 200}`);
      await res.arrayBuffer();
    }
    await fetch(`${lb.url}/`).then((res) => res.arrayBuffer());
    const { upstreams } = (await getStats(lb.url))['load-balancer'];
    expect(Object.keys(upstreams)).toEqual(['api', 'dashboard', 'blog', 'auth', 'user']);
    const [live, gone] = upstreams.api as [UpstreamTargetFigures, UpstreamTargetFigures];
    // The dead one was tried until it was taken out; every request it could not take went to the live one.
    expect(gone).toMatchObject({ url: dead, state: 'out', in_flight: 0, last_error: 'ECONNREFUSED' });
    expect(Date.parse(gone.last_change)).toBeGreaterThanOrEqual(startedAt);
    expect(live).toMatchObject({ url: api.url, state: 'up', in_flight: 0, requests: 20, errors: 4, last_error: null });
    expect(live.p95_response_time_ms).toBeGreaterThan(0);
    // The dashboard group is the same fake: it got the page request.
    expect(upstreams.dashboard[0]).toMatchObject({ url: api.url, requests: 1, errors: 0 });
    expect(upstreams.auth[0]).toMatchObject({ state: 'up', requests: 0 });
  });

  it('count the 502 and 504 the load balancer answers for a target as its errors', async () => {
    const slow = await startFakeUpstream('slow', { handler: () => undefined });
    open.push(slow);
    const lb = await lbBefore(slow, { LB_UPSTREAM_HEADERS_TIMEOUT_MS: '300', LB_STATS_TIMEOUT_MS: '200' });
    for (let i = 0; i < 3; i++) expect((await fetch(`${lb.url}/api/posts`)).status).toBe(504);
    await sleep(50);
    const [target] = (await getStats(lb.url))['load-balancer'].upstreams.api;
    expect(target).toMatchObject({ requests: 3, errors: 3, state: 'up' });
    expect(target?.last_error).toBe('no answer within the time limit (UND_ERR_HEADERS_TIMEOUT)');
  });
});

describe('one computation of /stats', () => {
  it('asks each service for its /stats at most twice for 50 concurrent /stats requests', async () => {
    const services = await Promise.all(['api', 'auth', 'user', 'blog'].map((name) => startFakeUpstream(name)));
    open.push(...services);
    const [api, auth, user, blog] = services as [FakeUpstream, FakeUpstream, FakeUpstream, FakeUpstream];
    const lb = await lbBefore(api, {
      AUTH_SERVICE_URL: auth.url,
      USER_SERVICE_URL: user.url,
      BLOG_SERVICE_URL: blog.url,
      DASHBOARD_UI_URL: blog.url,
    });
    const statsCalls = () => services.map((service) => service.seen.filter((seen) => seen.url === '/stats').length);
    const before = statsCalls();
    const answers = await Promise.all(Array.from({ length: 50 }, () => getStats(lb.url)));
    expect(answers.every((answer) => answer['api-gateway'].service_status === 'online')).toBe(true);
    const made = statsCalls().map((calls, i) => calls - (before[i] ?? 0));
    for (const calls of made) {
      expect(calls).toBeGreaterThanOrEqual(1);
      expect(calls).toBeLessThanOrEqual(2);
    }
  });
});
