import { randomBytes, scryptSync } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildUserService, statsOf, tempDir } from './helpers.js';

const ALICE = { username: 'alice', email: 'alice@example.com', password: 'correct horse' };

describe('registration and lookup (route logic)', () => {
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

  const register = (payload: unknown, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url: '/users', payload: payload as object, headers });

  it('registers a user and answers 201 with id, username and email only', async () => {
    const res = await register(ALICE);
    expect(res.statusCode).toBe(201);
    expect(res.json()).toEqual({ id: 1, username: 'alice', email: 'alice@example.com' });
    expect((await statsOf(app)).users).toBe(1);
  });

  it('creates the database directory and schema on first start', async () => {
    await register(ALICE);
    const columns = app.userStore.connection.prepare('SELECT name FROM pragma_table_info(?)').pluck().all('users');
    expect(columns).toEqual(['id', 'username', 'email', 'password_hash', 'created_at']);
    expect(app.userStore.connection.pragma('journal_mode', { simple: true })).toBe('wal');
  });

  it('answers 409 to a second registration of the same username and keeps the first user', async () => {
    await register(ALICE);
    const res = await register({ ...ALICE, email: 'mallory@example.com', password: 'another password' });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toEqual({ statusCode: 409, error: 'Conflict', message: 'Username alice is already taken' });
    expect((await app.inject('/users/alice')).json().email).toBe('alice@example.com');
    expect((await statsOf(app)).users).toBe(1);
  });

  it.each([
    ['a missing username', { email: ALICE.email, password: ALICE.password }, 'username is required'],
    ['a missing email', { username: 'bob', password: ALICE.password }, 'email is required'],
    ['a missing password', { username: 'bob', email: ALICE.email }, 'password is required'],
    ['an empty username', { ...ALICE, username: '' }, 'username must be 3 to 32 characters'],
    ['a two-letter username', { ...ALICE, username: 'ab' }, 'username must be 3 to 32 characters'],
    ['a 33-character username', { ...ALICE, username: 'a'.repeat(33) }, 'username must be 3 to 32 characters'],
    ['a username with a space', { ...ALICE, username: 'bob smith' }, 'username must be 3 to 32 characters'],
    ['a username with a slash', { ...ALICE, username: 'bob/x' }, 'username must be 3 to 32 characters'],
    ['an email without @', { ...ALICE, email: 'alice.example.com' }, 'email must be a valid email address'],
    ['an empty email', { ...ALICE, email: '' }, 'email must be a valid email address'],
    ['an over-long email', { ...ALICE, email: `${'a'.repeat(250)}@example.com` }, 'email must be a valid email'],
    ['a 7-character password', { ...ALICE, password: 'seven77' }, 'password must be 8 to 128 characters'],
    ['an empty password', { ...ALICE, password: '' }, 'password must be 8 to 128 characters'],
    ['a 129-character password', { ...ALICE, password: 'p'.repeat(129) }, 'password must be 8 to 128 characters'],
    ['a password that is not a string', { ...ALICE, password: { a: 1 } }, 'password must be 8 to 128 characters'],
    ['a JSON array instead of an object', [ALICE], 'the request body must be a JSON object'],
  ])('refuses %s with 400 naming the field, and stores nothing', async (_case, payload, message) => {
    const res = await register(payload);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    expect(res.json().message).toContain(message);
    expect((await statsOf(app)).users).toBe(0);
  });

  it('answers 400 to malformed JSON', async () => {
    const res = await register('{"username": "alice",', { 'content-type': 'application/json' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ statusCode: 400, error: 'Bad Request' });
  });

  it('answers 413 to a body over 64 KiB', async () => {
    const res = await register({ ...ALICE, padding: 'x'.repeat(70 * 1024) });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ statusCode: 413, error: 'Payload Too Large' });
  });

  it('answers 415 to a body that is not JSON', async () => {
    const res = await register('username=alice', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(res.statusCode).toBe(415);
    const text = await register('alice', { 'content-type': 'text/plain' });
    expect(text.statusCode).toBe(415);
    expect(text.json()).toMatchObject({ statusCode: 415, error: 'Unsupported Media Type' });
  });

  it('finds a registered user by name and answers 404 for an unknown one', async () => {
    await register(ALICE);
    const found = await app.inject('/users/alice');
    expect(found.statusCode).toBe(200);
    expect(found.json()).toEqual({ id: 1, username: 'alice', email: 'alice@example.com' });
    const missing = await app.inject('/users/nobody');
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ statusCode: 404, error: 'Not Found', message: 'User nobody not found' });
  });

  it.each([
    ['a%20b', 'a b'],
    ['ab', 'ab'],
    ['a'.repeat(33), 'a'.repeat(33)],
    ['bob%2Fx', 'bob/x'],
    ['%C3%A9mile', 'émile'],
  ])('answers 404 JSON to a lookup of %s, a name no user can have', async (path, name) => {
    await register(ALICE);
    const res = await app.inject(`/users/${path}`);
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ statusCode: 404, error: 'Not Found', message: `User ${name} not found` });
    expect((await statsOf(app)).cache.misses).toBe(0);
  });

  it('stores only a salted argon2id hash (19 MiB, two passes, one lane), different for two users with the same password', async () => {
    await register(ALICE);
    await register({ ...ALICE, username: 'bob' });
    const hashes = app.userStore.connection.prepare('SELECT password_hash FROM users').pluck().all() as string[];
    expect(hashes).toHaveLength(2);
    for (const hash of hashes) {
      expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$[\w+/]{22}\$[\w+/]{43}$/);
      expect(hash).not.toContain(ALICE.password);
    }
    expect(hashes[0]).not.toBe(hashes[1]);
  });

  it('confirms the right password and refuses a wrong one or an unknown user with the same 401', async () => {
    await register(ALICE);
    const verify = (username: string, password: string) =>
      app.inject({ method: 'POST', url: '/users/verify-credentials', payload: { username, password } });
    const ok = await verify('alice', ALICE.password);
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ id: 1, username: 'alice', email: 'alice@example.com' });
    const wrong = await verify('alice', 'not the password');
    const unknown = await verify('nobody', ALICE.password);
    expect(wrong.statusCode).toBe(401);
    expect(unknown.statusCode).toBe(401);
    expect(wrong.json()).toEqual(unknown.json());
    expect(wrong.json()).toEqual({ statusCode: 401, error: 'Unauthorized', message: 'Invalid username or password' });
  });

  it('takes about as long to refuse an unknown user as a wrong password', async () => {
    await register(ALICE);
    const timed = async (username: string) => {
      const startedAt = performance.now();
      const res = await app.inject({
        method: 'POST',
        url: '/users/verify-credentials',
        payload: { username, password: 'not the password' },
      });
      expect(res.statusCode).toBe(401);
      return performance.now() - startedAt;
    };
    // One of each first, so neither side pays for a cold start.
    await timed('nobody');
    await timed('alice');
    const unknown: number[] = [];
    const wrong: number[] = [];
    // Interleaved, each pair in alternating order, so a busy moment of the machine costs both sides alike.
    for (let i = 0; i < 24; i++) {
      if (i % 2 === 0) {
        unknown.push(await timed('nobody'));
        wrong.push(await timed('alice'));
      } else {
        wrong.push(await timed('alice'));
        unknown.push(await timed('nobody'));
      }
    }
    const median = (values: number[]) => {
      const sorted = [...values].sort((a, b) => a - b);
      const middle = sorted.length / 2;
      return ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
    };
    const [unknownMs, wrongMs] = [median(unknown), median(wrong)];
    // Each refusal costs one argon2id verification (tens of milliseconds); one that skipped it
    // would take a small fraction of the other.
    const ratio = Math.max(unknownMs, wrongMs) / Math.min(unknownMs, wrongMs);
    expect(
      ratio,
      `median unknown user ${unknownMs.toFixed(1)} ms, wrong password ${wrongMs.toFixed(1)} ms`,
    ).toBeLessThan(1.5);
  });

  it('logs in a user whose hash has the old scrypt parameters, replaces it with argon2id, and logs in again', async () => {
    await register(ALICE);
    // As an earlier build stored it: scrypt N=2^14, r=8, p=1.
    const salt = randomBytes(16);
    const key = scryptSync(ALICE.password, salt, 32, { N: 2 ** 14, r: 8, p: 1 });
    const legacy = ['scrypt', 2 ** 14, 8, 1, salt.toString('base64url'), key.toString('base64url')].join('$');
    const db = app.userStore.connection;
    db.prepare('UPDATE users SET password_hash = ? WHERE username = ?').run(legacy, 'alice');
    const stored = () => db.prepare('SELECT password_hash FROM users WHERE username = ?').pluck().get('alice');
    const verify = (password: string) =>
      app.inject({ method: 'POST', url: '/users/verify-credentials', payload: { username: 'alice', password } });

    expect((await verify('not the password')).statusCode).toBe(401);
    expect(stored()).toBe(legacy);
    expect((await verify(ALICE.password)).statusCode).toBe(200);
    const upgraded = stored() as string;
    expect(upgraded).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
    expect((await verify(ALICE.password)).statusCode).toBe(200);
    expect(stored()).toBe(upgraded);
    expect((await verify('not the password')).statusCode).toBe(401);
  });

  it('answers 400 to a credential check without a password', async () => {
    const res = await app.inject({ method: 'POST', url: '/users/verify-credentials', payload: { username: 'alice' } });
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toBe('password is required');
  });

  it('reports the cache as absent and the service as degraded when no Redis is configured', async () => {
    await register(ALICE);
    await app.inject('/users/alice');
    const stats = await statsOf(app);
    expect(stats).toMatchObject({
      service_status: 'degraded',
      users: 1,
      database: { status: 'healthy' },
      cache: { status: 'unhealthy', configured: false, hit_ratio: 0, hits: 0, misses: 1 },
    });
    app.kit.lifecycle.markReady();
    expect((await app.inject('/ready')).json()).toEqual({ status: 'ready', checks: { database: true } });
  });
});
