import {
  type Answer,
  BAD_PATH_IDS,
  type BodyCase,
  expectStoredAsSent,
  fuzzParameters,
  hostileBody,
  hostilePathId,
  hostileQuery,
  injectAnswer,
  MALFORMED_PATH_IDS,
  refusals,
  type SqliteSnapshots,
  sendChecked,
  sqliteSnapshots,
} from '@titanium/test-support';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildUserService, tempDir } from './helpers.js';

const ALICE = { username: 'alice', email: 'alice@example.com', password: 'correct horse battery' };
const NEW_USER = { username: 'new_user', email: 'new@example.com', password: 'long enough password' };
const CREDENTIALS = { username: ALICE.username, password: ALICE.password };

let temp: ReturnType<typeof tempDir>;
let app: FastifyInstance;
let snapshots: SqliteSnapshots;

beforeAll(async () => {
  temp = tempDir();
  app = await buildUserService({ DATABASE_PATH: temp.dbPath });
  const created = await app.inject({ method: 'POST', url: '/users', payload: ALICE });
  expect(created.statusCode).toBe(201);
  snapshots = sqliteSnapshots(temp.dbPath);
});

afterAll(async () => {
  snapshots?.close();
  await app?.close();
  temp?.cleanup();
});

function send(method: 'GET' | 'POST', url: string, body?: BodyCase): Promise<Answer> {
  return sendChecked(
    `${method} ${url.slice(0, 80)}`,
    () => injectAnswer(app, method, url, body),
    [snapshots],
    method === 'GET' || url.startsWith('/users/verify-credentials'),
  );
}

function sentObject(body: BodyCase): Record<string, unknown> {
  return JSON.parse(String(body.payload)) as Record<string, unknown>;
}

describe('user-service under hostile input', () => {
  it('POST /users: any body is answered with 2xx or a JSON 4xx, and a user holds exactly what was sent', async () => {
    await fc.assert(
      fc.asyncProperty(hostileBody(NEW_USER), async (body) => {
        const answer = await send('POST', '/users', body);
        if (answer.statusCode !== 201) return;
        expectStoredAsSent(body, answer, ['username', 'email']);
        expect(typeof sentObject(body).password).toBe('string');
      }),
      fuzzParameters(60),
    );
  });

  it('POST /users/verify-credentials: any body is answered with 2xx or a JSON 4xx, 200 only for the right password', async () => {
    await fc.assert(
      fc.asyncProperty(hostileBody(CREDENTIALS), async (body) => {
        const answer = await send('POST', '/users/verify-credentials', body);
        if (answer.statusCode !== 200) return;
        const sent = sentObject(body);
        expect([sent.username, sent.password]).toEqual([ALICE.username, ALICE.password]);
      }),
      fuzzParameters(60),
    );
  });

  it('GET /users/:username: any name and query is answered with 2xx or a JSON 4xx', async () => {
    const name = fc.oneof(fc.constant(ALICE.username), hostilePathId);
    await fc.assert(
      fc.asyncProperty(name, hostileQuery(['username']), async (username, query) => {
        const answer = await send('GET', `/users/${username}${query}`);
        if (answer.statusCode === 200) expect(JSON.parse(answer.body)).toMatchObject({ username: ALICE.username });
      }),
      fuzzParameters(100),
    );
  });

  it.each(refusals(NEW_USER))('POST /users refuses $name with $status', async ({ status, body }) => {
    expect((await send('POST', '/users', body)).statusCode).toBe(status);
  });

  it.each(refusals(CREDENTIALS))(
    'POST /users/verify-credentials refuses $name with $status',
    async ({ status, body }) => {
      expect((await send('POST', '/users/verify-credentials', body)).statusCode).toBe(status);
    },
  );

  it.each([...BAD_PATH_IDS, ...MALFORMED_PATH_IDS].map((id) => [id.slice(0, 12), id]))(
    'GET /users/%s… is refused with a JSON 4xx',
    async (_label, username) => {
      expect((await send('GET', `/users/${username}`)).statusCode).toBeGreaterThanOrEqual(400);
    },
  );
});
