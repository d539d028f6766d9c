import {
  type RedisServer,
  type RunningService,
  startRedis,
  startService,
  stopAllProcesses,
} from '@titanium/test-support';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DOMAIN_STREAM, post, statsOf, tempDir, until } from './helpers.js';

const PASSWORD = 'Sup3r-secret-passw0rd';
const ALICE = { username: 'alice', email: 'alice@example.com', password: PASSWORD };

describe('user lookups with a real Redis cache', () => {
  let redis: RedisServer;
  let service: RunningService;
  let client: Redis;
  let temp: ReturnType<typeof tempDir>;

  beforeEach(async () => {
    temp = tempDir();
    redis = await startRedis();
    client = new Redis(redis.url, { maxRetriesPerRequest: 0, enableOfflineQueue: false, lazyConnect: true });
    service = await startService('user-service', {
      DATABASE_PATH: temp.dbPath,
      REDIS_URL: redis.url,
      LOG_LEVEL: 'trace',
    });
    await until(
      () => statsOf(service.url),
      (stats) => stats.cache.status === 'healthy',
    );
  });

  afterEach(async () => {
    client.disconnect();
    await stopAllProcesses();
    temp.cleanup();
  });

  const lookup = (name = 'alice') => fetch(`${service.url}/users/${name}`);
  /** How many GET commands Redis has run since it started. */
  const getsRun = async () => Number(/cmdstat_get:calls=(\d+)/.exec(await client.info('commandstats'))?.[1] ?? 0);

  it('answers a repeated lookup from the cache and moves hit_ratio with real hits and misses', async () => {
    await post(service.url, '/users', ALICE);
    await client.connect();
    await client.del('user:alice');
    expect((await statsOf(service.url)).cache).toMatchObject({ hits: 0, misses: 0, hit_ratio: 0 });

    const first = await lookup();
    expect(first.headers.get('x-cache')).toBe('MISS');
    expect(await first.json()).toEqual({ id: 1, username: 'alice', email: 'alice@example.com' });
    expect((await statsOf(service.url)).cache).toMatchObject({ hits: 0, misses: 1, hit_ratio: 0 });

    const second = await lookup();
    expect(second.headers.get('x-cache')).toBe('HIT');
    expect(await second.json()).toEqual({ id: 1, username: 'alice', email: 'alice@example.com' });
    expect((await statsOf(service.url)).cache).toMatchObject({ hits: 1, misses: 1, hit_ratio: 0.5 });

    await lookup();
    expect((await statsOf(service.url)).cache.hit_ratio).toBeCloseTo(2 / 3, 3);
    const ttl = await client.ttl('user:alice');
    expect(ttl).toBeGreaterThan(290);
    expect(ttl).toBeLessThanOrEqual(300);
    expect(JSON.parse((await client.get('user:alice')) ?? '')).toEqual({
      id: 1,
      username: 'alice',
      email: 'alice@example.com',
    });
  });

  it('replaces a stale cache entry when the user is registered', async () => {
    await client.connect();
    await client.set('user:alice', JSON.stringify({ id: 99, username: 'alice', email: 'old@example.com' }));
    await post(service.url, '/users', ALICE);
    const res = await lookup();
    expect(res.headers.get('x-cache')).toBe('HIT');
    expect(await res.json()).toEqual({ id: 1, username: 'alice', email: 'alice@example.com' });
  });

  it('reports itself online with a healthy database and cache and the real number of users', async () => {
    await post(service.url, '/users', ALICE);
    await post(service.url, '/users', { ...ALICE, username: 'bob' });
    expect(await statsOf(service.url)).toMatchObject({
      service_status: 'online',
      users: 2,
      database: { status: 'healthy' },
      cache: { status: 'healthy', configured: true },
    });
  });

  it('never puts the password or its hash in responses, logs or the cache', async () => {
    const bodies: string[] = [];
    const keep = async (res: Response) => bodies.push(await res.text());
    await keep(await post(service.url, '/users', ALICE));
    await keep(await post(service.url, '/users', { ...ALICE, username: 'bob', password: 'short' }));
    await keep(await post(service.url, '/users/verify-credentials', { username: 'alice', password: PASSWORD }));
    await keep(await post(service.url, '/users/verify-credentials', { username: 'alice', password: `${PASSWORD}x` }));
    await keep(await lookup());
    await keep(await lookup());
    for (const body of bodies) {
      expect(body).not.toContain(PASSWORD);
      expect(body).not.toMatch(/argon2|scrypt|password_hash/);
    }
    await service.stop();
    const logs = service.process.output();
    expect(logs).toContain('"url":"/users/verify-credentials"');
    expect(logs).not.toContain(PASSWORD);
    expect(logs).not.toMatch(/\$argon2id\$|scrypt\$/);
    await client.connect();
    // The cached user, the stream of the domain events (user.created, user.login) and the marks of
    // the batches published to it (each `1`).
    const keys = await client.keys('*');
    const batches = keys.filter((key) => key.startsWith('titanium:events:batch:'));
    expect(keys.filter((key) => !batches.includes(key)).sort()).toEqual([DOMAIN_STREAM, 'user:alice']);
    const values = [
      (await client.get('user:alice')) ?? '',
      JSON.stringify(await client.xrange(DOMAIN_STREAM, '-', '+')),
    ];
    expect(values[1]).toContain('user.login');
    for (const key of batches) values.push((await client.get(key)) ?? '');
    for (const value of values) {
      expect(value).not.toContain(PASSWORD);
      expect(value).not.toMatch(/argon2|scrypt|password/);
    }
  });

  it('keeps answering from SQLite while Redis is down, says so, and uses the cache again once Redis is back', async () => {
    await post(service.url, '/users', ALICE);
    expect((await lookup()).headers.get('x-cache')).toBe('HIT');

    await redis.stop();
    const degraded = await until(
      () => statsOf(service.url),
      (stats) => stats.cache.status === 'unhealthy',
    );
    expect(degraded.service_status).toBe('degraded');
    expect(degraded.database.status).toBe('healthy');
    for (let i = 0; i < 3; i++) {
      const res = await lookup();
      expect(res.status).toBe(200);
      expect(res.headers.get('x-cache')).toBe('MISS');
    }
    expect((await post(service.url, '/users', { ...ALICE, username: 'bob' })).status).toBe(201);
    expect((await post(service.url, '/users/verify-credentials', ALICE)).status).toBe(200);

    redis = await redis.restart();
    const recovered = await until(
      () => statsOf(service.url),
      (stats) => stats.cache.status === 'healthy',
    );
    expect(recovered.service_status).toBe('online');
    expect((await lookup()).headers.get('x-cache')).toBe('MISS');
    expect((await lookup()).headers.get('x-cache')).toBe('HIT');
    expect(service.process.running).toBe(true);
  });

  it('answers quickly from SQLite while Redis is frozen', async () => {
    await post(service.url, '/users', ALICE);
    await client.connect();
    const getsBefore = await getsRun();
    redis.freeze();
    try {
      const times: number[] = [];
      for (let i = 0; i < 10; i++) {
        const startedAt = performance.now();
        const res = await lookup();
        expect(res.status).toBe(200);
        times.push(performance.now() - startedAt);
      }
      // At most the 200 ms command timeout each, with room for a busy machine: a lookup that
      // waited for Redis itself would not be answered until it is resumed below.
      expect(Math.max(...times)).toBeLessThan(2_000);
      const stats = await statsOf(service.url);
      expect(stats.cache.status).toBe('unhealthy');
      expect(stats.service_status).toBe('degraded');
    } finally {
      redis.resume();
    }
    await until(
      () => statsOf(service.url),
      (stats) => stats.cache.status === 'healthy',
    );
    // The first lookup may pay the command timeout; later ones skip Redis until it answers again.
    // Redis runs what was sent while it was frozen once resumed, before the PING that made the
    // cache healthy (one connection, in order), so every GET the lookups sent is counted by now.
    expect((await getsRun()) - getsBefore).toBeLessThanOrEqual(1);
  });

  it.each([
    ['killed (SIGKILL)', (server: RedisServer) => server.process.signal('SIGKILL')],
    ['frozen (SIGSTOP)', (server: RedisServer) => server.freeze()],
  ])('answers /health and /ready with 200 while Redis is %s', async (_how, fault) => {
    const probe = async (path: string) => {
      // Far longer than the 200 ms Redis command timeout: a probe that waited on Redis would show.
      const res = await fetch(`${service.url}${path}`, { signal: AbortSignal.timeout(2_000) });
      return { path, status: res.status, body: await res.json() };
    };
    fault(redis);
    try {
      // Right away, and once the service has noticed and reports the cache as unhealthy.
      for (const path of ['/health', '/ready']) expect(await probe(path)).toMatchObject({ path, status: 200 });
      await until(
        () => statsOf(service.url),
        (stats) => stats.cache.status === 'unhealthy',
      );
      for (let i = 0; i < 3; i++) {
        expect(await probe('/health')).toEqual({ path: '/health', status: 200, body: { status: 'ok' } });
        expect(await probe('/ready')).toEqual({
          path: '/ready',
          status: 200,
          body: { status: 'ready', checks: { database: true } },
        });
      }
    } finally {
      redis.resume();
      await redis.stop();
    }
  });
});

describe('user-service without Redis', () => {
  afterEach(stopAllProcesses);

  it('starts, serves users from SQLite and reports the cache as unhealthy', async () => {
    const temp = tempDir();
    try {
      const service = await startService('user-service', { DATABASE_PATH: temp.dbPath, REDIS_URL: '', REDIS_HOST: '' });
      expect((await post(service.url, '/users', ALICE)).status).toBe(201);
      expect((await fetch(`${service.url}/users/alice`)).status).toBe(200);
      expect(await statsOf(service.url)).toMatchObject({
        service_status: 'degraded',
        cache: { status: 'unhealthy', configured: false },
      });
      expect((await fetch(`${service.url}/ready`)).status).toBe(200);
      expect(service.process.output()).toContain('running without a cache');
    } finally {
      await stopAllProcesses();
      temp.cleanup();
    }
  });
});
