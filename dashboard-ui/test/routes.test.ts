import { describe, expect, it } from 'vitest';
import { AlertTracker, MAX_ROUTE_ALERTS } from '../web/src/alerts.js';
import {
  DEFAULT_ROUTE_SORT,
  MAX_ROUTE_ROWS,
  nextSort,
  type RouteRow,
  routeRows,
  sortRoutes,
  worstRoute,
} from '../web/src/routes.js';
import type { RouteEntry, StatsResponse } from '../web/src/stats-types.js';
import { summarize } from '../web/src/status.js';
import { upstreamGroups } from '../web/src/upstreams.js';

function route(name: string, figures: Partial<RouteEntry> = {}): RouteEntry {
  return {
    route: name,
    requests_per_second: 1,
    success_rate: 100,
    server_error_rate: 0,
    avg_response_time_ms: 1,
    p50_response_time_ms: 1,
    p95_response_time_ms: 2,
    p99_response_time_ms: 3,
    status: { '2xx': 10, '3xx': 0, '4xx': 0, '5xx': 0 },
    ...figures,
  };
}

function stats(routes: RouteEntry[] | undefined, lb: Record<string, unknown> = {}): StatsResponse {
  const online = { service_status: 'online' } as const;
  return {
    'load-balancer': { status: 'healthy', has_real_traffic: true, success_rate: 100, routes, ...lb },
    'api-gateway': online,
    auth: online,
    user_service: online,
    blog_service: online,
  };
}

const ROUTES = [
  route('GET /api/posts', { requests_per_second: 4, p95_response_time_ms: 3.1 }),
  route('GET /api/posts/:id', { requests_per_second: 2, p95_response_time_ms: 40 }),
  route('POST /api/login', {
    requests_per_second: 0.5,
    success_rate: 0,
    p95_response_time_ms: 5,
    status: { '2xx': 0, '3xx': 0, '4xx': 5, '5xx': 0 },
  }),
];

const names = (rows: RouteRow[]) => rows.map((row) => row.route);

describe('routes table', () => {
  it('reads each route, and says when the load balancer reports none', () => {
    const rows = routeRows(ROUTES);
    expect(rows?.[2]).toEqual({
      route: 'POST /api/login',
      rps: 0.5,
      successRate: 0,
      p50Ms: 1,
      p95Ms: 5,
      p99Ms: 3,
      clientErrors: 5,
      serverErrors: 0,
    });
    expect(routeRows(undefined)).toBeUndefined();
    expect(routeRows([])).toEqual([]);
    expect(routeRows([null, 7, { requests_per_second: 3 }, route('GET /api/health')])?.map((r) => r.route)).toEqual([
      'GET /api/health',
    ]);
    expect(routeRows(Array.from({ length: 5000 }, (_, i) => route(`GET /r${i}`)))).toHaveLength(MAX_ROUTE_ROWS);
  });

  it('sorts by any column, both ways, ties kept in the busiest-first order', () => {
    const rows = routeRows(ROUTES) ?? [];
    expect(names(sortRoutes(rows, DEFAULT_ROUTE_SORT))).toEqual([
      'GET /api/posts',
      'GET /api/posts/:id',
      'POST /api/login',
    ]);
    expect(names(sortRoutes(rows, { column: 'p95Ms', direction: 'descending' }))).toEqual([
      'GET /api/posts/:id',
      'POST /api/login',
      'GET /api/posts',
    ]);
    expect(names(sortRoutes(rows, { column: 'successRate', direction: 'ascending' }))).toEqual([
      'POST /api/login',
      'GET /api/posts',
      'GET /api/posts/:id',
    ]);
    expect(names(sortRoutes(rows, { column: 'route', direction: 'descending' }))).toEqual([
      'POST /api/login',
      'GET /api/posts/:id',
      'GET /api/posts',
    ]);
    // Sorting copies: the rows keep their order.
    expect(names(rows)[0]).toBe('GET /api/posts');
  });

  it('sorts numbers largest first and text A to Z on the first click, the other way on the next', () => {
    expect(nextSort(DEFAULT_ROUTE_SORT, 'p95Ms')).toEqual({ column: 'p95Ms', direction: 'descending' });
    expect(nextSort({ column: 'p95Ms', direction: 'descending' }, 'p95Ms')).toEqual({
      column: 'p95Ms',
      direction: 'ascending',
    });
    expect(nextSort(DEFAULT_ROUTE_SORT, 'route')).toEqual({ column: 'route', direction: 'ascending' });
    expect(nextSort(DEFAULT_ROUTE_SORT, 'rps')).toEqual({ column: 'rps', direction: 'ascending' });
  });

  it('flags as worst the lowest success rate, then the highest p95', () => {
    expect(worstRoute(routeRows(ROUTES) ?? [])?.route).toBe('POST /api/login');
    const healthy = routeRows(ROUTES.slice(0, 2)) ?? [];
    expect(worstRoute(healthy)?.route).toBe('GET /api/posts/:id');
    expect(worstRoute([])).toBeUndefined();
  });
});

describe('route alerts', () => {
  const messages = (tracker: AlertTracker, s: StatsResponse) =>
    tracker.update(summarize(s)).map((a) => [a.level, a.message]);

  it('raise one warning when a route falls below 95 % success, none while it lasts, one on recovery', () => {
    const tracker = new AlertTracker();
    expect(messages(tracker, stats(ROUTES.slice(0, 2)))).toEqual([]);
    expect(messages(tracker, stats(ROUTES))).toEqual([
      ['warning', 'POST /api/login: success rate 0.0 % is below 95 %'],
    ]);
    expect(messages(tracker, stats(ROUTES))).toEqual([]);
    // Out of the window it is not measured: no recovery yet.
    expect(messages(tracker, stats(ROUTES.slice(0, 2)))).toEqual([]);
    expect(messages(tracker, stats([], { has_real_traffic: false }))).toEqual([]);
    expect(messages(tracker, stats([route('POST /api/login', { success_rate: 96 })]))).toEqual([
      ['info', 'POST /api/login: success rate recovered to 96.0 %'],
    ]);
  });

  it('raise one warning when a route p95 rises above the bound, and one when it is back', () => {
    const tracker = new AlertTracker(50, { routeP95Ms: 20 });
    expect(messages(tracker, stats(ROUTES.slice(0, 1)))).toEqual([]);
    expect(messages(tracker, stats(ROUTES.slice(0, 2)))).toEqual([
      ['warning', 'GET /api/posts/:id: p95 40.0 ms is above 20.0 ms'],
    ]);
    expect(messages(tracker, stats([route('GET /api/posts/:id', { p95_response_time_ms: 250 })]))).toEqual([]);
    expect(messages(tracker, stats([route('GET /api/posts/:id', { p95_response_time_ms: 20 })]))).toEqual([
      ['info', 'GET /api/posts/:id: p95 back to 20.0 ms'],
    ]);
    // Without a bound, no p95 alerts at all.
    expect(messages(new AlertTracker(), stats([route('GET /slow', { p95_response_time_ms: 9e6 })]))).toEqual([]);
  });

  it('say nothing about routes while /stats is unreachable', () => {
    const tracker = new AlertTracker();
    messages(tracker, stats(ROUTES));
    expect(tracker.update(summarize(undefined))).toEqual([]);
    expect(messages(tracker, stats(ROUTES))).toEqual([]);
  });

  it('stay bounded however many routes fail', () => {
    const tracker = new AlertTracker(10_000);
    const failing = Array.from({ length: 500 }, (_, i) => route(`GET /r${i}`, { success_rate: 1 }));
    expect(tracker.update(summarize(stats(failing)))).toHaveLength(MAX_ROUTE_ALERTS);
    const healthy = failing.map((r) => ({ ...r, success_rate: 100 }));
    expect(tracker.update(summarize(stats(healthy)))).toHaveLength(MAX_ROUTE_ALERTS);
    expect(tracker.update(summarize(stats(failing.slice(400))))).toHaveLength(MAX_ROUTE_ALERTS);
  });
});

describe('upstream targets', () => {
  it('lists the load balancer groups, then the gateway upstreams, leaving out what is not reported', () => {
    const groups = upstreamGroups({
      'load-balancer': {
        upstreams: {
          api: [
            {
              url: 'http://gw-a:8000',
              state: 'up',
              in_flight: 2,
              requests: 60,
              errors: 1,
              p95_response_time_ms: 3,
              last_error: null,
              last_change: '2026-12-02T03:00:00.000Z',
            },
            { url: 'http://gw-b:8000', state: 'out', last_error: 'connect ECONNREFUSED' },
          ],
          blog: [{ url: 'http://blog:8005', state: 'draining' }],
        },
      },
      'api-gateway': {
        service_status: 'online',
        upstreams: {
          auth: { requests: 5, errors: 0, avg_response_time_ms: 1, p95_response_time_ms: 2 },
          user: { requests: 7, errors: 3, avg_response_time_ms: 1, p95_response_time_ms: 9, failing: 'timeout' },
        },
      },
    });
    expect(groups.map((g) => g.key)).toEqual(['lb:api', 'lb:blog', 'gateway']);
    expect(groups[0]?.targets[0]).toEqual({
      name: 'http://gw-a:8000',
      state: 'up',
      inFlight: 2,
      requests: 60,
      errors: 1,
      p95Ms: 3,
      lastError: null,
      lastChange: '2026-12-02T03:00:00.000Z',
    });
    expect(groups[0]?.targets[1]).toMatchObject({ state: 'out', lastError: 'connect ECONNREFUSED', inFlight: 0 });
    expect(groups[2]?.targets.map((t) => [t.name, t.state, t.inFlight, t.lastError])).toEqual([
      ['auth-service', 'up', undefined, null],
      ['user-service', 'failing', undefined, 'timeout'],
    ]);
  });

  it('shows an unknown state as unknown and reports nothing for servers without upstreams', () => {
    const groups = upstreamGroups({ 'load-balancer': { upstreams: { api: [{ url: 'x', state: 'weird' as 'up' }] } } });
    expect(groups[0]?.targets[0]?.state).toBe('unknown');
    expect(upstreamGroups(stats(undefined))).toEqual([]);
    expect(upstreamGroups(undefined)).toEqual([]);
    expect(
      upstreamGroups({
        'api-gateway': { service_status: 'offline', error: 'x', upstreams: { auth: { requests: 1 } } },
      }),
    ).toEqual([]);
  });
});
