import type { GatewayBlock, WrappedStats } from '@titanium/service-kit';
import {
  type FakeUpstream,
  type RedisServer,
  type RunningService,
  startFakeUpstream,
  startRedis,
  startService,
  stopAllProcesses,
  tokenFor,
} from '@titanium/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FallbackLimiter, LOCAL_KEYS } from '../src/rate-limit-store.js';

const SECRET = 'rate-limit-test-secret-that-is-long-enough-0123';
const LIMIT = 3;

describe('rate limits', () => {
  let redis: RedisServer;
  let echo: FakeUpstream;
  let first: RunningService;
  let second: RunningService;
  let direct: RunningService;

  const start = (env: Record<string, string> = {}) =>
    startService('api-gateway', {
      JWT_SECRET: SECRET,
      REDIS_URL: redis.url,
      AUTH_SERVICE_URL: echo.url,
      USER_SERVICE_URL: echo.url,
      BLOG_SERVICE_URL: echo.url,
      RATE_LIMIT_AUTH_MAX: String(LIMIT),
      RATE_LIMIT_WRITE_MAX: String(LIMIT),
      ...env,
    });

  beforeAll(async () => {
    redis = await startRedis();
    echo = await startFakeUpstream('echo');
    [first, second, direct] = await Promise.all([start(), start(), start({ TRUSTED_PROXY_HOPS: '0' })]);
    for (const gateway of [first, second, direct]) await storeBecomes(gateway, 'redis');
  });

  afterAll(async () => {
    await stopAllProcesses();
    await echo.close();
  });

  /** A login as it arrives from the load balancer, which appends the client's address to X-Forwarded-For. */
  function login(gateway: RunningService, clientIp: string, spoofed?: string) {
    return fetch(`${gateway.url}/api/login`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-forwarded-for': spoofed ? `${spoofed}, ${clientIp}` : clientIp,
      },
      body: '{"username":"alice","password":"pw"}',
    });
  }

  function write(gateway: RunningService, token: string | undefined, clientIp = '192.0.2.200') {
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-forwarded-for': clientIp };
    if (token) headers.authorization = `Bearer ${token}`;
    return fetch(`${gateway.url}/api/posts`, { method: 'POST', headers, body: '{"title":"t","content":"c"}' });
  }

  async function statuses(requests: (() => Promise<Response>)[]): Promise<number[]> {
    const result: number[] = [];
    for (const send of requests) {
      const res = await send();
      await res.arrayBuffer();
      result.push(res.status);
    }
    return result;
  }

  const times = (n: number, send: () => Promise<Response>) => Array.from({ length: n }, () => send);

  async function limitStats(gateway: RunningService): Promise<GatewayBlock> {
    const body = (await (await fetch(`${gateway.url}/stats`)).json()) as WrappedStats<'api-gateway'>;
    return body['api-gateway'];
  }

  async function storeBecomes(gateway: RunningService, store: 'redis' | 'local'): Promise<void> {
    const deadline = Date.now() + 10_000;
    while ((await limitStats(gateway)).rate_limit.store !== store) {
      if (Date.now() > deadline) throw new Error(`rate-limit store did not become ${store}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  it('limits logins per client IP with 429, Retry-After and a JSON message, shared by every instance', async () => {
    const ip = '198.51.100.1';
    expect(await statuses(times(LIMIT, () => login(first, ip)))).toEqual([200, 200, 200]);
    const limited = await login(first, ip);
    expect(limited.status).toBe(429);
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(await limited.json()).toEqual({
      statusCode: 429,
      error: 'Too Many Requests',
      message: expect.stringMatching(/^Too many requests; try again in \d+ s$/),
    });
    expect((await login(second, ip)).status).toBe(429);
    expect((await login(first, '198.51.100.2')).status).toBe(200);
    const stats = await limitStats(first);
    expect(stats.rate_limit.limited).toBeGreaterThanOrEqual(1);
  });

  it('counts registrations apart from logins', async () => {
    const ip = '198.51.100.3';
    await statuses(times(LIMIT + 1, () => login(first, ip)));
    const register = () =>
      fetch(`${first.url}/api/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': ip },
        body: '{"username":"bob","email":"bob@example.com","password":"pw-123456"}',
      });
    expect(await statuses(times(LIMIT + 1, register))).toEqual([200, 200, 200, 429]);
  });

  it('limits post writes per user, whatever address they come from, and unauthenticated writes per IP', async () => {
    const alice = tokenFor(101, 'alice', SECRET);
    const bob = tokenFor(102, 'bob', SECRET);
    const aliceWrites = [0, 1, 2, 3].map((i) => () => write(i % 2 ? first : second, alice, `192.0.2.${i}`));
    expect(await statuses(aliceWrites)).toEqual([200, 200, 200, 429]);
    expect((await write(first, bob)).status).toBe(200);
    const patch = await fetch(`${first.url}/api/posts/1`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' },
      body: '{"title":"x"}',
    });
    expect(patch.status).toBe(429);
    expect((await fetch(`${first.url}/api/posts`)).status).toBe(200);
    expect(await statuses(times(LIMIT + 1, () => write(first, undefined, '192.0.2.77')))).toEqual([200, 200, 200, 429]);
  });

  it('cannot be dodged by inventing X-Forwarded-For entries', async () => {
    let n = 0;
    const spoofing = () => login(first, '198.51.100.9', `10.0.0.${n++}`);
    expect(await statuses(times(LIMIT + 1, spoofing))).toEqual([200, 200, 200, 429]);
    // With no trusted proxy in front, X-Forwarded-For is ignored altogether.
    const straight = () => login(direct, `203.0.113.${n++}`);
    expect(await statuses(times(LIMIT + 1, straight))).toEqual([200, 200, 200, 429]);
  });

  it('answers promptly and keeps limiting while Redis is frozen', async () => {
    redis.freeze();
    try {
      const ip = '198.51.100.30';
      const answers: { status: number; ms: number }[] = [];
      for (let i = 0; i <= LIMIT; i++) {
        const startedAt = Date.now();
        const res = await login(first, ip);
        answers.push({ status: res.status, ms: Date.now() - startedAt });
      }
      expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 429]);
      for (const answer of answers) expect(answer.ms).toBeLessThan(1_000);
    } finally {
      redis.resume();
    }
    await storeBecomes(first, 'redis');
  });

  it('keeps limiting per instance while Redis is down, and shares the limit again once it is back', async () => {
    await redis.stop();
    await storeBecomes(first, 'local');
    await storeBecomes(second, 'local');
    const ip = '198.51.100.20';
    expect(await statuses(times(LIMIT + 1, () => login(first, ip)))).toEqual([200, 200, 200, 429]);
    expect(await statuses(times(LIMIT + 1, () => login(second, ip)))).toEqual([200, 200, 200, 429]);
    const during = await limitStats(first);
    expect(during.service_status).toBe('degraded');
    expect(during.rate_limit.counted_locally).toBeGreaterThanOrEqual(LIMIT + 1);

    redis = await redis.restart();
    await storeBecomes(first, 'redis');
    await storeBecomes(second, 'redis');
    const again = '198.51.100.21';
    expect(await statuses(times(LIMIT, () => login(first, again)))).toEqual([200, 200, 200]);
    expect((await login(second, again)).status).toBe(429);
    expect((await limitStats(first)).service_status).toBe('online');
  });
});

describe('counters kept in the process', () => {
  it(`keep at most ${LOCAL_KEYS} keys however many arrive, dropping the least recently used`, async () => {
    const limiter = new FallbackLimiter(undefined, { keyPrefix: 'test', points: 1, windowMs: 60_000 });
    await limiter.take('busy');
    for (let i = 0; i < 20_000; i++) {
      await limiter.take(`client-${i}`);
      if (i % 1000 === 0) await limiter.take('busy');
    }
    expect(limiter.localKeys).toBe(LOCAL_KEYS);
    expect((await limiter.take('busy')).count).toBe(22);
    expect((await limiter.take('client-19999')).count).toBe(2);
    // Dropped, so counted afresh.
    expect((await limiter.take('client-0')).count).toBe(1);
  });
});
