import type { WrappedStats } from '@titanium/service-kit';
import { type RedisServer, rawUpload, type Stack, startRedis, startStack } from '@titanium/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

interface Post {
  id: number;
  title: string;
  content?: string;
  author: string;
  excerpt?: string;
}

// The public API walked end to end through the load balancer and the gateway, against the real
// services, a real redis-server and real SQLite files: what the seed's load scripts do.
describe('public API through the whole stack', () => {
  let stack: Stack;
  let redis: RedisServer;
  let api: string;
  const suffix = Date.now().toString(36);
  const alice = {
    username: `alice_${suffix}`,
    email: `alice_${suffix}@example.com`,
    password: 'correct horse battery',
  };
  const bob = { username: `bob_${suffix}`, email: `bob_${suffix}@example.com`, password: 'another long password' };
  let aliceToken = '';
  let bobToken = '';
  let postId = 0;

  const call = (method: string, path: string, body?: unknown, token?: string) =>
    fetch(`${api}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  beforeAll(async () => {
    redis = await startRedis();
    stack = await startStack({ REDIS_URL: redis.url });
    api = `${stack.url('load-balancer')}/api`;
  }, 90_000);

  afterAll(async () => {
    await stack?.stop();
    await redis?.stop();
  });

  it('registers a user and refuses the same username twice', async () => {
    const res = await call('POST', '/register', alice);
    expect(res.status).toBe(201);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toEqual({ id: expect.any(Number), username: alice.username, email: alice.email });
    expect((await call('POST', '/register', { ...alice, email: `other_${suffix}@example.com` })).status).toBe(409);
    expect((await call('POST', '/register', bob)).status).toBe(201);
  });

  it('logs in with the right password only', async () => {
    const ok = await call('POST', '/login', { username: alice.username, password: alice.password });
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as { status: string; token: string };
    expect(body.status).toBe('success');
    aliceToken = body.token;
    const wrong = await call('POST', '/login', { username: alice.username, password: 'not the password' });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ status: 'failed' });
    bobToken = ((await (await call('POST', '/login', bob)).json()) as { token: string }).token;
  });

  it('creates, lists, searches and reads a post', async () => {
    const created = await call(
      'POST',
      '/posts',
      { title: `Hello ${suffix}`, content: `zebra${suffix} body` },
      aliceToken,
    );
    expect(created.status).toBe(201);
    const post = (await created.json()) as Post;
    postId = post.id;
    expect(post).toMatchObject({ title: `Hello ${suffix}`, author: alice.username });

    const list = await call('GET', '/posts?offset=0&limit=20');
    expect(list.status).toBe(200);
    expect(Number(list.headers.get('x-total-count'))).toBeGreaterThanOrEqual(3);
    const posts = (await list.json()) as Post[];
    expect(Array.isArray(posts)).toBe(true);
    expect(posts[0]).toMatchObject({ id: postId, author: alice.username });

    const found = (await (await call('GET', `/posts?q=zebra${suffix}`)).json()) as Post[];
    expect(found.map((p) => p.id)).toEqual([postId]);

    const detail = await call('GET', `/posts/${postId}`);
    expect(detail.status).toBe(200);
    expect(await detail.json()).toMatchObject({ id: postId, content: `zebra${suffix} body` });
  });

  it('lets only the author change or delete a post', async () => {
    expect((await call('PATCH', `/posts/${postId}`, { title: 'Edited' }, aliceToken)).status).toBe(200);
    expect((await call('PATCH', `/posts/${postId}`, { title: 'Hijacked' }, bobToken)).status).toBe(403);
    expect((await call('DELETE', `/posts/${postId}`, undefined, bobToken)).status).toBe(403);
    expect((await call('PATCH', `/posts/${postId}`, { title: 'No token' })).status).toBe(401);
    expect(((await (await call('GET', `/posts/${postId}`)).json()) as Post).title).toBe('Edited');
    expect((await call('DELETE', `/posts/${postId}`, undefined, aliceToken)).status).toBe(204);
    expect((await call('GET', `/posts/${postId}`)).status).toBe(404);
  });

  it('answers a body over the limit with 413 every time, and the connection stays usable', async () => {
    const statuses: Record<string, number> = {};
    const tooLarge = JSON.stringify({ title: 't', content: 'c'.repeat(1024 * 1024) });
    for (let i = 0; i < 20; i++) {
      const status = await call('POST', '/posts', JSON.parse(tooLarge), aliceToken).then(
        async (res) => {
          expect(await res.json()).toMatchObject({ statusCode: 413, error: 'Payload Too Large' });
          return String(res.status);
        },
        (err: Error & { cause?: { code?: string } }) => err.cause?.code ?? err.message,
      );
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
    expect(statuses).toEqual({ 413: 20 });

    const lb = new URL(stack.url('load-balancer'));
    const bytes = 5 * 1024 * 1024;
    const upload = await rawUpload(
      Number(lb.port),
      `POST /api/posts HTTP/1.1\r\nHost: ${lb.host}\r\nAuthorization: Bearer ${aliceToken}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${bytes}\r\n\r\n`,
      bytes,
      { followedBy: `GET /api/health HTTP/1.1\r\nHost: ${lb.host}\r\n\r\n` },
    );
    expect(upload.error).toBeUndefined();
    expect(upload.sentAll).toBe(true);
    expect(upload.statuses).toEqual([413, 200]);
  });

  it('finds users by name and says 404 for unknown ones', async () => {
    const res = await call('GET', `/users/${alice.username}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: expect.any(Number), username: alice.username, email: alice.email });
    expect((await call('GET', `/users/nobody_${suffix}`)).status).toBe(404);
    expect((await call('GET', '/no-such-route')).status).toBe(404);
  });

  it('keeps serving users while Redis is down and uses the cache again once it is back', async () => {
    const userStats = async () =>
      ((await (await fetch(`${stack.url('user-service')}/stats`)).json()) as WrappedStats<'user_service'>).user_service;
    await call('GET', `/users/${alice.username}`);
    await redis.stop();
    for (let i = 0; i < 5; i++) expect((await call('GET', `/users/${alice.username}`)).status).toBe(200);
    await expect.poll(async () => (await userStats()).service_status, { timeout: 5_000 }).toBe('degraded');
    expect((await userStats()).cache.status).toBe('unhealthy');

    redis = await redis.restart();
    await expect.poll(async () => (await userStats()).cache.status, { timeout: 10_000 }).toBe('healthy');
    expect((await userStats()).service_status).toBe('online');
    await call('GET', `/users/${alice.username}`);
    const before = await userStats();
    await call('GET', `/users/${alice.username}`);
    const after = await userStats();
    expect(after.cache.hit_ratio).toBeGreaterThan(before.cache.hit_ratio);
  });
});
