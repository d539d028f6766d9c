import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WrappedStats } from '@titanium/service-kit';
import { hs256, now, type RunningService, startBackends, stopAllProcesses } from '@titanium/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// What a client sees when it sends bad input or no valid credentials to the public API: real
// gateway, auth, user and blog processes on loopback, with real SQLite files behind them.
const SECRET = 'gateway-refusals-secret-long-enough-0123456789';
const ALICE = { username: 'alice', email: 'alice@example.com', password: 'correct horse battery' };

let dir: string;
let gateway: RunningService;
let users: RunningService;
let blog: RunningService;
let aliceToken: string;
let postId: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'titanium-gateway-refusals-'));
  ({ gateway, users, blog } = await startBackends(dir, SECRET, {
    // Every refusal below must come from the field rules and the token checks, not from a limit.
    RATE_LIMIT_AUTH_MAX: '1000',
  }));
  expect((await call('POST', '/api/register', { body: ALICE })).status).toBe(201);
  const login = await call('POST', '/api/login', { body: { username: ALICE.username, password: ALICE.password } });
  expect(login.status).toBe(200);
  aliceToken = ((await login.json()) as { token: string }).token;
  const created = await call('POST', '/api/posts', {
    body: { title: 'original', content: 'original content' },
    authorization: `Bearer ${aliceToken}`,
  });
  expect(created.status).toBe(201);
  postId = ((await created.json()) as { id: number }).id;
}, 60_000);

afterAll(async () => {
  await stopAllProcesses();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function call(method: string, path: string, init: { body?: unknown; authorization?: string } = {}) {
  const headers: Record<string, string> = {};
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  if (init.authorization !== undefined) headers.authorization = init.authorization;
  return fetch(`${gateway.url}${path}`, {
    method,
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
}

/** A stack trace or a source location in a response body. */
const STACK_TRACE = /\bat .+\(.*:\d+:\d+\)|\.(?:js|ts|mjs):\d+|node_modules|Error: .*\n\s+at /;

/** A refusal as clients must get it: the status, Fastify's JSON error shape, no stack trace. */
async function expectJsonError(res: Response, status: number): Promise<{ message: string }> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const body = (await res.json()) as { statusCode: number; error: string; message: string };
  expect(body).toMatchObject({ statusCode: status, error: expect.any(String), message: expect.any(String) });
  expect(JSON.stringify(body)).not.toMatch(STACK_TRACE);
  return body;
}

const storedUsers = async () =>
  ((await (await fetch(`${users.url}/stats`)).json()) as WrappedStats<'user_service'>).user_service.users;

describe('bad input through the gateway', () => {
  it.each([
    ['a two-letter username', { username: 'ab' }, 'username must be 3 to 32 characters'],
    ['a 33-character username', { username: 'a'.repeat(33) }, 'username must be 3 to 32 characters'],
    ['a username with a space', { username: 'bob smith' }, 'username must be 3 to 32 characters'],
    ['the email x', { email: 'x' }, 'email must be a valid email address'],
    ['a 7-character password', { password: 'seven77' }, 'password must be 8 to 128 characters'],
    ['a 129-character password', { password: 'p'.repeat(129) }, 'password must be 8 to 128 characters'],
  ])(
    'POST /api/register refuses %s with a 400 naming the field, and stores nothing',
    async (_name, change, message) => {
      const before = await storedUsers();
      expect(before).toBe(1);
      const registration = {
        username: 'new_user',
        email: 'new@example.com',
        password: 'long enough password',
        ...change,
      };
      const body = await expectJsonError(await call('POST', '/api/register', { body: registration }), 400);
      expect(body.message).toContain(message);
      expect(await storedUsers()).toBe(before);
    },
  );

  it.each(['/api/posts?limit=0', '/api/posts?limit=101', '/api/posts/abc'])(
    'GET %s is a 400 JSON error',
    async (path) => {
      await expectJsonError(await call('GET', path), 400);
    },
  );
});

describe('user lookups through the gateway', () => {
  it.each([
    ['a%20b', 'a b'],
    ['ab', 'ab'],
    ['a'.repeat(33), 'a'.repeat(33)],
  ])('GET /api/users/%s, a name no user can have, is a 404 JSON like any unknown name', async (path, name) => {
    const body = await expectJsonError(await call('GET', `/api/users/${path}`), 404);
    expect(body).toEqual({ statusCode: 404, error: 'Not Found', message: `User ${name} not found` });
  });

  it('GET /api/users/<a registered name> is the user', async () => {
    const res = await call('GET', `/api/users/${ALICE.username}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: 1, username: ALICE.username, email: ALICE.email });
  });
});

describe('writes without a valid token through the gateway', () => {
  const OTHER_SECRET = `${SECRET}-but-another-one`;
  const MALFORMED: [string, (() => string) | undefined][] = [
    ['no Authorization header', undefined],
    ['Basic x', () => 'Basic x'],
    ['Bearer alone', () => 'Bearer'],
    ['Bearer not-a-jwt', () => 'Bearer not-a-jwt'],
    ['Bearer a b', () => 'Bearer a b'],
    [
      'a token signed with another secret',
      () => `Bearer ${hs256({ user_id: 1, username: 'alice', iat: now(), exp: now() + 3600 }, OTHER_SECRET)}`,
    ],
  ];

  async function snapshot() {
    const list = await fetch(`${blog.url}/api/posts?limit=100`);
    return { total: list.headers.get('x-total-count'), posts: await list.json() };
  }

  it.each(MALFORMED)('%s: POST, PATCH and DELETE are 401 JSON and no post changes', async (_name, authorization) => {
    const before = await snapshot();
    const writes = [
      { method: 'POST', path: '/api/posts', body: { title: 'forged', content: 'forged' } },
      { method: 'PATCH', path: `/api/posts/${postId}`, body: { title: 'forged', content: 'forged' } },
      { method: 'DELETE', path: `/api/posts/${postId}`, body: undefined },
    ];
    for (const { method, path, body } of writes) {
      const res = await call(method, path, { body, ...(authorization ? { authorization: authorization() } : {}) });
      await expectJsonError(res, 401);
    }
    expect(await snapshot()).toEqual(before);
    const post = (await (await fetch(`${blog.url}/api/posts/${postId}`)).json()) as Record<string, unknown>;
    expect(post).toMatchObject({ title: 'original', content: 'original content', author: 'alice' });
  });

  it('still accepts the real token, so the refusals above were about the credentials', async () => {
    const res = await call('PATCH', `/api/posts/${postId}`, {
      body: { content: 'changed by alice' },
      authorization: `Bearer ${aliceToken}`,
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ title: 'original', content: 'changed by alice' });
  });
});
