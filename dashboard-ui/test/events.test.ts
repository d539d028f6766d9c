import type { ApiCallEvent, DomainEvent } from '@titanium/service-kit/events-contract';
import { describe, expect, it } from 'vitest';
import { eventLogUrl, readEvent, readEventLog } from '../web/src/events.js';

const CALL: ApiCallEvent = {
  kind: 'api',
  id: 'a1',
  timestamp: '2026-12-02T03:00:00.123Z',
  request_id: 'req-1',
  method: 'GET',
  endpoint: '/api/posts/7',
  route: 'GET /api/posts/:id',
  status: 200,
  outcome: 'success',
  latency_ms: 2.5,
  user_id: 3,
  username: 'ana',
  message: 'GET /api/posts/7 200',
};

const LOGIN: DomainEvent = {
  kind: 'domain',
  type: 'user.login',
  id: 'd1',
  timestamp: '2026-12-02T03:00:01.000Z',
  source: 'auth-service',
  data: { user_id: null, username: null, success: false },
};

describe('event log answers as the page reads them', () => {
  it('reads an API call and a domain event', () => {
    expect(readEvent(CALL)).toEqual({
      kind: 'api',
      call: {
        id: 'a1',
        at: Date.parse(CALL.timestamp),
        method: 'GET',
        endpoint: '/api/posts/7',
        route: 'GET /api/posts/:id',
        status: 200,
        latencyMs: 2.5,
        username: 'ana',
        requestId: 'req-1',
      },
    });
    expect(readEvent(LOGIN)).toEqual({
      kind: 'domain',
      event: { id: 'd1', at: Date.parse(LOGIN.timestamp), type: 'user.login', success: false },
    });
    expect(readEvent({ ...CALL, username: null })).toMatchObject({ call: { username: null } });
  });

  it('leaves out events it cannot read, and cuts texts that are too long', () => {
    for (const bad of [
      null,
      'x',
      { ...CALL, id: '' },
      { ...CALL, timestamp: 'yesterday' },
      { ...CALL, status: '200' },
      { ...CALL, kind: 'other' },
      { ...LOGIN, type: 'user.deleted' },
    ]) {
      expect(readEvent(bad), JSON.stringify(bad)).toBeUndefined();
    }
    const long = readEvent({ ...CALL, endpoint: `/api/${'x'.repeat(5000)}` });
    expect(long?.kind === 'api' && long.call.endpoint.length).toBe(1000);
  });

  it('reads a page of the log: its type, events, cursor and unreadable sources', () => {
    const page = readEventLog({
      type: 'redis',
      events: [CALL, { junk: true }, LOGIN],
      next: 'api:1-0',
      unavailable: ['blog-service'],
    });
    expect(page).toMatchObject({ valid: true, type: 'redis', next: 'api:1-0', unavailable: ['blog-service'] });
    expect(page.events.map((event) => event.kind)).toEqual(['api', 'domain']);
    expect(readEventLog({ type: 'none', events: [], next: null })).toMatchObject({ valid: true, type: 'none' });
    // A page that is no event log at all (an HTML page, another server's JSON).
    expect(readEventLog(undefined).valid).toBe(false);
    expect(readEventLog({ statusCode: 404 }).valid).toBe(false);
  });

  it('asks for the log with every parameter percent-encoded', () => {
    expect(eventLogUrl({ kind: 'api', limit: 200 })).toBe('/logs/messaging?kind=api&limit=200');
    expect(eventLogUrl({ route: 'GET /api/posts/:id', status: '5xx' })).toBe(
      '/logs/messaging?route=GET%20%2Fapi%2Fposts%2F%3Aid&status=5xx',
    );
    expect(eventLogUrl({})).toBe('/logs/messaging');
  });
});
