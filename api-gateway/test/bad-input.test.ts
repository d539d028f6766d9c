import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Answer,
  type BodyCase,
  expectStoredAsSent,
  fuzzParameters,
  hostileBody,
  hostilePathId,
  hostileQuery,
  MALFORMED_PATH_IDS,
  NON_FINITE_QUERY_VALUES,
  type RunningService,
  refusals,
  type SqliteSnapshots,
  sendChecked,
  signToken,
  sqliteSnapshots,
  startBackends,
  stopAllProcesses,
} from '@titanium/test-support';
import fc from 'fast-check';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The public API through a real gateway process in front of real auth, user and blog processes:
// the gateway parses and re-encodes every body itself, so its own parsing must hold too.
const SECRET = 'gateway-bad-input-secret-long-enough-0123456789';
const ALICE = { username: 'alice', email: 'alice@example.com', password: 'correct horse battery' };
const CREDENTIALS = { username: ALICE.username, password: ALICE.password };
const NEW_USER = { username: 'new_user', email: 'new@example.com', password: 'long enough password' };
const POST = { title: 'A title', content: 'Some content' };
const alice = signToken({ user_id: 1, username: 'alice' }, { secret: SECRET });

let dir: string;
let gateway: RunningService;
let userDb: SqliteSnapshots;
let blogDb: SqliteSnapshots;
let ownId: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'titanium-gateway-fuzz-'));
  ({ gateway } = await startBackends(dir, SECRET, {
    // The limits are tested elsewhere; here every request must reach the parsing and the services.
    RATE_LIMIT_AUTH_MAX: '1000000',
    RATE_LIMIT_WRITE_MAX: '1000000',
  }));
  const json = (payload: unknown): BodyCase => ({ contentType: 'application/json', payload: JSON.stringify(payload) });
  expect((await send('POST', '/api/register', json(ALICE))).statusCode).toBe(201);
  const created = await send('POST', '/api/posts', json(POST));
  expect(created.statusCode).toBe(201);
  ownId = (JSON.parse(created.body) as { id: number }).id;
  userDb = sqliteSnapshots(join(dir, 'users.db'));
  blogDb = sqliteSnapshots(join(dir, 'blog.db'));
}, 60_000);

afterAll(async () => {
  userDb?.close();
  blogDb?.close();
  await stopAllProcesses();
  rmSync(dir, { recursive: true, force: true });
});

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

/** One real HTTP request to the gateway, with the path and body sent byte for byte as given. */
async function send(method: Method, path: string, body?: BodyCase): Promise<Answer> {
  const headers: Record<string, string> = { authorization: `Bearer ${alice}` };
  if (body?.contentType !== undefined) headers['content-type'] = body.contentType;
  const res = await request(`${gateway.url}${path}`, {
    method,
    headers,
    ...(body?.payload === undefined ? {} : { body: body.payload }),
  });
  const text = await res.body.text();
  return { statusCode: res.statusCode, headers: res.headers as Answer['headers'], body: text };
}

function checked(method: Method, path: string, body?: BodyCase): Promise<Answer> {
  const readOnly = method === 'GET' || path.startsWith('/api/login');
  return sendChecked(`${method} ${path.slice(0, 80)}`, () => send(method, path, body), [userDb, blogDb], readOnly);
}

describe('the public API through the gateway under hostile input', () => {
  it('POST /api/posts, PATCH /api/posts/:id: any body is answered with 2xx or a JSON 4xx, and stored as sent', async () => {
    const write = fc.oneof(
      hostileBody(POST).map((body) => ({ method: 'POST' as const, path: '/api/posts', body })),
      fc
        .tuple(fc.oneof(fc.constant(String(ownId)), hostilePathId), hostileBody({ title: 'New title' }))
        .map(([id, body]) => ({ method: 'PATCH' as const, path: `/api/posts/${id}`, body })),
    );
    await fc.assert(
      fc.asyncProperty(write, async ({ method, path, body }) => {
        const answer = await checked(method, path, body);
        if (answer.statusCode < 300) expectStoredAsSent(body, answer, ['title', 'content']);
      }),
      fuzzParameters(40),
    );
  });

  it('POST /api/register and /api/login: any body is answered with 2xx or a JSON 4xx', async () => {
    const call = fc.oneof(
      hostileBody(NEW_USER).map((body) => ({ path: '/api/register', body })),
      hostileBody(CREDENTIALS).map((body) => ({ path: '/api/login', body })),
    );
    await fc.assert(
      fc.asyncProperty(call, async ({ path, body }) => {
        const answer = await checked('POST', path, body);
        if (path === '/api/register' && answer.statusCode === 201) expectStoredAsSent(body, answer, ['username']);
      }),
      fuzzParameters(30),
    );
  });

  it('GET /api/posts, /api/posts/:id, /api/users/:name and DELETE /api/posts/:id: any id or query gets 2xx or a JSON 4xx', async () => {
    const call = fc.oneof(
      hostileQuery(['offset', 'limit', 'q']).map((query) => ({ method: 'GET' as const, path: `/api/posts${query}` })),
      hostilePathId.map((id) => ({ method: 'GET' as const, path: `/api/posts/${id}` })),
      hostilePathId.map((id) => ({ method: 'GET' as const, path: `/api/users/${id}` })),
      hostilePathId
        .filter((id) => id !== String(ownId))
        .map((id) => ({ method: 'DELETE' as const, path: `/api/posts/${id}` })),
    );
    await fc.assert(
      fc.asyncProperty(call, async ({ method, path }) => {
        await checked(method, path);
      }),
      fuzzParameters(60),
    );
  });

  it.each(refusals(POST))('POST /api/posts refuses $name with $status', async ({ status, body }) => {
    expect((await checked('POST', '/api/posts', body)).statusCode).toBe(status);
  });

  it.each(refusals(NEW_USER))('POST /api/register refuses $name with $status', async ({ status, body }) => {
    expect((await checked('POST', '/api/register', body)).statusCode).toBe(status);
  });

  it.each(NON_FINITE_QUERY_VALUES.flatMap((value) => [`offset=${value}`, `limit=${value}`]))(
    'GET /api/posts?%s is refused with 400',
    async (query) => {
      expect((await checked('GET', `/api/posts?${query}`)).statusCode).toBe(400);
    },
  );

  it.each(MALFORMED_PATH_IDS.map((id) => [id.slice(0, 12), id]))(
    'the malformed path id %s… is refused with a JSON 4xx on posts and users',
    async (_label, id) => {
      for (const path of [`/api/posts/${id}`, `/api/users/${id}`]) {
        expect((await checked('GET', path)).statusCode).toBeGreaterThanOrEqual(400);
      }
      expect((await checked('DELETE', `/api/posts/${id}`)).statusCode).toBeGreaterThanOrEqual(400);
    },
  );

  it('refuses a URL longer than the server takes with a JSON 4xx', async () => {
    const answer = await checked('GET', `/api/posts?q=${'x'.repeat(20_000)}`);
    expect(answer.statusCode).toBeGreaterThanOrEqual(400);
  });
});
