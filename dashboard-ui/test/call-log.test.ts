import { describe, expect, it } from 'vitest';
import {
  type CallFilter,
  CallLog,
  isFailure,
  MAX_CALL_ROWS,
  NO_FILTER,
  RouteChoices,
  statusClass,
} from '../web/src/call-log.js';
import type { ApiCall } from '../web/src/events.js';

const T0 = Date.parse('2026-12-02T03:00:00.000Z');

function call(n: number, fields: Partial<ApiCall> = {}): ApiCall {
  return {
    id: `c${n}`,
    at: T0 + n * 10,
    method: 'GET',
    endpoint: `/api/posts/${n}`,
    route: 'GET /api/posts/:id',
    status: 200,
    latencyMs: 1.5,
    username: null,
    requestId: `r${n}`,
    ...fields,
  };
}

const ids = (calls: readonly ApiCall[]) => calls.map((c) => c.id);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('API call log', () => {
  it('shows at most 200 rows, newest first, and keeps at most 1,000 calls', () => {
    const log = new CallLog();
    log.add(range(1, 1200).map((n) => call(n)));
    expect(log.calls).toHaveLength(1000);
    const rows = log.rows(NO_FILTER);
    expect(rows).toHaveLength(MAX_CALL_ROWS);
    expect(rows[0]?.id).toBe('c1200');
    expect(rows.at(-1)?.id).toBe('c1001');
    expect(log.calls.at(-1)?.id).toBe('c201');
  });

  it('puts every call in its place whether it comes from the backlog (newest first) or the stream (oldest first)', () => {
    const log = new CallLog();
    // The backlog, newest first, then live calls, then a late backlog overlapping both.
    log.add([call(5), call(4), call(3)]);
    log.add([call(6), call(7)]);
    log.add([call(7), call(6), call(5), call(2), call(1)]);
    expect(ids(log.calls)).toEqual(['c7', 'c6', 'c5', 'c4', 'c3', 'c2', 'c1']);
  });

  it('takes each call once, by its id', () => {
    const log = new CallLog();
    expect(log.add([call(1), call(2)])).toBe(2);
    expect(log.add([call(2), call(1), call(3)])).toBe(1);
    expect(log.calls).toHaveLength(3);
  });

  it('keeps calls answered in the same millisecond in the order they came, the later first', () => {
    const log = new CallLog();
    log.add([call(1, { id: 'a' }), call(1, { id: 'b' })]);
    expect(ids(log.calls)).toEqual(['b', 'a']);
  });

  it('leaves out a call older than every one kept once the log is full', () => {
    const log = new CallLog(3);
    log.add([call(5), call(6), call(7)]);
    expect(log.add([call(1)])).toBe(0);
    expect(ids(log.calls)).toEqual(['c7', 'c6', 'c5']);
  });

  it('shows only failures (400 and above) with "failures only", one route with the route filter, and both together', () => {
    const log = new CallLog();
    log.add([
      call(1, { status: 200 }),
      call(2, { status: 404 }),
      call(3, { status: 503, route: 'POST /api/login', method: 'POST' }),
      call(4, { status: 302 }),
      call(5, { status: 201, route: 'POST /api/login', method: 'POST' }),
      call(6, { status: 399 }),
      call(7, { status: 400 }),
    ]);
    const shown = (filter: CallFilter) => ids(log.rows(filter));
    expect(shown({ failuresOnly: true, route: undefined })).toEqual(['c7', 'c3', 'c2']);
    expect(shown({ failuresOnly: false, route: 'POST /api/login' })).toEqual(['c5', 'c3']);
    expect(shown({ failuresOnly: true, route: 'POST /api/login' })).toEqual(['c3']);
    expect(shown({ failuresOnly: true, route: 'GET /api/users/:username' })).toEqual([]);
  });

  it('fills 200 filtered rows from the calls kept beyond the 200 shown', () => {
    const log = new CallLog();
    log.add(range(1, 1000).map((n) => call(n, { status: n % 4 === 0 ? 500 : 200 })));
    const rows = log.rows({ failuresOnly: true, route: undefined });
    expect(rows).toHaveLength(200);
    expect(rows.every((row) => row.status === 500)).toBe(true);
  });

  it('holds the rows still while paused, counts what arrives, and shows it on resume, still at most 200', () => {
    const log = new CallLog();
    log.add(range(1, 150).map((n) => call(n)));
    log.pause();
    expect(log.paused).toBe(true);
    log.add(range(151, 250).map((n) => call(n, { status: n % 2 === 0 ? 500 : 200 })));
    expect(log.rows(NO_FILTER)[0]?.id).toBe('c150');
    expect(log.rows(NO_FILTER)).toHaveLength(150);
    expect(log.held(NO_FILTER)).toBe(100);
    // The count follows the filter: only the calls that would show.
    expect(log.held({ failuresOnly: true, route: undefined })).toBe(50);
    // A filter changed while paused narrows what was shown at the pause.
    expect(log.rows({ failuresOnly: true, route: undefined })).toEqual([]);
    log.resume();
    expect(log.held(NO_FILTER)).toBe(0);
    const rows = log.rows(NO_FILTER);
    expect(rows).toHaveLength(200);
    expect(rows[0]?.id).toBe('c250');
  });

  it('keeps the paused rows even when more calls arrive meanwhile than it keeps', () => {
    const log = new CallLog(100);
    log.add(range(1, 50).map((n) => call(n)));
    log.pause();
    log.add(range(51, 400).map((n) => call(n)));
    expect(ids(log.rows(NO_FILTER, 3))).toEqual(['c50', 'c49', 'c48']);
    expect(log.held(NO_FILTER)).toBe(100);
  });

  it('names status classes and takes 400 and above as failures, as the load balancer does', () => {
    expect([101, 200, 204, 301, 399, 400, 404, 499, 500, 503, 0, 999].map(statusClass)).toEqual([
      '1xx',
      '2xx',
      '2xx',
      '3xx',
      '3xx',
      '4xx',
      '4xx',
      '4xx',
      '5xx',
      '5xx',
      'other',
      'other',
    ]);
    expect(isFailure(call(1, { status: 399 }))).toBe(false);
    expect(isFailure(call(1, { status: 400 }))).toBe(true);
  });
});

describe('route choices', () => {
  it('offers each route once, by path then method, with other last', () => {
    const choices = new RouteChoices();
    expect(choices.add(['POST /api/posts', 'other', 'GET /api/posts/:id', 'GET /api/posts'])).toBe(true);
    expect(choices.add(['GET /api/posts', ''])).toBe(false);
    expect(choices.add(['DELETE /api/posts/:id'])).toBe(true);
    expect(choices.routes).toEqual([
      'GET /api/posts',
      'POST /api/posts',
      'DELETE /api/posts/:id',
      'GET /api/posts/:id',
      'other',
    ]);
  });

  it('offers at most its bound, whatever a server sends', () => {
    const choices = new RouteChoices(5);
    choices.add(range(1, 50).map((n) => `GET /api/x${n}`));
    expect(choices.routes).toHaveLength(5);
  });
});
