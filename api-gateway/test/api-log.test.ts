import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ApiCallEvent, GatewayFields } from '@titanium/service-kit';
import { type Backends, type Component, redisComponent, startBackends } from '@titanium/test-support';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const SECRET = 'a-secret-for-the-api-log-tests-only-0123';
const STREAM = 'titanium:events:api';

describe('the API-call log of the gateway', () => {
  let dir: string;
  let redis: Component;
  let backends: Backends;
  let client: Redis;
  let base: string;

  const events = async (): Promise<ApiCallEvent[]> =>
    (await client.xrange(STREAM, '-', '+')).map(([, fields]) => JSON.parse(fields[1] as string) as ApiCallEvent);
  const messaging = async () =>
    ((await (await fetch(`${base}/stats`)).json()) as { 'api-gateway': GatewayFields })['api-gateway'].messaging;
  /** The events of the calls whose request ids are given, in that order, once all have arrived. */
  const eventsOf = async (ids: string[]) => {
    await expect
      .poll(async () => (await events()).filter((e) => ids.includes(e.request_id)).length, { timeout: 10_000 })
      .toBe(ids.length);
    const byId = new Map((await events()).map((e) => [e.request_id, e]));
    return ids.map((id) => byId.get(id) as ApiCallEvent);
  };
  const send = async (method: string, path: string, init: { body?: unknown; token?: string; id?: string } = {}) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
        ...(init.id ? { 'x-request-id': init.id } : {}),
      },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    await res.arrayBuffer();
    return { status: res.status, id: res.headers.get('x-request-id') ?? '' };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'titanium-api-log-'));
    redis = await redisComponent();
    backends = await startBackends(dir, SECRET, { REDIS_URL: redis.url, MESSAGING_BUFFER_EVENTS: '50' });
    base = backends.gateway.url;
    client = new Redis(redis.url);
  }, 60_000);

  afterAll(async () => {
    client?.disconnect();
    await Promise.all(Object.values(backends ?? {}).map((service) => service.stop()));
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('logs each call with its route, status, outcome, latency and request id, without the query string', async () => {
    const calls = [
      await send('GET', '/api/posts?offset=0&limit=5&q=secret-search'),
      await send('GET', '/api/posts/12345'),
      await send('GET', '/api/users/nobody_here'),
      await send('GET', '/api/no/such/route?x=1'),
      await send('POST', '/api/posts', { body: { title: 'no token' } }),
      await send('GET', '/api/health'),
    ];
    const logged = await eventsOf(calls.map((c) => c.id));
    expect(logged.map((e) => [e.method, e.endpoint, e.route, e.status, e.outcome])).toEqual([
      ['GET', '/api/posts', 'GET /api/posts', 200, 'success'],
      ['GET', '/api/posts/12345', 'GET /api/posts/:id', 404, 'failure'],
      ['GET', '/api/users/nobody_here', 'GET /api/users/:username', 404, 'failure'],
      ['GET', '/api/no/such/route', 'other', 404, 'failure'],
      ['POST', '/api/posts', 'POST /api/posts', 401, 'failure'],
      ['GET', '/api/health', 'GET /api/health', 200, 'success'],
    ]);
    for (const event of logged) {
      expect(event).toMatchObject({ kind: 'api', user_id: null, username: null });
      expect(event.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(event.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(event.latency_ms).toBeGreaterThan(0);
      expect(event.message).toContain(`${event.method} ${event.endpoint} ${event.status}`);
    }
    expect(JSON.stringify(logged)).not.toContain('secret-search');
  });

  it('names the user of a verified token, and nobody for a forged one', async () => {
    const user = {
      username: `logger_${Date.now().toString(36)}`,
      email: 'logger@example.com',
      password: 'password-123',
    };
    await send('POST', '/api/register', { body: user });
    const login = await fetch(`${base}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: user.username, password: user.password }),
    });
    const { token } = (await login.json()) as { token: string };
    const [header, payload] = token.split('.');
    const forged = `${header}.${payload}.${'A'.repeat(43)}`;
    const calls = [
      await send('POST', '/api/posts', { body: { title: 'Mine', content: 'Hello' }, token }),
      await send('POST', '/api/posts', { body: { title: 'Forged', content: 'Hello' }, token: forged }),
    ];
    const [mine, forgedCall] = await eventsOf(calls.map((c) => c.id));
    expect(mine).toMatchObject({ status: 201, username: user.username, user_id: expect.any(Number) });
    expect(forgedCall).toMatchObject({ status: 401, username: null, user_id: null });
    const text = JSON.stringify(await events());
    for (const secret of [token, user.password, user.email, 'Bearer']) expect(text).not.toContain(secret);
  });

  it('logs a call the client left before its answer as a failure, status 499', async () => {
    const id = `left-${Date.now()}`;
    // A login that takes a password check; the client hangs up at once.
    await new Promise<void>((resolve) => {
      const req = request(`${base}/api/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': id },
      });
      req.on('error', () => resolve());
      req.end(JSON.stringify({ username: 'someone', password: 'x'.repeat(100) }), () => {
        setTimeout(() => {
          req.destroy();
          resolve();
        }, 5);
      });
    });
    const [left] = await eventsOf([id]);
    expect(left).toMatchObject({ status: 499, outcome: 'failure', route: 'POST /api/login' });
    expect(left?.message).toMatch(/left before the answer/);
  });

  it('answers at once while Redis is frozen, buffers the events, and publishes each once when it thaws', async () => {
    const before = await messaging();
    redis.freeze();
    try {
      const calls = [];
      for (let i = 0; i < 20; i++) calls.push(await send('GET', `/api/posts?page=${i}`));
      expect(calls.every((c) => c.status === 200)).toBe(true);
      await expect.poll(async () => (await messaging()).status, { timeout: 10_000 }).toBe('failing');
      const frozen = await messaging();
      expect(frozen.buffered).toBe(20);
      expect(frozen.last_error).toEqual(expect.any(String));
      expect(frozen.dropped).toBe(before.dropped);
      redis.resume();
      const logged = await eventsOf(calls.map((c) => c.id));
      expect(logged.every((e) => e.status === 200)).toBe(true);
      const ids = (await events()).map((e) => e.id);
      expect(new Set(ids).size).toBe(ids.length);
      await expect.poll(async () => (await messaging()).status, { timeout: 10_000 }).toBe('healthy');
      const after = await messaging();
      expect(after).toMatchObject({ buffered: 0, published: before.published + 20 });
    } finally {
      if (redis.frozen) redis.resume();
    }
  });

  it('drops the oldest waiting events past its buffer while Redis is frozen, and counts every one', async () => {
    const before = await messaging();
    redis.freeze();
    try {
      const calls = [];
      for (let i = 0; i < 80; i++) calls.push(await send('GET', '/api/health'));
      await expect.poll(async () => (await messaging()).status, { timeout: 10_000 }).toBe('failing');
      // The batch that was on its way when Redis froze is held for its retry (how many it took
      // depends on the machine's speed); 60 more calls overflow the buffer (50) whatever it took.
      for (let i = 0; i < 60; i++) calls.push(await send('GET', '/api/health'));
      expect((await messaging()).buffered).toBeGreaterThanOrEqual(50);
      redis.resume();
      await expect.poll(async () => (await messaging()).buffered, { timeout: 10_000 }).toBe(0);
      const after = await messaging();
      const published = after.published - before.published;
      const dropped = after.dropped - before.dropped;
      expect(dropped).toBeGreaterThanOrEqual(10);
      expect(published + dropped).toBe(140);
      // The newest arrive; the batch that was on its way when Redis froze is kept for its retry.
      const logged = new Set((await events()).map((e) => e.request_id));
      expect(logged.has(calls[139]?.id ?? '')).toBe(true);
      expect(calls.filter((c) => logged.has(c.id))).toHaveLength(published);
    } finally {
      if (redis.frozen) redis.resume();
    }
  });
});
