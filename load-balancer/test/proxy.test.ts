import { request as httpRequest } from 'node:http';
import { freePort, rawUpload, startFakeUpstream, trickle } from '@titanium/test-support';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { getStats, startLb } from './helpers.js';

const open: { close(): Promise<unknown> | unknown }[] = [];
afterEach(async () => {
  for (const item of open.splice(0).reverse()) await item.close();
});

async function stack(env: Record<string, string> = {}) {
  const api = await startFakeUpstream('api');
  const blog = await startFakeUpstream('blog');
  const dashboard = await startFakeUpstream('dashboard');
  open.push(api, blog, dashboard);
  const lb = await startLb({
    API_GATEWAY_URL: api.url,
    BLOG_SERVICE_URL: blog.url,
    DASHBOARD_UI_URL: dashboard.url,
    AUTH_SERVICE_URL: dashboard.url,
    USER_SERVICE_URL: dashboard.url,
    ...env,
  });
  open.push(lb.app);
  return { api, blog, dashboard, lb };
}

/** A target that answers 413 at once, before reading any of the body (Node reads and drops the rest). */
async function startEarlyAnswer() {
  const early = await startFakeUpstream('early', {
    readBody: false,
    handler: (_req, res) => {
      res.writeHead(413, { 'content-type': 'application/json' });
      res.end('{"statusCode":413,"error":"Payload Too Large","message":"Request body is too large"}');
    },
  });
  open.push(early);
  return early;
}

/** A request with full control over headers, answering status, headers and body. */
function raw(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('routing', () => {
  it('sends /api/* to the gateway, /blog/* to the blog and everything else to the dashboard', async () => {
    const { lb } = await stack();
    expect(await (await fetch(`${lb.url}/api/posts?offset=0&limit=2`)).json()).toMatchObject({
      upstream: 'api',
      url: '/api/posts?offset=0&limit=2',
    });
    expect(await (await fetch(`${lb.url}/blog/`)).json()).toMatchObject({ upstream: 'blog', url: '/blog/' });
    expect(await (await fetch(`${lb.url}/blog/assets/app.js`)).json()).toMatchObject({ upstream: 'blog' });
    expect(await (await fetch(`${lb.url}/`)).json()).toMatchObject({ upstream: 'dashboard', url: '/' });
    expect(await (await fetch(`${lb.url}/assets/index.js?v=2`)).json()).toMatchObject({
      upstream: 'dashboard',
      url: '/assets/index.js?v=2',
    });
  });

  it('redirects /blog to /blog/ with 308, keeping the query', async () => {
    const { lb } = await stack();
    const res = await fetch(`${lb.url}/blog?page=2`, { redirect: 'manual' });
    expect(res.status).toBe(308);
    expect(res.headers.get('location')).toBe('/blog/?page=2');
  });

  it('answers /lb-health and its own probes itself', async () => {
    const { lb, dashboard } = await stack();
    expect((await fetch(`${lb.url}/lb-health`)).status).toBe(200);
    expect((await fetch(`${lb.url}/health`)).status).toBe(200);
    expect((await fetch(`${lb.url}/metrics`)).headers.get('content-type')).toMatch(/^text\/plain/);
    expect(dashboard.seen).toEqual([]);
  });
});

describe('proxying', () => {
  it('passes method, path, query, body and headers through and adds forwarding headers', async () => {
    const { lb, api } = await stack();
    const res = await raw(`${lb.url}/api/posts/7?draft=1`, {
      method: 'PATCH',
      headers: {
        'content-type': 'application/json',
        authorization: 'Bearer abc',
        'x-request-id': 'req-123',
        connection: 'keep-alive, x-hop',
        'x-hop': 'must not pass',
      },
      body: '{"title":"new"}',
    });
    expect(res.status).toBe(200);
    expect(res.headers['x-request-id']).toBe('req-123');
    const seen = api.seen[0];
    expect(seen).toMatchObject({ method: 'PATCH', url: '/api/posts/7?draft=1', body: '{"title":"new"}' });
    expect(seen?.headers).toMatchObject({
      authorization: 'Bearer abc',
      'content-type': 'application/json',
      'x-request-id': 'req-123',
      'x-forwarded-for': '127.0.0.1',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': `127.0.0.1:${lb.port}`,
    });
    expect(seen?.headers['x-hop']).toBeUndefined();
  });

  it('files every proxied request in a /metrics histogram by route, method and status, one cut short as 499', async () => {
    const api = await startFakeUpstream('api', {
      handler: (req, res) => {
        if (req.url === '/api/slow') return; // never answers
        res.writeHead(req.url === '/api/missing' ? 404 : 200, { 'content-type': 'application/json' });
        res.end('{}');
      },
    });
    const other = await startFakeUpstream('other');
    open.push(api, other);
    const lb = await startLb({
      API_GATEWAY_URL: api.url,
      BLOG_SERVICE_URL: other.url,
      DASHBOARD_UI_URL: other.url,
      AUTH_SERVICE_URL: other.url,
      USER_SERVICE_URL: other.url,
    });
    open.push(lb.app);
    for (const path of ['/api/a', '/api/b', '/api/missing', '/blog/', '/', '/assets/x.js']) {
      await (await fetch(`${lb.url}${path}`)).arrayBuffer();
    }
    await (await fetch(`${lb.url}/api/a`, { method: 'HEAD' })).arrayBuffer();
    await (await fetch(`${lb.url}/api/a`, { headers: { 'x-heartbeat': 'true' } })).arrayBuffer();
    await fetch(`${lb.url}/api/slow`, { signal: AbortSignal.timeout(200) }).catch(() => undefined);

    const count = async (route: string, method: string, status: number) => {
      const text = await (await fetch(`${lb.url}/metrics`)).text();
      const line = text
        .split('\n')
        .find(
          (l) =>
            l.startsWith('lb_proxied_request_duration_seconds_count{') &&
            l.includes(`route="${route}"`) &&
            l.includes(`method="${method}"`) &&
            l.includes(`status_code="${status}"`),
        );
      return line ? Number(line.split(' ').at(-1)) : 0;
    };
    // Heartbeats and HEAD are not real traffic for /stats, but they are requests the LB served.
    expect(await count('/api/*', 'GET', 200)).toBe(3);
    expect(await count('/api/*', 'HEAD', 200)).toBe(1);
    expect(await count('/api/*', 'GET', 404)).toBe(1);
    expect(await count('/blog/*', 'GET', 200)).toBe(1);
    expect(await count('/*', 'GET', 200)).toBe(2);
    await expect.poll(() => count('/api/*', 'GET', 499)).toBe(1);
    expect((await getStats(lb.url))['load-balancer'].total_requests).toBe(4);
    // A proper histogram: cumulative buckets up to +Inf equal to the count, and a sum.
    const text = await (await fetch(`${lb.url}/metrics`)).text();
    expect(text).toContain('# TYPE lb_proxied_request_duration_seconds histogram');
    const series = 'route="/*",method="GET",status_code="200"';
    const buckets = text
      .split('\n')
      .filter((l) => l.startsWith('lb_proxied_request_duration_seconds_bucket{') && l.includes(series))
      .map((l) => Number(l.split(' ').at(-1)));
    expect(buckets).toHaveLength(15);
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
    expect(buckets.at(-1)).toBe(2);
    expect(text).toMatch(/lb_proxied_request_duration_seconds_bucket\{[^}]*le="\+Inf"[^}]*service="load-balancer"/);
    expect(text).toMatch(
      /lb_proxied_request_duration_seconds_sum\{route="\/\*",method="GET",status_code="200"[^}]*\} 0\.\d+/,
    );
  });

  it('gives every proxied request an X-Request-Id when the client sent none', async () => {
    const { lb, api } = await stack();
    const res = await fetch(`${lb.url}/api/ping`);
    const id = res.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(api.seen[0]?.headers['x-request-id']).toBe(id);
  });

  it('keeps the status, repeated headers and streamed body of the answer and drops hop-by-hop ones', async () => {
    const api = await startFakeUpstream('api', {
      handler: (_req, res) => {
        res.writeHead(201, {
          'set-cookie': ['a=1', 'b=2'],
          'x-custom': 'yes',
          'keep-alive': 'timeout=99',
          connection: 'keep-alive, x-upstream-hop',
          'x-upstream-hop': 'for the load balancer only',
        });
        res.write('part one, ');
        setTimeout(() => res.end('part two'), 50);
      },
    });
    open.push(api);
    const lb = await startLb({ API_GATEWAY_URL: api.url });
    open.push(lb.app);
    const res = await raw(`${lb.url}/api/stream`);
    expect(res.status).toBe(201);
    expect(res.body).toBe('part one, part two');
    expect(res.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(res.headers['x-custom']).toBe('yes');
    expect(res.headers['keep-alive']).not.toBe('timeout=99');
    expect(res.headers['x-upstream-hop']).toBeUndefined();
  });

  it('streams a large request body to the target', async () => {
    const { lb, api } = await stack();
    const body = 'x'.repeat(3 * 1024 * 1024);
    const res = await fetch(`${lb.url}/api/upload`, { method: 'POST', body });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ bytes: body.length });
    expect(api.seen[0]?.body.length).toBe(body.length);
  });

  it('passes on an answer given before the body was read, reads the rest and keeps the connection', async () => {
    const early = await startEarlyAnswer();
    const port = await freePort();
    const lb = await startLb({ API_GATEWAY_URL: early.url, BLOG_SERVICE_URL: `http://127.0.0.1:${port}` });
    open.push(lb.app);
    const bytes = 5 * 1024 * 1024;
    const post = (path: string) =>
      `POST ${path} HTTP/1.1\r\nHost: lb\r\nContent-Type: application/json\r\nContent-Length: ${bytes}\r\n\r\n`;
    const health = 'GET /lb-health HTTP/1.1\r\nHost: lb\r\n\r\n';
    // The target's own early 413, and the load balancer's 502 for a target that refuses.
    for (const [path, status] of [
      ['/api/upload', 413],
      ['/blog/upload', 502],
    ] as const) {
      const upload = await rawUpload(lb.port, post(path), bytes, { followedBy: health });
      expect(upload.error, path).toBeUndefined();
      expect(upload.sentAll, path).toBe(true);
      expect(upload.statuses, path).toEqual([status, 200]);
    }
  });

  it('answers 502 JSON at once when the target refuses connections', async () => {
    const port = await freePort();
    const lb = await startLb({ API_GATEWAY_URL: `http://127.0.0.1:${port}` });
    open.push(lb.app);
    const started = performance.now();
    const res = await fetch(`${lb.url}/api/posts`);
    expect(res.status).toBe(502);
    expect(await res.json()).toEqual({
      statusCode: 502,
      error: 'Bad Gateway',
      message: 'Upstream api-gateway is unavailable',
    });
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('answers 502 at once when every one of several targets is down', async () => {
    const lb = await startLb({
      API_GATEWAY_URL: `http://127.0.0.1:${await freePort()},http://127.0.0.1:${await freePort()}`,
      LB_FAILURE_THRESHOLD: '1',
      LB_COOLDOWN_MS: '60000',
    });
    open.push(lb.app);
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      const res = await fetch(`${lb.url}/api/posts`);
      expect(res.status).toBe(502);
      expect(((await res.json()) as { message: string }).message).toBe('Upstream api-gateway is unavailable');
      expect(performance.now() - started).toBeLessThan(1_000);
    }
  });

  it('answers 504 when the target sends no headers within the upstream timeout', async () => {
    const api = await startFakeUpstream('api', { handler: () => undefined });
    open.push(api);
    const lb = await startLb({ API_GATEWAY_URL: api.url, LB_UPSTREAM_HEADERS_TIMEOUT_MS: '300' });
    open.push(lb.app);
    const res = await fetch(`${lb.url}/api/slow`);
    expect(res.status).toBe(504);
    expect(((await res.json()) as { message: string }).message).toBe('Upstream api-gateway did not answer in time');
  });

  it('answers 504 within the upstream timeout also for requests queued behind a full connection pool', async () => {
    const timeoutMs = 1_000;
    const api = await startFakeUpstream('api', { handler: () => undefined });
    open.push(api);
    const lb = await startLb({
      API_GATEWAY_URL: api.url,
      LB_UPSTREAM_HEADERS_TIMEOUT_MS: String(timeoutMs),
      LB_UPSTREAM_CONNECTIONS: '2',
    });
    open.push(lb.app);
    const answers = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const started = performance.now();
        const res = await fetch(`${lb.url}/api/slow`);
        await res.body?.cancel();
        return { status: res.status, ms: performance.now() - started };
      }),
    );
    // A request whose limit began only once it had a connection would wait for one of the first two
    // to time out, then for its own limit: two limits at least (the last two, four).
    for (const answer of answers) {
      expect(answer.status).toBe(504);
      expect(answer.ms).toBeLessThan(2 * timeoutMs);
    }
  });

  it('sends a request with a small body to another target when the first drops the connection before answering', async () => {
    const dropping = await startFakeUpstream('dropping', { handler: (req) => req.socket.destroy() });
    const api = await startFakeUpstream('api');
    open.push(dropping, api);
    const lb = await startLb({ API_GATEWAY_URL: `${dropping.url},${api.url}`, LB_BALANCING: 'round-robin' });
    open.push(lb.app);
    for (let i = 0; i < 6; i++) {
      const body = JSON.stringify({ title: `post ${i}`, content: 'x'.repeat(1000) });
      const res = await fetch(`${lb.url}/api/posts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ upstream: 'api', method: 'POST', bytes: body.length });
    }
    expect(dropping.seen.length).toBeGreaterThan(0);
    const posted = api.seen.filter((seen) => seen.method === 'POST');
    expect(posted.map((seen) => JSON.parse(seen.body).title)).toEqual([0, 1, 2, 3, 4, 5].map((i) => `post ${i}`));
  });

  it('sends a body over 64 KiB once: when its target drops the connection the client gets 502, no other target sees it', async () => {
    // Both targets read the whole body, then drop the connection without answering.
    const first = await startFakeUpstream('first', { handler: (req) => req.socket.destroy() });
    const second = await startFakeUpstream('second', { handler: (req) => req.socket.destroy() });
    open.push(first, second);
    const lb = await startLb({ API_GATEWAY_URL: `${first.url},${second.url}`, LB_BALANCING: 'round-robin' });
    open.push(lb.app);
    const post = (title: string, bytes: number) =>
      fetch(`${lb.url}/api/posts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ title, content: 'x'.repeat(bytes) }),
      });
    const seenWith = (title: string) =>
      [...first.seen, ...second.seen].filter((seen) => seen.body.includes(`"title":"${title}"`));

    // A small body is read whole first, so it goes to the other target too.
    const small = await post('small', 1_000);
    expect(small.status).toBe(502);
    expect(seenWith('small')).toHaveLength(2);

    const large = await post('large', 70 * 1024);
    expect(large.status).toBe(502);
    expect(await large.json()).toEqual({
      statusCode: 502,
      error: 'Bad Gateway',
      message: 'Upstream api-gateway is unavailable',
    });
    const seen = seenWith('large');
    expect(seen).toHaveLength(1);
    expect(seen[0]?.body.length).toBeGreaterThan(64 * 1024);
  });

  it('cuts off a client that trickles its request headers, within about a second of the limit', async () => {
    const { lb } = await stack({ LB_HEADERS_TIMEOUT_MS: '1000' });
    const slow = await trickle(lb.port, 'GET /api/x HTTP/1.1\r\nHost: x\r\n', 'X-Slow: 1\r\n', 200);
    const { text, closed, elapsedMs } = await slow.done;
    expect(closed).toBe(true);
    expect(text).toMatch(/^HTTP\/1\.1 408/);
    expect(elapsedMs).toBeGreaterThanOrEqual(900);
    expect(elapsedMs).toBeLessThan(2_500);
  });

  it('proxies WebSocket upgrades to the target', async () => {
    const upstream = await startFakeUpstream('target');
    open.push(upstream);
    const lb = await startLb({ API_GATEWAY_URL: upstream.url, DASHBOARD_UI_URL: upstream.url });
    open.push(lb.app);
    for (const path of ['/api/live', '/live-reload']) {
      const ws = new WebSocket(`ws://127.0.0.1:${lb.port}${path}`);
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      ws.send('hi');
      const reply = await new Promise<string>((resolve) => ws.once('message', (data) => resolve(String(data))));
      expect(reply).toBe('target:hi');
      ws.close();
    }
    expect(upstream.upgrades.map((upgrade) => upgrade.url)).toEqual(['/api/live', '/live-reload']);
  });
});
