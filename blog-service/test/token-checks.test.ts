import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  hs256,
  now,
  type RunningService,
  rs256,
  startService,
  stopAllProcesses,
  unsigned,
} from '@titanium/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Every kind of bad token against every write, straight to the blog and through the gateway:
// 401 each time and nothing changes.
const SECRET = 'blog-token-test-secret-long-enough-0123456789';
const claims = (extra: Record<string, unknown> = {}) => ({
  user_id: 11,
  username: 'alice',
  iat: now(),
  exp: now() + 3600,
  ...extra,
});

const { publicKey, privateKey } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});

const BAD_TOKENS: [string, () => string][] = [
  ['alg none', () => unsigned(claims())],
  ['alg none with a signature', () => `${unsigned(claims()).slice(0, -1)}.${'A'.repeat(43)}`],
  ['RS256', () => rs256(claims(), privateKey)],
  ['HS256 keyed with the RSA public key', () => hs256(claims(), publicKey)],
  ['wrong secret', () => hs256(claims(), `${SECRET}-other`)],
  ['expired', () => hs256(claims({ iat: now() - 7200, exp: now() - 60 }), SECRET)],
  ['not valid yet', () => hs256(claims({ nbf: now() + 600 }), SECRET)],
  ['no user_id', () => hs256(claims({ user_id: undefined }), SECRET)],
  ['no username', () => hs256(claims({ username: undefined }), SECRET)],
  ['no exp', () => hs256(claims({ exp: undefined }), SECRET)],
  ['user_id 0', () => hs256(claims({ user_id: 0 }), SECRET)],
  ['negative user_id', () => hs256(claims({ user_id: -11 }), SECRET)],
  ['fractional user_id', () => hs256(claims({ user_id: 11.5 }), SECRET)],
  ['user_id as a string', () => hs256(claims({ user_id: '11' }), SECRET)],
  ['empty username', () => hs256(claims({ username: '' }), SECRET)],
];

describe('token checks on blog writes', () => {
  let dir: string;
  let blog: RunningService;
  let gateway: RunningService;
  let postId: number;
  const good = () => hs256(claims(), SECRET);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'titanium-blog-tokens-'));
    blog = await startService('blog-service', { BLOG_DATABASE_PATH: join(dir, 'blog.db'), JWT_SECRET: SECRET });
    gateway = await startService('api-gateway', {
      JWT_SECRET: SECRET,
      BLOG_SERVICE_URL: blog.url,
      AUTH_SERVICE_URL: 'http://127.0.0.1:9',
      USER_SERVICE_URL: 'http://127.0.0.1:9',
    });
    const res = await fetch(`${blog.url}/api/posts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${good()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'original', content: 'original content' }),
    });
    expect(res.status).toBe(201);
    postId = ((await res.json()) as { id: number }).id;
  });

  afterAll(async () => {
    await stopAllProcesses();
    rmSync(dir, { recursive: true, force: true });
  });

  const writes = (id: number) => [
    { method: 'POST', path: '/api/posts', body: { title: 'forged', content: 'forged' } },
    { method: 'PATCH', path: `/api/posts/${id}`, body: { title: 'forged' } },
    { method: 'DELETE', path: `/api/posts/${id}`, body: undefined },
  ];

  function send(base: string, write: ReturnType<typeof writes>[number], token: string) {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (write.body) headers['content-type'] = 'application/json';
    return fetch(`${base}${write.path}`, {
      method: write.method,
      headers,
      body: write.body ? JSON.stringify(write.body) : undefined,
    });
  }

  async function snapshot() {
    const list = await fetch(`${blog.url}/api/posts?limit=100`);
    return {
      total: list.headers.get('x-total-count'),
      post: await (await fetch(`${blog.url}/api/posts/${postId}`)).json(),
    };
  }

  it.each([
    ['the blog', () => blog.url],
    ['the gateway', () => gateway.url],
  ])('answers 401 to every bad token on every write through %s, and changes nothing', async (_via, base) => {
    const before = await snapshot();
    for (const [name, token] of BAD_TOKENS) {
      for (const write of writes(postId)) {
        const res = await send(base(), write, token());
        expect(res.status, `${write.method} with ${name}`).toBe(401);
        const body = (await res.json()) as Record<string, unknown>;
        expect(body, `${write.method} with ${name}`).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
        expect(JSON.stringify(body)).not.toMatch(/ at |\.js:\d/);
      }
    }
    expect(await snapshot()).toEqual(before);
  });

  it('lets only the author change or delete a post, checked on each write, through the gateway too', async () => {
    const bob = hs256(claims({ user_id: 12, username: 'bob' }), SECRET);
    // The same name under another id is another user.
    const impostor = hs256(claims({ user_id: 13, username: 'alice' }), SECRET);
    for (const base of [blog.url, gateway.url]) {
      for (const token of [bob, impostor]) {
        for (const write of writes(postId).slice(1)) {
          const res = await send(base, write, token);
          expect(res.status, `${write.method} by another user`).toBe(403);
        }
      }
    }
    expect(((await snapshot()).post as { title: string }).title).toBe('original');
    const patched = await send(gateway.url, writes(postId)[1] as ReturnType<typeof writes>[number], good());
    expect(patched.status).toBe(200);
    // A token that was good for the first write proves nothing for the next one.
    const expired = hs256(claims({ iat: now() - 7200, exp: now() - 1 }), SECRET);
    expect((await send(gateway.url, writes(postId)[2] as ReturnType<typeof writes>[number], expired)).status).toBe(401);
    expect((await send(gateway.url, writes(postId)[2] as ReturnType<typeof writes>[number], bob)).status).toBe(403);
    expect((await send(gateway.url, writes(postId)[2] as ReturnType<typeof writes>[number], good())).status).toBe(204);
    expect((await fetch(`${blog.url}/api/posts/${postId}`)).status).toBe(404);
  });
});
