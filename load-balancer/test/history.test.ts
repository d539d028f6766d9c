import { setTimeout as sleep } from 'node:timers/promises';
import type { HistoryAnswer, HistoryPoint } from '@titanium/service-kit';
import { type FakeUpstream, type RedisServer, startFakeUpstream, startRedis } from '@titanium/test-support';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TrafficHistory } from '../src/history.js';
import { StatsWindow } from '../src/stats-window.js';
import { getStats, manualClock, type RunningLb, startLb } from './helpers.js';

const START = 1_800_000_000_000; // a minute boundary
const iso = (ms: number) => new Date(ms).toISOString();

async function historyOf(base: string, query = ''): Promise<HistoryAnswer> {
  const res = await fetch(`${base}/stats/history${query}`);
  if (res.status !== 200) throw new Error(`/stats/history answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as HistoryAnswer;
}

/** `n` counted requests answered with `status`. */
async function send(base: string, n: number, status = 200): Promise<void> {
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${base}/api/items/${i}?status=${status}`);
    expect(res.status).toBe(status);
    await res.arrayBuffer();
  }
}

function startApi(): Promise<FakeUpstream> {
  return startFakeUpstream('api-gateway', {
    handler: (req, res) => {
      const status = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('status') ?? 200);
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end('{}');
    },
  });
}

function lbEnv(api: FakeUpstream, other: FakeUpstream, extra: Record<string, string> = {}): Record<string, string> {
  return {
    API_GATEWAY_URL: api.url,
    DASHBOARD_UI_URL: other.url,
    BLOG_SERVICE_URL: other.url,
    AUTH_SERVICE_URL: other.url,
    USER_SERVICE_URL: other.url,
    ...extra,
  };
}

const IDLE = {
  requests_per_second: 0,
  avg_response_time_ms: 0,
  p95_response_time_ms: 0,
  p99_response_time_ms: 0,
  success_rate: 100,
  server_error_rate: 0,
  has_real_traffic: false,
};

describe('/stats/history of one load balancer without Redis', () => {
  let api: FakeUpstream;
  let dashboard: FakeUpstream;
  let lb: RunningLb;
  const clock = manualClock(START);

  beforeEach(async () => {
    clock.set(START);
    api = await startApi();
    dashboard = await startFakeUpstream('dashboard');
    lb = await startLb(lbEnv(api, dashboard), { now: clock.now });
  });

  afterEach(async () => {
    await lb.app.close();
    await api.close();
    await dashboard.close();
  });

  it('reports 50 counted requests in one 10-second slot as 5 requests/s, with their success and 5xx rates', async () => {
    await send(lb.url, 40);
    await send(lb.url, 5, 404);
    await send(lb.url, 5, 503);
    expect((await historyOf(lb.url)).points).toEqual([]);

    clock.advance(10_000);
    const answer = await historyOf(lb.url);
    expect(answer).toMatchObject({ range: '1h', resolution_seconds: 10, scope: 'instance' });
    expect(answer.points).toHaveLength(1);
    const [point] = answer.points as [HistoryPoint];
    expect(point).toMatchObject({
      t: iso(START),
      requests_per_second: 5,
      success_rate: 80,
      server_error_rate: 10,
      has_real_traffic: true,
    });
    expect(point.avg_response_time_ms).toBeGreaterThan(0);
    expect(point.p95_response_time_ms).toBeGreaterThan(0);
    expect(point.p99_response_time_ms).toBeGreaterThanOrEqual(point.p95_response_time_ms);
  });

  it('shows an idle slot as idle and has no point for a slot before the load balancer started', async () => {
    clock.advance(10_000);
    await send(lb.url, 3);
    clock.advance(20_000);
    const { points } = await historyOf(lb.url);
    expect(points.map((p) => p.t)).toEqual([iso(START), iso(START + 10_000), iso(START + 20_000)]);
    expect(points[0]).toEqual({ t: iso(START), ...IDLE });
    expect(points[1]).toMatchObject({ requests_per_second: 0.3, has_real_traffic: true });
    expect(points[2]).toEqual({ t: iso(START + 20_000), ...IDLE });
  });

  it('covers the last 24 hours at one minute, each point the whole minute', async () => {
    clock.advance(5_000);
    await send(lb.url, 30);
    clock.advance(20_000);
    await send(lb.url, 30, 500);
    clock.advance(35_000);
    const day = await historyOf(lb.url, '?range=24h');
    expect(day).toMatchObject({ range: '24h', resolution_seconds: 60, scope: 'instance' });
    expect(day.points).toEqual([
      expect.objectContaining({ t: iso(START), requests_per_second: 1, success_rate: 50, server_error_rate: 50 }),
    ]);
    const hour = await historyOf(lb.url, '?range=1h');
    expect(hour.points.map((p) => p.requests_per_second)).toEqual([3, 0, 3, 0, 0, 0]);
  });

  it('gives the same points as CSV with a header row', async () => {
    await send(lb.url, 20);
    clock.advance(10_000);
    await send(lb.url, 4, 502);
    clock.advance(60_000);
    for (const range of ['1h', '24h']) {
      const json = await historyOf(lb.url, `?range=${range}`);
      const res = await fetch(`${lb.url}/stats/history?range=${range}&format=csv`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
      expect(res.headers.get('cache-control')).toBe('no-store');
      const [header, ...rows] = (await res.text()).split('\r\n');
      expect(header).toBe(
        't,requests_per_second,avg_response_time_ms,p95_response_time_ms,p99_response_time_ms,success_rate,server_error_rate,has_real_traffic',
      );
      expect(rows.pop()).toBe('');
      const columns = (header as string).split(',') as (keyof HistoryPoint)[];
      expect(rows).toHaveLength(json.points.length);
      expect(rows.map((row) => row.split(','))).toEqual(
        json.points.map((point) => columns.map((column) => String(point[column]))),
      );
    }
  });

  it('refuses a bad range, format or parameter with a 400 naming what is allowed', async () => {
    const cases: [string, RegExp][] = [
      ['?range=2h', /range must be given once, as one of: 1h, 24h/],
      ['?range=', /range .*1h, 24h/],
      ['?range=1h&range=24h', /range must be given once/],
      ['?format=xml', /format must be given once, as one of: json, csv/],
      ['?range=1h&rnage=24h', /Unknown query parameter "rnage".*range \(1h or 24h\) and format \(json or csv\)/],
    ];
    for (const [query, message] of cases) {
      const res = await fetch(`${lb.url}/stats/history${query}`);
      expect(res.status, query).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      const body = await res.json();
      expect(body).toEqual({ statusCode: 400, error: 'Bad Request', message: expect.stringMatching(message) });
    }
    expect((await fetch(`${lb.url}/stats/history?range=24h&format=json`)).status).toBe(200);
  });

  it('is answered by the load balancer itself, never counted, and not cached', async () => {
    const res = await fetch(`${lb.url}/stats/history`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(dashboard.seen.map((r) => r.url)).not.toContain('/stats/history');
    clock.advance(10_000);
    expect((await getStats(lb.url))['load-balancer'].total_requests).toBe(0);
    expect((await historyOf(lb.url)).points).toEqual([{ t: iso(START), ...IDLE }]);
  });
});

describe('the history kept in memory', () => {
  it('holds at most an hour of 10-second slots and a day of minutes, however long it runs', async () => {
    const clock = manualClock(START);
    const window = new StatsWindow(clock.now);
    const history = new TrafficHistory({ window, redis: undefined, instanceId: 'solo', prefix: 'test' });
    history.start();
    try {
      for (let hour = 0; hour < 26; hour++) {
        for (let step = 0; step < 6; step++) {
          window.record(200, 1, false);
          clock.advance(600_000);
          await history.answer('1h');
        }
      }
      expect(history.held('1h')).toBe(360);
      expect(history.held('24h')).toBe(1_440);
    } finally {
      await history.stop();
    }
  });

  it('answers a day of minutes with one point each', async () => {
    const clock = manualClock(START);
    const window = new StatsWindow(clock.now);
    const history = new TrafficHistory({ window, redis: undefined, instanceId: 'solo', prefix: 'test' });
    history.start();
    clock.advance(25 * 3_600_000);
    const day = await history.answer('24h');
    const hour = await history.answer('1h');
    await history.stop();
    expect(day.points).toHaveLength(1_440);
    expect(day.points[0]?.t).toBe(iso(START + 3_600_000));
    expect(hour.points).toHaveLength(360);
    expect(hour.points.at(-1)?.t).toBe(iso(START + 25 * 3_600_000 - 10_000));
  });
});

describe('/stats/history with Redis', () => {
  let redis: RedisServer;
  let client: Redis;
  let api: FakeUpstream;
  let other: FakeUpstream;
  const lbs: RunningLb[] = [];
  const clock = manualClock(START);
  let prefix = '';
  let run = 0;

  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.url, { maxRetriesPerRequest: 0, lazyConnect: true });
    client.on('error', () => undefined);
    api = await startApi();
    other = await startFakeUpstream('other');
  });

  beforeEach(() => {
    clock.set(START);
    prefix = `history-${++run}`;
  });

  afterEach(async () => {
    await Promise.all(lbs.splice(0).map((lb) => lb.app.close()));
  });

  afterAll(async () => {
    client.disconnect();
    await redis.stop();
    await api.close();
    await other.close();
  });

  async function lb(id: string): Promise<RunningLb> {
    const env = lbEnv(api, other, { REDIS_URL: redis.url, LB_INSTANCE_ID: id, LB_REDIS_PREFIX: prefix });
    const started = await startLb(env, { now: clock.now });
    lbs.push(started);
    await expect
      .poll(async () => (await getStats(started.url))['load-balancer'].scope, { timeout: 5_000 })
      .toBe('cluster');
    return started;
  }

  const keys = async (resolution: number) => (await client.keys(`${prefix}:h${resolution}:*`)).length;

  it('serves the same series from two load balancers, each slot summed over both', async () => {
    const [a, b] = [await lb('lb-a'), await lb('lb-b')];
    await send(a.url, 30);
    await send(b.url, 20, 503);
    clock.advance(10_000);
    const expected = {
      range: '1h',
      resolution_seconds: 10,
      scope: 'cluster',
      points: [
        expect.objectContaining({ t: iso(START), requests_per_second: 5, success_rate: 60, server_error_rate: 40 }),
      ],
    };
    await expect.poll(() => historyOf(a.url), { timeout: 5_000 }).toEqual(expected);
    await expect.poll(() => historyOf(b.url), { timeout: 5_000 }).toEqual(expected);
    expect(await historyOf(a.url)).toEqual(await historyOf(b.url));
  });

  it('keeps what was recorded before a restart, and has no point where no load balancer ran', async () => {
    const first = await lb('lb-a');
    await send(first.url, 10);
    clock.advance(20_000);
    await historyOf(first.url);
    await first.app.close();
    lbs.splice(lbs.indexOf(first), 1);

    clock.advance(40_000);
    const second = await lb('lb-a');
    clock.advance(10_000);
    const { scope, points } = await historyOf(second.url);
    expect(scope).toBe('cluster');
    expect(points).toEqual([
      expect.objectContaining({ t: iso(START), requests_per_second: 1, has_real_traffic: true }),
      { t: iso(START + 10_000), ...IDLE },
      { t: iso(START + 60_000), ...IDLE },
    ]);
  });

  it('keeps a bounded number of keys in Redis, however long it runs', async () => {
    const one = await lb('lb-a');
    for (let minutes = 10; minutes <= 25 * 60; minutes += 10) {
      await send(one.url, 1);
      clock.advance(600_000);
      await historyOf(one.url);
    }
    const day = await historyOf(one.url, '?range=24h');
    expect(day.points).toHaveLength(1_440);
    expect((await historyOf(one.url)).points).toHaveLength(360);
    expect(await keys(10)).toBeGreaterThanOrEqual(360);
    expect(await keys(10)).toBeLessThanOrEqual(362);
    expect(await keys(60)).toBeGreaterThanOrEqual(1_440);
    expect(await keys(60)).toBeLessThanOrEqual(1_442);
    for (const key of await client.keys(`${prefix}:h*`)) expect(await client.ttl(key)).toBeGreaterThan(0);
  });

  it('answers from its own memory while Redis is away, keeps what it recorded meanwhile, and goes back to the cluster', async () => {
    const one = await lb('lb-a');
    await send(one.url, 10);
    clock.advance(10_000);
    expect((await historyOf(one.url)).scope).toBe('cluster');
    expect(await client.hkeys(`${prefix}:h10:${START / 1000}`)).toEqual(['lb-a']);

    await redis.stop();
    await send(one.url, 20);
    clock.advance(10_000);
    // Long enough for the once-a-second flush to try, and fail, to send the slot.
    await sleep(1_500);
    const during = await historyOf(one.url);
    expect(during.scope).toBe('instance');
    expect(during.points.map((p) => p.requests_per_second)).toEqual([1, 2]);

    redis = await redis.restart();
    await expect.poll(async () => (await historyOf(one.url)).scope, { timeout: 10_000 }).toBe('cluster');
    expect((await historyOf(one.url)).points.map((p) => p.requests_per_second)).toEqual([1, 2]);
    // The slot recorded during the outage reached Redis once it answered again.
    const raw = await client.hget(`${prefix}:h10:${START / 1000 + 10}`, 'lb-a');
    expect(JSON.parse(raw ?? '{}')).toMatchObject({ c: 20, s: 20 });
  });

  it('answers at once from its own memory while Redis is frozen, and sends the slot once it thaws', async () => {
    const one = await lb('lb-a');
    await send(one.url, 10);
    redis.freeze();
    try {
      clock.advance(10_000);
      const started = performance.now();
      const answer = await historyOf(one.url);
      expect(performance.now() - started).toBeLessThan(2_000);
      expect(answer).toMatchObject({
        scope: 'instance',
        points: [expect.objectContaining({ t: iso(START), requests_per_second: 1 })],
      });
      expect(await historyOf(one.url, '?range=24h')).toMatchObject({ scope: 'instance', points: [] });
    } finally {
      redis.resume();
    }
    await expect.poll(async () => (await historyOf(one.url)).scope, { timeout: 10_000 }).toBe('cluster');
    const raw = await client.hget(`${prefix}:h10:${START / 1000}`, 'lb-a');
    expect(JSON.parse(raw ?? '{}')).toMatchObject({ c: 10, s: 10 });
  });
  it('keeps a slot Redis refused to store and sends it once Redis takes writes again', async () => {
    const one = await lb('lb-a');
    await client.config('SET', 'maxmemory', '1');
    try {
      await send(one.url, 10);
      clock.advance(10_000);
      const answer = await historyOf(one.url);
      expect(answer).toMatchObject({ scope: 'cluster', points: [expect.objectContaining({ requests_per_second: 1 })] });
      expect(await client.exists(`${prefix}:h10:${START / 1000}`)).toBe(0);
    } finally {
      await client.config('SET', 'maxmemory', '0');
    }
    // The once-a-second send tries again and gets it in.
    await expect
      .poll(async () => JSON.parse((await client.hget(`${prefix}:h10:${START / 1000}`, 'lb-a')) ?? '{}'), {
        timeout: 3_000,
      })
      .toMatchObject({ c: 10, s: 10 });
  });
});
