import type { DomainEvent, MemorySink } from '@titanium/service-kit';
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
  type Snapshotter,
  type SqliteSnapshots,
  sendChecked,
  sqliteSnapshots,
} from '@titanium/test-support';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildUserService, tempDir, typesAndData } from './helpers.js';

const ALICE = { username: 'alice', email: 'alice@example.com', password: 'correct horse battery' };
const NEW_USER = { username: 'new_user', email: 'new@example.com', password: 'long enough password' };
const CREDENTIALS = { username: ALICE.username, password: ALICE.password };

let temp: ReturnType<typeof tempDir>;
let app: FastifyInstance;
let snapshots: SqliteSnapshots;
/** The test's own connection to the file, for the outbox and the users an event names. */
let reader: Database.Database;
let ring: MemorySink;

beforeAll(async () => {
  temp = tempDir();
  app = await buildUserService({ DATABASE_PATH: temp.dbPath });
  const created = await app.inject({ method: 'POST', url: '/users', payload: ALICE });
  expect(created.statusCode).toBe(201);
  snapshots = sqliteSnapshots(temp.dbPath);
  reader = new Database(temp.dbPath, { readonly: true });
  ring = app.messaging.sink as MemorySink;
});

afterAll(async () => {
  snapshots?.close();
  reader?.close();
  await app?.close();
  temp?.cleanup();
});

/** Every table but the outbox, which the relay empties on its own time; the events are checked apart. */
const tables: Snapshotter = {
  take() {
    const { outbox: _, ...rest } = snapshots.take();
    return rest;
  },
};

/** Waits until the outbox is empty; returns the position of the newest event published. */
async function relayed(): Promise<string | undefined> {
  await expect.poll(() => reader.prepare('SELECT count(*) FROM outbox').pluck().get(), { interval: 5 }).toBe(0);
  return ring.head();
}

/** The events one answer must have written: a registration's or a credential check's, nothing else. */
function expectedEvents(url: string, body: BodyCase | undefined, answer: Answer) {
  const answered = answer.statusCode < 300 ? (JSON.parse(answer.body) as { id: number; username: string }) : undefined;
  if (url === '/users' && answered)
    return [{ type: 'user.created', data: { user_id: answered.id, username: answered.username } }];
  if (!url.startsWith('/users/verify-credentials')) return [];
  if (answered)
    return [{ type: 'user.login', data: { user_id: answered.id, username: answered.username, success: true } }];
  if (answer.statusCode !== 401) return [];
  // A refused check names the user when one has the name sent, and nobody otherwise.
  const { username } = sentObject(body as BodyCase) as { username: string };
  const row = reader
    .prepare<[string], { id: number; username: string }>('SELECT id, username FROM users WHERE username = ?')
    .get(username);
  return [{ type: 'user.login', data: { user_id: row?.id ?? null, username: row?.username ?? null, success: false } }];
}

/**
 * Sends the request and checks its answer; a refusal (or any answer to a read) leaves every table
 * as it was, and the events published are exactly the ones the answer accounts for.
 */
async function send(method: 'GET' | 'POST', url: string, body?: BodyCase): Promise<Answer> {
  const what = `${method} ${url.slice(0, 80)}`;
  const head = await relayed();
  const answer = await sendChecked(
    what,
    () => injectAnswer(app, method, url, body),
    [tables],
    method === 'GET' || url.startsWith('/users/verify-credentials'),
  );
  await relayed();
  const events = (await ring.newer(head, 100)).map((entry) => entry.event as DomainEvent);
  expect(typesAndData(events), `${what}: events after a ${answer.statusCode}`).toEqual(
    method === 'GET' ? [] : expectedEvents(url, body, answer),
  );
  return answer;
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
