import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GatewayBlock, WrappedStats } from '@titanium/service-kit';
import {
  BIG_BODY_BYTES,
  type FakeUpstream,
  freePort,
  type RunningService,
  rawExchange,
  startFakeUpstream,
  startService,
  startSilentUpstream,
  stopAllProcesses,
  tokenFor,
} from '@titanium/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const SECRET = 'gateway-test-secret-that-is-long-enough-0123456789';

function startGateway(env: Record<string, string>): Promise<RunningService> {
  return startService('api-gateway', { JWT_SECRET: SECRET, ...env });
}

async function statsOf(gateway: RunningService): Promise<GatewayBlock> {
  const body = (await (await fetch(`${gateway.url}/stats`)).json()) as Partial<WrappedStats<'api-gateway'>>;
  const block = body['api-gateway'];
  if (!block) throw new Error('no api-gateway block in /stats');
  return block;
}

async function until<T>(probe: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = 8_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (accept(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('routing', () => {
  let auth: FakeUpstream;
  let user: FakeUpstream;
  let dir: string;
  let blog: RunningService;
  let gateway: RunningService;

  beforeAll(async () => {
    auth = await startFakeUpstream('echo');
    user = await startFakeUpstream('echo');
    dir = mkdtempSync(join(tmpdir(), 'titanium-gateway-'));
    blog = await startService('blog-service', {
      BLOG_DATABASE_PATH: join(dir, 'blog.db'),
      JWT_SECRET: SECRET,
    });
    gateway = await startGateway({
      AUTH_SERVICE_URL: auth.url,
      USER_SERVICE_URL: user.url,
      BLOG_SERVICE_URL: blog.url,
    });
  });

  afterAll(async () => {
    await stopAllProcesses();
    await Promise.all([auth.close(), user.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${gateway.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });

  it('sends /api/login to the auth service as POST /login with the body and headers kept', async () => {
    const res = await post('/api/login', { username: 'alice', password: 'pw-123456' }, { 'x-custom': 'kept' });
    expect(res.status).toBe(200);
    const seen = auth.seen.at(-1);
    expect(seen).toMatchObject({ method: 'POST', url: '/login' });
    expect(JSON.parse(seen?.body ?? '{}')).toEqual({ username: 'alice', password: 'pw-123456' });
    expect(seen?.headers['content-type']).toBe('application/json');
    expect(seen?.headers['x-custom']).toBe('kept');
  });

  it('sends /api/register to the user service as POST /users', async () => {
    const res = await post('/api/register', { username: 'bob', email: 'bob@example.com', password: 'secret-pw' });
    expect(res.status).toBe(200);
    expect(user.seen.at(-1)).toMatchObject({ method: 'POST', url: '/users' });
    expect(JSON.parse(user.seen.at(-1)?.body ?? '{}')).toMatchObject({ username: 'bob' });
  });

  it('passes large answers and answers of unknown length on whole', async () => {
    for (const path of ['/api/users/big', '/api/users/big?chunked']) {
      const res = await fetch(`${gateway.url}${path}`);
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text.length).toBe(BIG_BODY_BYTES);
      expect(text.slice(-16)).toBe('abcdefghijklmnop');
    }
  });

  it('sends GET /api/users/* to the user service as /users/* with the query kept', async () => {
    const res = await fetch(`${gateway.url}/api/users/bob?fields=all`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-upstream')).toBe('echo');
    expect(user.seen.at(-1)).toMatchObject({ method: 'GET', url: '/users/bob?fields=all' });
  });

  it('does not expose the user service’s credential check to the public', async () => {
    const before = user.seen.length;
    const res = await post('/api/users/verify-credentials', { username: 'bob', password: 'guess' });
    expect(res.status).toBe(404);
    expect(user.seen.length).toBe(before);
  });

  it('passes X-Request-Id and X-Forwarded-For/Proto/Host on to the upstream', async () => {
    const res = await post(
      '/api/login',
      { username: 'a', password: 'b' },
      {
        'x-request-id': 'trace-gateway-1',
        'x-forwarded-for': '203.0.113.7',
      },
    );
    expect(res.headers.get('x-request-id')).toBe('trace-gateway-1');
    const headers = auth.seen.at(-1)?.headers ?? {};
    expect(headers['x-request-id']).toBe('trace-gateway-1');
    expect(headers['x-forwarded-for']).toBe('203.0.113.7, 127.0.0.1');
    expect(headers['x-forwarded-proto']).toBe('http');
    expect(headers['x-forwarded-host']).toBe(`127.0.0.1:${gateway.port}`);
    expect(headers.host).toBe(new URL(auth.url).host);
  });

  it('walks the posts API through to the real blog service with the path kept', async () => {
    const token = tokenFor(5, 'carol', SECRET);
    const created = await post(
      '/api/posts',
      { title: 'Via the gateway', content: 'hello quasar' },
      { authorization: `Bearer ${token}` },
    );
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: number };

    const list = await fetch(`${gateway.url}/api/posts?offset=0&limit=1`);
    expect(list.status).toBe(200);
    expect(Number(list.headers.get('x-total-count'))).toBe(3);
    expect(((await list.json()) as { id: number }[]).map((p) => p.id)).toEqual([id]);

    const found = await fetch(`${gateway.url}/api/posts?q=quasar`);
    expect(((await found.json()) as { id: number }[]).map((p) => p.id)).toEqual([id]);

    const patched = await fetch(`${gateway.url}/api/posts/${id}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tokenFor(6, 'dave', SECRET)}` },
      body: JSON.stringify({ title: 'not yours' }),
    });
    expect(patched.status).toBe(403);

    const removed = await fetch(`${gateway.url}/api/posts/${id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(removed.status).toBe(204);
    expect((await fetch(`${gateway.url}/api/posts/${id}`)).status).toBe(404);
    expect((await fetch(`${gateway.url}/api/posts/abc`)).status).toBe(400);
    expect((await post('/api/posts', { title: 't', content: 'c' })).status).toBe(401);
  });

  it('answers /api/health itself and 404 JSON for anything else under /api/', async () => {
    expect(await (await fetch(`${gateway.url}/api/health`)).json()).toEqual({ status: 'ok' });
    for (const path of ['/api/nothing', '/api/', '/api/posts-and-more', '/api/loginx']) {
      const res = await fetch(`${gateway.url}${path}`);
      expect(res.status, path).toBe(404);
      expect(await res.json(), path).toMatchObject({ statusCode: 404, error: 'Not Found' });
    }
  });

  it('rejects malformed JSON (400), an oversized body (413) and other content types (415)', async () => {
    const before = auth.seen.length;
    const send = (body: string, type: string) =>
      fetch(`${gateway.url}/api/login`, { method: 'POST', headers: { 'content-type': type }, body });
    const bad = await send('{"username": ', 'application/json');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    expect((await send(JSON.stringify({ username: 'x'.repeat(70 * 1024) }), 'application/json')).status).toBe(413);
    expect((await send('username=a', 'application/x-www-form-urlencoded')).status).toBe(415);
    expect((await send('hello', 'text/plain')).status).toBe(415);
    for (const notAnObject of ['"alice"', '[1, 2]', '42', 'null']) {
      const res = await send(notAnObject, 'application/json');
      expect(res.status, notAnObject).toBe(400);
      expect((await res.json()) as { message: string }).toMatchObject({ message: 'body must be object' });
    }
    expect(auth.seen.length).toBe(before);
  });

  it('counts every proxied request per upstream in /stats', async () => {
    const before = await statsOf(gateway);
    for (let i = 0; i < 4; i++) await fetch(`${gateway.url}/api/posts`);
    await post('/api/login', { username: 'a', password: 'b' });
    await fetch(`${gateway.url}/api/health`);
    const after = await statsOf(gateway);
    expect(after.service_status).toBe('online');
    expect(after.upstreams.blog.requests - before.upstreams.blog.requests).toBe(4);
    expect(after.upstreams.auth.requests - before.upstreams.auth.requests).toBe(1);
    expect(after.upstreams.user.requests).toBe(before.upstreams.user.requests);
    expect(after.upstreams.blog.avg_response_time_ms).toBeGreaterThan(0);
    expect(after.upstreams.blog.p95_response_time_ms).toBeGreaterThan(0);
    expect(after.upstreams.blog.errors).toBe(0);
  });
});

describe('upstream connections', () => {
  let upstream: FakeUpstream;
  let gateway: RunningService;

  beforeAll(async () => {
    upstream = await startFakeUpstream('echo');
    gateway = await startGateway({
      AUTH_SERVICE_URL: upstream.url,
      USER_SERVICE_URL: upstream.url,
      BLOG_SERVICE_URL: upstream.url,
    });
  });

  afterAll(async () => {
    await stopAllProcesses();
    await upstream.close();
  });

  it('sends 20 sequential requests over one kept-alive upstream connection', async () => {
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${gateway.url}/api/users/user_${i}`);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { url: string }).url).toBe(`/users/user_${i}`);
    }
    expect(upstream.seen).toHaveLength(20);
    expect(upstream.connections).toBe(1);
  });
});

describe('header policy', () => {
  afterAll(stopAllProcesses);

  it('passes on neither hop-by-hop headers nor the ones a Connection header names, in either direction', async () => {
    const upstream = await startFakeUpstream('users', {
      handler: (_req, res) => {
        res.writeHead(200, {
          'content-type': 'application/json',
          connection: 'keep-alive, x-upstream-hop',
          'x-upstream-hop': 'for the gateway only',
          'x-kept': 'yes',
        });
        res.end('{}');
      },
    });
    try {
      const gateway = await startGateway({ USER_SERVICE_URL: upstream.url });
      const answer = await rawExchange(
        gateway.port,
        'GET /api/users/bob HTTP/1.1\r\nHost: gateway\r\nConnection: keep-alive, x-client-hop\r\n' +
          'X-Client-Hop: for the gateway only\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nX-Kept: yes\r\n\r\n',
      );
      expect(answer.statuses).toEqual([200]);
      const head = (answer.text.split('\r\n\r\n')[0] ?? '').toLowerCase();
      expect(head).toContain('\r\nx-kept: yes');
      expect(head).not.toContain('x-upstream-hop');
      const seen = upstream.seen.at(-1)?.headers ?? {};
      expect(seen['x-kept']).toBe('yes');
      expect(seen['x-client-hop']).toBeUndefined();
      expect(seen['keep-alive']).toBeUndefined();
      expect(seen.te).toBeUndefined();
    } finally {
      await upstream.close();
    }
  });
});

describe('upstream faults', () => {
  afterAll(stopAllProcesses);

  it('answers 502 JSON at once for an upstream that refuses connections, reports degraded, and recovers', async () => {
    const port = await freePort();
    const gateway = await startGateway({ AUTH_SERVICE_URL: `http://127.0.0.1:${port}` });
    const startedAt = Date.now();
    const res = await fetch(`${gateway.url}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"username":"a","password":"b"}',
    });
    expect(Date.now() - startedAt).toBeLessThan(1_000);
    expect(res.status).toBe(502);
    expect(await res.json()).toEqual({
      statusCode: 502,
      error: 'Bad Gateway',
      message: 'Upstream auth is unavailable',
    });
    const failing = await statsOf(gateway);
    expect(failing.service_status).toBe('degraded');
    expect(failing.upstreams.auth).toMatchObject({ requests: 1, errors: 1, failing: 'ECONNREFUSED' });

    const auth = await startFakeUpstream('echo', { port: port });
    try {
      const recovered = await until(
        () => statsOf(gateway),
        (stats) => stats.service_status === 'online',
      );
      expect(recovered.service_status).toBe('online');
      expect(recovered.upstreams.auth.failing).toBeUndefined();
    } finally {
      await auth.close();
    }
  });

  it('answers 504 JSON when an upstream accepts but does not answer in time', async () => {
    const silent = await startSilentUpstream();
    try {
      const gateway = await startGateway({ BLOG_SERVICE_URL: silent.url, UPSTREAM_HEADERS_TIMEOUT_MS: '700' });
      const startedAt = Date.now();
      const res = await fetch(`${gateway.url}/api/posts`);
      const elapsed = Date.now() - startedAt;
      expect(res.status).toBe(504);
      expect(await res.json()).toEqual({
        statusCode: 504,
        error: 'Gateway Timeout',
        message: 'Upstream blog did not answer in time',
      });
      expect(elapsed).toBeGreaterThanOrEqual(650);
      expect(elapsed).toBeLessThan(2_200);
    } finally {
      await silent.close();
    }
  });

  it('answers 504 after the default 2 s upstream limit', async () => {
    const silent = await startSilentUpstream();
    try {
      const gateway = await startGateway({ BLOG_SERVICE_URL: silent.url });
      const startedAt = Date.now();
      const res = await fetch(`${gateway.url}/api/posts/1`);
      expect(res.status).toBe(504);
      const elapsed = Date.now() - startedAt;
      expect(elapsed).toBeGreaterThanOrEqual(1_900);
      expect(elapsed).toBeLessThan(3_000);
    } finally {
      await silent.close();
    }
  });

  it('aborts the upstream request when the client goes away', async () => {
    const blog = await startFakeUpstream('echo');
    try {
      const gateway = await startGateway({ BLOG_SERVICE_URL: blog.url });
      const abortedAt = Date.now() + 300;
      await expect(fetch(`${gateway.url}/api/posts/slow`, { signal: AbortSignal.timeout(300) })).rejects.toThrow();
      const gone = await until(
        async () => blog.abandoned.length,
        (count) => count > 0,
        3_000,
      );
      expect(gone).toBe(1);
      expect((blog.abandoned[0] ?? Infinity) - abortedAt).toBeLessThan(1_000);
    } finally {
      await blog.close();
    }
  });
});

describe('server timeouts', () => {
  let gateway: RunningService;

  beforeAll(async () => {
    gateway = await startGateway({ SERVER_HEADERS_TIMEOUT_MS: '1000', SERVER_REQUEST_TIMEOUT_MS: '2000' });
  });
  afterAll(stopAllProcesses);

  /** Writes `data` on a raw connection and waits (6 s at most) for the gateway to close it. */
  const send = (data: string) => rawExchange(gateway.port, data, { quietMs: 6_000, timeoutMs: 6_000 });

  it('cuts off a client that does not finish its headers in time', async () => {
    const { text: reply, elapsedMs } = await send('GET /api/health HTTP/1.1\r\nHost: gateway\r\nX-Slow: ');
    expect(reply).toMatch(/^HTTP\/1\.1 408/);
    expect(elapsedMs).toBeGreaterThanOrEqual(900);
    expect(elapsedMs).toBeLessThan(2_500);
  });

  it('cuts off a client that does not finish its body within the whole-request limit', async () => {
    const { text: reply, elapsedMs } = await send(
      'POST /api/login HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"user',
    );
    expect(reply).toMatch(/^HTTP\/1\.1 408/);
    expect(elapsedMs).toBeGreaterThanOrEqual(1_900);
    expect(elapsedMs).toBeLessThan(3_500);
  });
});
