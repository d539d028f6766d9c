import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DomainEvent, MemorySink } from '@titanium/service-kit';
import {
  type Component,
  isListening,
  redisComponent,
  scratchDir,
  serviceComponent,
  startService,
  stopAllProcesses,
} from '@titanium/test-support';
import Database from 'better-sqlite3';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildUserService, domainStream, post, statsOf, tempDir, typesAndData } from './helpers.js';

const PASSWORD = 'Sup3r-secret-passw0rd';
const user = (username: string) => ({ username, email: `${username}@example.com`, password: PASSWORD });
const created = (user_id: number, username: string) => ({ type: 'user.created', data: { user_id, username } });
const login = (user_id: number | null, username: string | null, success: boolean) => ({
  type: 'user.login',
  data: { user_id, username, success },
});

/** Outbox rows in the database file, read by a connection of the test's own. */
function outboxRows(path: string): DomainEvent[] {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare<[], string>('SELECT event FROM outbox ORDER BY seq').pluck().all();
    return rows.map((row) => JSON.parse(row) as DomainEvent);
  } finally {
    db.close();
  }
}

const SLOW_MS = 1_000;

/** A request and how long it took to be answered. */
async function timed(request: () => Promise<Response>): Promise<{ status: number; ms: number }> {
  const startedAt = performance.now();
  const res = await request();
  await res.arrayBuffer();
  return { status: res.status, ms: performance.now() - startedAt };
}

describe('user-service domain events on Redis Streams (real redis-server, real processes)', () => {
  let redis: Component;
  let users: Component;
  let client: Redis;
  let temp: ReturnType<typeof tempDir>;

  beforeEach(async () => {
    temp = tempDir();
    redis = await redisComponent();
    users = await serviceComponent('user-service', { DATABASE_PATH: temp.dbPath, REDIS_URL: redis.url });
    client = new Redis(redis.url, { maxRetriesPerRequest: 0, lazyConnect: true });
  });

  afterEach(async () => {
    client.disconnect();
    await stopAllProcesses();
    temp.cleanup();
  });

  const stream = async () => {
    if (client.status === 'wait') await client.connect();
    return domainStream(client);
  };
  const pending = async () => (await statsOf(users.url)).outbox.pending;

  it('records every outcome of a credential check once, with the user when one exists and nothing that was typed', async () => {
    expect((await post(users.url, '/users', user('alice'))).status).toBe(201);
    const checks: [body: { username: string; password: string }, status: number][] = [
      [{ username: 'alice', password: `${PASSWORD}x` }, 401],
      [{ username: 'alice', password: PASSWORD }, 200],
      [{ username: 'nobody', password: PASSWORD }, 401],
      // What an unknown user typed may be an e-mail address or a password: it is never kept.
      [{ username: 'alice@example.com', password: PASSWORD }, 401],
      [{ username: PASSWORD, password: 'alice' }, 401],
    ];
    for (const [body, status] of checks)
      expect((await post(users.url, '/users/verify-credentials', body)).status).toBe(status);

    await expect.poll(async () => (await stream()).length, { timeout: 10_000 }).toBe(6);
    const events = await stream();
    expect(typesAndData(events)).toEqual([
      created(1, 'alice'),
      login(1, 'alice', false),
      login(1, 'alice', true),
      login(null, null, false),
      login(null, null, false),
      login(null, null, false),
    ]);
    for (const event of events) {
      expect(event).toEqual({
        kind: 'domain',
        type: event.type,
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        timestamp: new Date(event.timestamp).toISOString(),
        source: 'user-service',
        data: event.data,
      });
    }
    expect(new Set(events.map((event) => event.id)).size).toBe(events.length);
    const raw = JSON.stringify(await client.xrange('titanium:events:domain', '-', '+'));
    expect(raw).not.toContain('example.com');
    expect(raw).not.toContain(PASSWORD);
    expect(raw).not.toMatch(/argon2|scrypt/);
    expect(await pending()).toBe(0);
  });

  it('answers writes at once while Redis is frozen, keeps their events in the outbox and publishes each once, in order, after SIGCONT', async () => {
    expect((await post(users.url, '/users', user('alice'))).status).toBe(201);
    await expect.poll(async () => (await stream()).length, { timeout: 10_000 }).toBe(1);

    redis.freeze();
    const answers = [
      await timed(() => post(users.url, '/users', user('bob'))),
      await timed(() => post(users.url, '/users/verify-credentials', { username: 'bob', password: 'wrong password' })),
      await timed(() => post(users.url, '/users', user('carol'))),
      await timed(() => post(users.url, '/users/verify-credentials', { username: 'carol', password: PASSWORD })),
      await timed(() => post(users.url, '/users/verify-credentials', { username: 'dave', password: PASSWORD })),
    ];
    expect(answers.map((answer) => answer.status)).toEqual([201, 401, 201, 200, 401]);
    // Each answer is an SQLite commit and a password hash; none waits for the frozen Redis, whose
    // every command would take the sink's 1 s timeout.
    for (const answer of answers) expect(answer.ms).toBeLessThan(SLOW_MS);
    const frozen = await statsOf(users.url);
    expect(frozen.outbox.pending).toBe(5);
    expect(frozen.outbox.oldest_pending_age_s).toEqual(expect.any(Number));
    expect(redis.frozen).toBe(true);

    redis.resume();
    await expect.poll(pending, { timeout: 15_000 }).toBe(0);
    expect((await statsOf(users.url)).outbox.oldest_pending_age_s).toBeNull();
    // Every attempt made while Redis was frozen reaches it when it wakes; each event is there once.
    const events = await stream();
    expect(typesAndData(events)).toEqual([
      created(1, 'alice'),
      created(2, 'bob'),
      login(2, 'bob', false),
      created(3, 'carol'),
      login(3, 'carol', true),
      login(null, null, false),
    ]);
    expect(new Set(events.map((event) => event.id)).size).toBe(events.length);
  });

  it('publishes an event committed just before a SIGKILL once the service is started again on the same database', async () => {
    expect((await post(users.url, '/users', user('alice'))).status).toBe(201);
    await expect.poll(async () => (await stream()).length, { timeout: 10_000 }).toBe(1);

    redis.freeze();
    expect((await post(users.url, '/users', user('bob'))).status).toBe(201);
    expect(await pending()).toBe(1);
    await users.kill();
    // The event outlived the process, in the same file as the user.
    const [saved, ...more] = outboxRows(temp.dbPath);
    expect(more).toEqual([]);
    expect(saved).toMatchObject(created(2, 'bob'));

    redis.resume();
    await users.start();
    await expect.poll(pending, { timeout: 15_000 }).toBe(0);
    // The attempt of the killed process lands when Redis wakes, and the new process sends the same
    // batch again: the event is there once, the one saved before the kill.
    const events = await stream();
    expect(typesAndData(events)).toEqual([created(1, 'alice'), created(2, 'bob')]);
    expect(events[1]).toEqual(saved);
    expect(outboxRows(temp.dbPath)).toEqual([]);
  });

  it('finishes the batch in flight before it closes the database on SIGTERM, so nothing is published twice', async () => {
    expect((await post(users.url, '/users', user('alice'))).status).toBe(201);
    await expect.poll(async () => (await stream()).length, { timeout: 10_000 }).toBe(1);
    redis.freeze();
    expect((await post(users.url, '/users', user('bob'))).status).toBe(201);
    // The relay has sent the event to the frozen Redis and waits for its answer.
    expect(await pending()).toBe(1);
    users.terminate();
    // The listener closes first, then the onClose hooks run; give them a moment to get as far as
    // they can while the relay still waits for Redis.
    await expect.poll(() => isListening(users.port)).toBe(false);
    await sleep(100);
    // The database is still open (SQLite removes the write-ahead log when its last connection closes).
    expect(existsSync(`${temp.dbPath}-wal`)).toBe(true);
    redis.resume();
    expect(await users.process.exited).toEqual({ code: 0, signal: null });
    // Published, then deleted while the database was still open.
    expect(outboxRows(temp.dbPath)).toEqual([]);
    expect(typesAndData(await stream())).toEqual([created(1, 'alice'), created(2, 'bob')]);
  });
});

describe('user-service domain events when SQLite cannot write (in-process, MESSAGING_TYPE=memory)', () => {
  let app: FastifyInstance;
  let temp: ReturnType<typeof tempDir>;

  beforeEach(async () => {
    temp = tempDir();
    app = await buildUserService({ DATABASE_PATH: temp.dbPath });
  });

  afterEach(async () => {
    await app.close();
    temp.cleanup();
  });

  const register = (name: string) => app.inject({ method: 'POST', url: '/users', payload: user(name) });
  const check = (username: string, password: string) =>
    app.inject({ method: 'POST', url: '/users/verify-credentials', payload: { username, password } });
  /** What the memory sink holds once the outbox is empty. */
  const published = async () => {
    await expect.poll(async () => (await statsOf(app)).outbox.pending).toBe(0);
    const ring = app.messaging.sink as MemorySink;
    return (await ring.newer(undefined, 10_000)).map((entry) => entry.event as DomainEvent);
  };

  it('saves neither the user nor its event when the disk is full, and both once it has room', async () => {
    expect((await register('alice')).statusCode).toBe(201);
    const db = app.userStore.connection;
    db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true })}`);
    const acknowledged = ['alice'];
    let refused: string | undefined;
    for (let i = 0; i < 300 && refused === undefined; i++) {
      const res = await register(`user${i}`);
      if (res.statusCode === 201) acknowledged.push(`user${i}`);
      else {
        expect(res.statusCode).toBe(503);
        refused = `user${i}`;
      }
    }
    expect(refused).toBeDefined();
    db.pragma('max_page_count = 1073741823');
    expect((await register('after')).statusCode).toBe(201);
    acknowledged.push('after');

    // The relay publishes in order, so once the last event is out every earlier one is too.
    const events = await published();
    expect(events.map((event) => event.data)).toEqual(
      acknowledged.map((username, i) => ({ user_id: i + 1, username })),
    );
    expect(JSON.stringify(events)).not.toContain(`"${refused}"`);
    expect(db.prepare('SELECT count(*) FROM users WHERE username = ?').pluck().get(refused)).toBe(0);
    expect(db.prepare('SELECT count(*) FROM outbox').pluck().get()).toBe(0);
  });

  it('answers a credential check on a read-only database as usual and saves no event for it', async () => {
    expect((await register('alice')).statusCode).toBe(201);
    expect(await published()).toHaveLength(1);
    app.userStore.connection.pragma('query_only = 1');
    expect((await register('bob')).statusCode).toBe(503);
    expect((await check('alice', PASSWORD)).statusCode).toBe(200);
    expect((await check('alice', 'wrong password')).statusCode).toBe(401);
    expect((await check('nobody', PASSWORD)).statusCode).toBe(401);
    expect(await statsOf(app)).toMatchObject({ database: { status: 'unhealthy' }, outbox: { pending: 0 } });
    app.userStore.connection.pragma('query_only = 0');
    expect((await check('alice', PASSWORD)).statusCode).toBe(200);
    expect(typesAndData(await published())).toEqual([created(1, 'alice'), login(1, 'alice', true)]);
  });
});

describe('user-service with MESSAGING_TYPE none and memory (real processes, no Redis)', () => {
  afterEach(stopAllProcesses);

  async function exercise(url: string): Promise<void> {
    expect((await post(url, '/users', user('alice'))).status).toBe(201);
    expect((await post(url, '/users/verify-credentials', { username: 'alice', password: PASSWORD })).status).toBe(200);
    expect((await post(url, '/users/verify-credentials', { username: 'bob', password: PASSWORD })).status).toBe(401);
  }

  it('writes no outbox rows and serves no /events with MESSAGING_TYPE=none', async () => {
    const dbPath = join(scratchDir('titanium-users-none-'), 'users.db');
    const service = await startService('user-service', { DATABASE_PATH: dbPath, MESSAGING_TYPE: 'none' });
    await exercise(service.url);
    // Nothing relays with `none`, so a row written would still be there.
    expect(outboxRows(dbPath)).toEqual([]);
    expect((await statsOf(service.url)).outbox).toEqual({ pending: 0, oldest_pending_age_s: null });
    expect((await fetch(`${service.url}/events`)).status).toBe(404);
  });

  it('serves its domain events on GET /events with MESSAGING_TYPE=memory, the default without Redis', async () => {
    const dbPath = join(scratchDir('titanium-users-memory-'), 'users.db');
    const service = await startService('user-service', { DATABASE_PATH: dbPath });
    await exercise(service.url);
    const read = async () => {
      const res = await fetch(`${service.url}/events?count=100`);
      expect(res.status).toBe(200);
      return ((await res.json()) as { entries: { event: DomainEvent }[] }).entries.map((entry) => entry.event);
    };
    await expect.poll(async () => (await read()).length, { timeout: 10_000 }).toBe(3);
    // Newest first, as the load balancer pages through it.
    expect(typesAndData((await read()).reverse())).toEqual([
      created(1, 'alice'),
      login(1, 'alice', true),
      login(null, null, false),
    ]);
    expect(outboxRows(dbPath)).toEqual([]);
  });
});
