import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DomainEvent, loadConfig, type MemorySink } from '@titanium/service-kit';
import {
  type Answer,
  BAD_PATH_IDS,
  type BodyCase,
  sendChecked as checked,
  expectStoredAsSent,
  fuzzParameters,
  hostileBody,
  hostilePathId,
  hostileQuery,
  injectAnswer,
  MALFORMED_PATH_IDS,
  NON_FINITE_QUERY_VALUES,
  refusals,
  type Snapshotter,
  type SqliteSnapshots,
  signToken,
  sqliteSnapshots,
} from '@titanium/test-support';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from '../src/app.js';
import { readConfig } from '../src/config.js';

const SECRET = 'blog-bad-input-secret-that-is-long-enough-0123';
const alice = signToken({ user_id: 1, username: 'alice' }, { secret: SECRET });
const POST = { title: 'A title', content: 'Some content' };

let dir: string;
let app: FastifyInstance;
let snapshots: SqliteSnapshots;
/** The test's own connection to the file, for the outbox and the posts before and after a request. */
let reader: Database.Database;
let ring: MemorySink;
/** A post of alice's, so edits with her token get past the ownership check to the body rules. */
let ownId: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'titanium-blog-fuzz-'));
  const dbPath = join(dir, 'blog.db');
  app = build(loadConfig(readConfig, { LOG_LEVEL: 'silent', BLOG_DATABASE_PATH: dbPath, JWT_SECRET: SECRET }));
  await app.ready();
  const created = await send('POST', '/api/posts', { contentType: 'application/json', payload: JSON.stringify(POST) });
  expect(created.statusCode).toBe(201);
  ownId = (JSON.parse(created.body) as { id: number }).id;
  snapshots = sqliteSnapshots(dbPath);
  reader = new Database(dbPath, { readonly: true });
  ring = app.messaging.sink as MemorySink;
});

afterAll(async () => {
  snapshots?.close();
  reader?.close();
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

function send(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: BodyCase): Promise<Answer> {
  return injectAnswer(app, method, url, body, { authorization: `Bearer ${alice}` });
}

/** Every table but the outbox, which the relay empties on its own time; the events are checked apart. */
const tables: Snapshotter = {
  take() {
    const { outbox: _, ...rest } = snapshots.take();
    return rest;
  },
};

interface Row {
  id: number;
  title: string;
  content: string;
}
const posts = () =>
  new Map(
    reader
      .prepare<[], Row>('SELECT id, title, content FROM posts')
      .all()
      .map((row) => [row.id, row]),
  );

/** Waits until the outbox is empty; returns the position of the newest event published. */
async function relayed(): Promise<string | undefined> {
  await expect.poll(() => reader.prepare('SELECT count(*) FROM outbox').pluck().get(), { interval: 5 }).toBe(0);
  return ring.head();
}

/** The events an answer must have written (alice is user 1): one for a change, none otherwise. */
function expectedEvents(method: string, answer: Answer, before: Map<number, Row>, after: Map<number, Row>) {
  if (method === 'POST' && answer.statusCode === 201) {
    const post = JSON.parse(answer.body) as Row;
    return [{ type: 'post.created', data: { post_id: post.id, author_id: 1, title: post.title } }];
  }
  if (method === 'PATCH' && answer.statusCode === 200) {
    const post = JSON.parse(answer.body) as Row;
    const old = before.get(post.id) as Row;
    const fields = (['title', 'content'] as const).filter((field) => old[field] !== post[field]);
    return [{ type: 'post.updated', data: { post_id: post.id, author_id: 1, title: post.title, fields } }];
  }
  if (method === 'DELETE' && answer.statusCode === 204) {
    const gone = [...before.keys()].filter((id) => !after.has(id));
    return gone.map((post_id) => ({ type: 'post.deleted', data: { post_id, author_id: 1 } }));
  }
  return [];
}

/**
 * Sends the request; it must be answered in order, a refusal must leave every table as it was, and
 * the events published must be exactly the ones the answer accounts for.
 */
async function sendChecked(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: BodyCase): Promise<Answer> {
  const what = `${method} ${url.slice(0, 80)}`;
  const head = await relayed();
  const before = posts();
  const answer = await checked(what, () => send(method, url, body), [tables], method === 'GET');
  await relayed();
  const events = (await ring.newer(head, 100)).map((entry) => entry.event as DomainEvent);
  expect(
    events.map(({ type, data }) => ({ type, data })),
    `${what}: events after a ${answer.statusCode}`,
  ).toEqual(expectedEvents(method, answer, before, posts()));
  return answer;
}

describe('blog-service under hostile input', () => {
  it('POST /api/posts: any body is answered with 2xx or a JSON 4xx, and a post holds exactly what was sent', async () => {
    await fc.assert(
      fc.asyncProperty(hostileBody(POST), async (body) => {
        const answer = await sendChecked('POST', '/api/posts', body);
        if (answer.statusCode === 201) expectStoredAsSent(body, answer, ['title', 'content']);
      }),
      fuzzParameters(120),
    );
  });

  it('PATCH /api/posts/:id: any id and body is answered with 2xx or a JSON 4xx', async () => {
    const id = fc.oneof({ weight: 3, arbitrary: fc.constant(String(ownId)) }, hostilePathId);
    await fc.assert(
      fc.asyncProperty(id, hostileBody({ title: 'New title' }), async (postId, body) => {
        const answer = await sendChecked('PATCH', `/api/posts/${postId}`, body);
        if (answer.statusCode === 200) expectStoredAsSent(body, answer, ['title', 'content']);
      }),
      fuzzParameters(120),
    );
  });

  it('GET and DELETE /api/posts/:id: any id is answered with 2xx or a JSON 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(hostilePathId, fc.constantFrom('GET' as const, 'DELETE' as const), async (postId, method) => {
        // Alice's own post stays: the edit property needs it.
        fc.pre(postId !== String(ownId));
        await sendChecked(method, `/api/posts/${postId}`);
      }),
      fuzzParameters(120),
    );
  });

  it('GET /api/posts: any query is answered with a JSON page or a JSON 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(hostileQuery(['offset', 'limit', 'q']), async (query) => {
        const answer = await sendChecked('GET', `/api/posts${query}`);
        if (answer.statusCode === 200) {
          expect(Array.isArray(JSON.parse(answer.body))).toBe(true);
          expect(Number(answer.headers['x-total-count'])).toBeGreaterThanOrEqual(0);
        }
      }),
      fuzzParameters(120),
    );
  });

  it('GET /blog/*: any path into the blog page is answered with 2xx or a JSON 4xx, never a file outside it', async () => {
    const traversal = fc.constantFrom('..%2f..%2fpackage.json', '%2e%2e/%2e%2e/package.json', '.env', '..', '%5c..%5c');
    await fc.assert(
      fc.asyncProperty(fc.oneof(hostilePathId, traversal), async (path) => {
        const answer = await sendChecked('GET', `/blog/${path}`);
        expect(answer.body).not.toContain('"workspaces"');
        expect(answer.body).not.toContain('better-sqlite3');
      }),
      fuzzParameters(60),
    );
  });

  it.each(refusals(POST))('POST /api/posts refuses $name with $status', async ({ status, body }) => {
    expect((await sendChecked('POST', '/api/posts', body)).statusCode).toBe(status);
  });

  it.each(refusals({ title: 'New title' }))(
    'PATCH /api/posts/:id refuses $name with $status',
    async ({ status, body }) => {
      expect((await sendChecked('PATCH', `/api/posts/${ownId}`, body)).statusCode).toBe(status);
    },
  );

  it.each(NON_FINITE_QUERY_VALUES.flatMap((value) => [`offset=${value}`, `limit=${value}`]))(
    'GET /api/posts?%s is refused with 400',
    async (query) => {
      const answer = await sendChecked('GET', `/api/posts?${query}`);
      expect(answer.statusCode).toBe(400);
    },
  );

  it.each(BAD_PATH_IDS)('the path id %s is refused with 400 by GET, PATCH and DELETE', async (postId) => {
    const body = { contentType: 'application/json', payload: '{"title":"x"}' };
    expect((await sendChecked('GET', `/api/posts/${postId}`)).statusCode).toBe(400);
    expect((await sendChecked('PATCH', `/api/posts/${postId}`, body)).statusCode).toBe(400);
    expect((await sendChecked('DELETE', `/api/posts/${postId}`)).statusCode).toBe(400);
  });

  it.each(MALFORMED_PATH_IDS.map((id) => [id.slice(0, 12), id]))(
    'the malformed path id %s… is refused with a JSON 4xx',
    async (_label, postId) => {
      for (const method of ['GET', 'DELETE'] as const) {
        const answer = await sendChecked(method, `/api/posts/${postId}`);
        expect(answer.statusCode).toBeGreaterThanOrEqual(400);
      }
    },
  );
});
