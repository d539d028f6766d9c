import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type Component,
  cleanupDisks,
  holdWriteLocks,
  isListening,
  itMounting,
  mountSmallDisk,
  redisComponent,
  scratchDir,
  serviceComponent,
  signToken,
  startService,
  stopAllProcesses,
} from '@titanium/test-support';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  blogStats,
  DOMAIN_STREAM,
  domainStream,
  firstCopies,
  outboxRows,
  servedEvents,
  typesAndData,
} from './events.js';

const SECRET = 'blog-events-test-secret-that-is-long-enough-0123';
const PASSWORD = 'Sup3r-secret-passw0rd';
const EMAIL = 'alice@example.com';
const alice = signToken({ user_id: 1, username: 'alice' }, { secret: SECRET });
const bob = signToken({ user_id: 2, username: 'bob' }, { secret: SECRET });

/** A write to the posts API with `token`; the status and the JSON body, if any. */
async function call(
  base: string,
  method: 'POST' | 'PATCH' | 'DELETE',
  path: string,
  token: string,
  body?: unknown,
): Promise<{ status: number; body: { id?: number; title?: string }; ms: number }> {
  const startedAt = performance.now();
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : {}, ms: performance.now() - startedAt };
}

const created = (post_id: number, title: string) => ({
  type: 'post.created',
  data: { post_id, author_id: 1, title },
});
const updated = (post_id: number, title: string, fields: string[]) => ({
  type: 'post.updated',
  data: { post_id, author_id: 1, title, fields },
});
const deleted = (post_id: number) => ({ type: 'post.deleted', data: { post_id, author_id: 1 } });

/** A new database holds the two sample posts, so the first post written is 3. */
const FIRST = 3;

/** A write that waited for the frozen Redis would take the sink's 1 s command timeout. */
const SLOW_MS = 1_000;

describe('domain events of the user and blog services on one Redis stream (real processes)', () => {
  let redis: Component;
  let client: Redis;
  let dir: string;

  beforeEach(async () => {
    dir = scratchDir('titanium-blog-events-');
    redis = await redisComponent();
    client = new Redis(redis.url, { maxRetriesPerRequest: 0 });
  });

  afterEach(async () => {
    client.disconnect();
    await stopAllProcesses();
    cleanupDisks();
  });

  const stream = () => domainStream(client);
  const blogEnv = () => ({ BLOG_DATABASE_PATH: join(dir, 'blog.db'), JWT_SECRET: SECRET, REDIS_URL: redis.url });

  it('holds a registration, three logins and a post’s life in order, with exactly their data and nothing secret', async () => {
    const [users, blog] = await Promise.all([
      startService('user-service', { DATABASE_PATH: join(dir, 'users.db'), REDIS_URL: redis.url }),
      startService('blog-service', blogEnv()),
    ]);
    const post = (path: string, body: unknown) =>
      fetch(`${users.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }).then((res) => res.status);
    // Each step waits for its event, so the stream's order is the order of the steps.
    let count = 0;
    const step = async (answer: Promise<number>, status: number, events = 1) => {
      expect(await answer).toBe(status);
      count += events;
      await expect.poll(async () => (await stream()).length, { timeout: 10_000 }).toBe(count);
    };
    const write = (method: 'POST' | 'PATCH' | 'DELETE', path: string, token: string, body?: unknown) =>
      call(blog.url, method, path, token, body).then((answer) => answer.status);

    await step(post('/users', { username: 'alice', email: EMAIL, password: PASSWORD }), 201);
    await step(post('/users/verify-credentials', { username: 'alice', password: `${PASSWORD}!` }), 401);
    await step(post('/users/verify-credentials', { username: 'alice', password: PASSWORD }), 200);
    await step(post('/users/verify-credentials', { username: EMAIL, password: PASSWORD }), 401);
    const path = `/api/posts/${FIRST}`;
    await step(write('POST', '/api/posts', alice, { title: 'First title', content: 'First content' }), 201);
    await step(write('PATCH', path, alice, { title: 'Second title' }), 200);
    await step(write('PATCH', path, alice, { title: 'Second title', content: 'Second content' }), 200);
    await step(write('PATCH', path, alice, { title: 'Third title', content: 'Third content' }), 200);
    // Refused changes write nothing: another user's edit, and an edit of a post nobody owns.
    expect(await write('PATCH', path, bob, { title: 'Taken over' })).toBe(403);
    expect(await write('DELETE', '/api/posts/1', alice)).toBe(403);
    expect(await write('DELETE', '/api/posts/999', alice)).toBe(404);
    await step(write('DELETE', path, alice), 204);

    const events = await stream();
    expect(typesAndData(events)).toEqual([
      { type: 'user.created', data: { user_id: 1, username: 'alice' } },
      { type: 'user.login', data: { user_id: 1, username: 'alice', success: false } },
      { type: 'user.login', data: { user_id: 1, username: 'alice', success: true } },
      { type: 'user.login', data: { user_id: null, username: null, success: false } },
      created(FIRST, 'First title'),
      updated(FIRST, 'Second title', ['title']),
      updated(FIRST, 'Second title', ['content']),
      updated(FIRST, 'Third title', ['title', 'content']),
      deleted(FIRST),
    ]);
    for (const event of events) {
      expect(event).toEqual({
        kind: 'domain',
        type: event.type,
        id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
        timestamp: new Date(event.timestamp).toISOString(),
        source: event.type.startsWith('user.') ? 'user-service' : 'blog-service',
        data: event.data,
      });
    }
    expect(new Set(events.map((event) => event.id)).size).toBe(events.length);
    const timestamps = events.map((event) => event.timestamp);
    expect([...timestamps].sort()).toEqual(timestamps);

    const db = new Database(join(dir, 'users.db'), { readonly: true });
    const hash = db.prepare<[], string>('SELECT password_hash FROM users').pluck().get() as string;
    db.close();
    const raw = JSON.stringify(await client.xrange(DOMAIN_STREAM, '-', '+'));
    for (const secret of [EMAIL, PASSWORD, hash, hash.split('$').at(-1) as string, alice, SECRET]) {
      expect(raw).not.toContain(secret);
    }
    expect((await blogStats(blog.url)).outbox).toEqual({ pending: 0, oldest_pending_age_s: null });
  });

  it('answers writes at once while Redis is frozen, keeps their events in the outbox and publishes each once, in order, after SIGCONT', async () => {
    const blog = await startService('blog-service', blogEnv());
    expect((await call(blog.url, 'POST', '/api/posts', alice, { title: 'Before', content: 'x' })).status).toBe(201);
    await expect.poll(async () => (await stream()).length, { timeout: 10_000 }).toBe(1);
    // Its row goes once the relay has had Redis's answer (on a busy machine, maybe a retry).
    await expect.poll(async () => (await blogStats(blog.url)).outbox.pending, { timeout: 10_000 }).toBe(0);

    redis.freeze();
    const answers = [
      await call(blog.url, 'POST', '/api/posts', alice, { title: 'During', content: 'y' }),
      await call(blog.url, 'PATCH', `/api/posts/${FIRST}`, alice, { content: 'changed' }),
      await call(blog.url, 'PATCH', `/api/posts/${FIRST + 1}`, alice, { title: 'During, renamed' }),
      await call(blog.url, 'DELETE', `/api/posts/${FIRST}`, alice),
    ];
    expect(answers.map((answer) => answer.status)).toEqual([201, 200, 200, 204]);
    for (const answer of answers) expect(answer.ms).toBeLessThan(SLOW_MS);
    const frozen = await blogStats(blog.url);
    expect(frozen.outbox.pending).toBe(4);
    expect(frozen.outbox.oldest_pending_age_s).toEqual(expect.any(Number));
    expect(redis.frozen).toBe(true);

    redis.resume();
    await expect.poll(async () => (await blogStats(blog.url)).outbox.pending, { timeout: 15_000 }).toBe(0);
    // Every attempt made while Redis was frozen reaches it when it wakes; each event is there once.
    const events = await stream();
    expect(typesAndData(events)).toEqual([
      created(FIRST, 'Before'),
      created(FIRST + 1, 'During'),
      updated(FIRST, 'Before', ['content']),
      updated(FIRST + 1, 'During, renamed', ['title']),
      deleted(FIRST),
    ]);
    expect(new Set(events.map((event) => event.id)).size).toBe(events.length);
  });

  it('publishes an event committed just before a SIGKILL once the service is started again on the same database', async () => {
    const blog = await serviceComponent('blog-service', blogEnv());
    expect((await call(blog.url, 'POST', '/api/posts', alice, { title: 'Kept', content: 'x' })).status).toBe(201);
    await expect.poll(async () => (await stream()).length, { timeout: 10_000 }).toBe(1);
    // Its row goes once the relay has had Redis's answer (on a busy machine, maybe a retry).
    await expect.poll(async () => (await blogStats(blog.url)).outbox.pending, { timeout: 10_000 }).toBe(0);

    redis.freeze();
    expect((await call(blog.url, 'PATCH', `/api/posts/${FIRST}`, alice, { title: 'Renamed' })).status).toBe(200);
    expect((await blogStats(blog.url)).outbox.pending).toBe(1);
    await blog.kill();
    const [saved, ...more] = outboxRows(join(dir, 'blog.db'));
    expect(more).toEqual([]);
    expect(saved).toMatchObject(updated(FIRST, 'Renamed', ['title']));

    redis.resume();
    await blog.start();
    await expect.poll(async () => (await blogStats(blog.url)).outbox.pending, { timeout: 15_000 }).toBe(0);
    // The attempt of the killed process lands when Redis wakes, and the new process sends the same
    // batch again: the event is there once, the one saved before the kill.
    const events = await stream();
    expect(typesAndData(events)).toEqual([created(FIRST, 'Kept'), updated(FIRST, 'Renamed', ['title'])]);
    expect(events[1]).toEqual(saved);
  });

  it('finishes the batch in flight before it closes the database on SIGTERM, so nothing is published twice', async () => {
    const blog = await serviceComponent('blog-service', blogEnv());
    expect((await call(blog.url, 'POST', '/api/posts', alice, { title: 'Before', content: 'x' })).status).toBe(201);
    await expect.poll(async () => (await stream()).length, { timeout: 10_000 }).toBe(1);
    // Its row goes once the relay has had Redis's answer (on a busy machine, maybe a retry).
    await expect.poll(async () => (await blogStats(blog.url)).outbox.pending, { timeout: 10_000 }).toBe(0);
    redis.freeze();
    expect((await call(blog.url, 'POST', '/api/posts', alice, { title: 'In flight', content: 'x' })).status).toBe(201);
    // The relay has sent the event to the frozen Redis and waits for its answer.
    expect((await blogStats(blog.url)).outbox.pending).toBe(1);
    blog.terminate();
    // The listener closes first, then the onClose hooks run; give them a moment to get as far as
    // they can while the relay still waits for Redis.
    await expect.poll(() => isListening(blog.port)).toBe(false);
    await sleep(100);
    // The database is still open (SQLite removes the write-ahead log when its last connection closes).
    expect(existsSync(`${join(dir, 'blog.db')}-wal`)).toBe(true);
    redis.resume();
    expect(await blog.process.exited).toEqual({ code: 0, signal: null });
    // Published, then deleted while the database was still open.
    expect(outboxRows(join(dir, 'blog.db'))).toEqual([]);
    expect(typesAndData(await stream())).toEqual([created(FIRST, 'Before'), created(FIRST + 1, 'In flight')]);
  });

  itMounting(
    'tmpfs',
    'saves neither a post nor its event on a full disk, and publishes every acknowledged one',
    async () => {
      const disk = mountSmallDisk(4 * 1024 * 1024);
      const dbPath = join(disk.dir, 'blog.db');
      const blog = await startService('blog-service', { ...blogEnv(), BLOG_DATABASE_PATH: dbPath });
      disk.fill(48 * 1024);
      const acknowledged: number[] = [];
      let refused: string | undefined;
      for (let i = 0; i < 300 && refused === undefined; i++) {
        const title = `post ${i}`;
        const answer = await call(blog.url, 'POST', '/api/posts', alice, { title, content: `${title}. `.repeat(40) });
        if (answer.status === 201) acknowledged.push(answer.body.id as number);
        else {
          expect(answer.status).toBe(503);
          refused = title;
        }
      }
      expect(refused).toBeDefined();
      disk.free();
      let after: number | undefined;
      await expect
        .poll(
          async () => {
            const answer = await call(blog.url, 'POST', '/api/posts', alice, { title: 'after', content: 'x' });
            after = answer.body.id;
            return answer.status;
          },
          { timeout: 10_000, interval: 200 },
        )
        .toBe(201);
      acknowledged.push(after as number);
      await expect.poll(async () => (await blogStats(blog.url)).outbox.pending, { timeout: 15_000 }).toBe(0);

      // While the disk is full the relay publishes but cannot delete, so a batch may go out again
      // with a newer row in it: a reader drops a second copy by id.
      const events = firstCopies(await stream());
      expect(events.map((event) => (event.data as { post_id: number }).post_id)).toEqual(acknowledged);
      expect(JSON.stringify(events)).not.toContain(`"${refused}"`);
      await blog.stop();
      expect(outboxRows(dbPath)).toEqual([]);
      const db = new Database(dbPath, { readonly: true });
      expect(db.prepare('SELECT count(*) FROM posts WHERE title = ?').pluck().get(refused)).toBe(0);
      db.close();
    },
  );
});

describe('blog-service domain events without Redis (real processes)', () => {
  afterEach(async () => {
    await stopAllProcesses();
    cleanupDisks();
  });

  it('saves neither a post nor its event when another process holds the write lock', async () => {
    const dbPath = join(scratchDir('titanium-blog-events-busy-'), 'blog.db');
    const blog = await startService('blog-service', {
      BLOG_DATABASE_PATH: dbPath,
      JWT_SECRET: SECRET,
      BLOG_DB_BUSY_TIMEOUT_MS: '100',
    });
    const holder = await holdWriteLocks(dbPath, { holdMs: 300, pauseMs: 100 });
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        call(blog.url, 'POST', '/api/posts', alice, { title: `busy ${i}`, content: 'x' }).then((answer) => ({
          ...answer,
          title: `busy ${i}`,
        })),
      ),
    );
    await holder.stop();
    const stored = answers.filter((answer) => answer.status === 201);
    const refused = answers.filter((answer) => answer.status !== 201);
    expect(refused.length).toBeGreaterThan(0);
    for (const answer of refused) expect(answer.status).toBe(503);

    await expect.poll(async () => (await blogStats(blog.url)).outbox.pending, { timeout: 10_000 }).toBe(0);
    const events = await servedEvents(blog.url);
    expect(
      events
        .map((event) => event.data)
        .sort((a, b) => (a as { post_id: number }).post_id - (b as { post_id: number }).post_id),
    ).toEqual(
      stored
        .map((answer) => ({ post_id: answer.body.id, author_id: 1, title: answer.title }))
        .sort((a, b) => (a.post_id as number) - (b.post_id as number)),
    );
    expect(outboxRows(dbPath)).toEqual([]);
  });

  it('writes no outbox rows and serves no /events with MESSAGING_TYPE=none', async () => {
    const dbPath = join(scratchDir('titanium-blog-events-none-'), 'blog.db');
    const blog = await startService('blog-service', {
      BLOG_DATABASE_PATH: dbPath,
      JWT_SECRET: SECRET,
      MESSAGING_TYPE: 'none',
    });
    expect((await call(blog.url, 'POST', '/api/posts', alice, { title: 'Quiet', content: 'x' })).status).toBe(201);
    expect((await call(blog.url, 'PATCH', `/api/posts/${FIRST}`, alice, { title: 'Still quiet' })).status).toBe(200);
    expect((await call(blog.url, 'DELETE', `/api/posts/${FIRST}`, alice)).status).toBe(204);
    // Nothing relays with `none`, so a row written would still be there.
    expect(outboxRows(dbPath)).toEqual([]);
    expect((await blogStats(blog.url)).outbox).toEqual({ pending: 0, oldest_pending_age_s: null });
    expect((await fetch(`${blog.url}/events`)).status).toBe(404);
  });

  it('serves its domain events on GET /events with MESSAGING_TYPE=memory, the default without Redis', async () => {
    const dbPath = join(scratchDir('titanium-blog-events-memory-'), 'blog.db');
    const blog = await startService('blog-service', { BLOG_DATABASE_PATH: dbPath, JWT_SECRET: SECRET });
    expect((await call(blog.url, 'POST', '/api/posts', alice, { title: 'Remembered', content: 'x' })).status).toBe(201);
    expect((await call(blog.url, 'DELETE', `/api/posts/${FIRST}`, alice)).status).toBe(204);
    await expect.poll(async () => (await servedEvents(blog.url)).length, { timeout: 10_000 }).toBe(2);
    const events = await servedEvents(blog.url);
    expect(typesAndData(events)).toEqual([created(FIRST, 'Remembered'), deleted(FIRST)]);
    expect(events.every((event) => event.source === 'blog-service')).toBe(true);
  });
});
