import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '@titanium/service-kit';
import {
  type RedisServer,
  type RunningService,
  startRedis,
  startService,
  stopAllProcesses,
} from '@titanium/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readConfig } from '../src/config.js';
import { LoginFailures } from '../src/login-failures.js';
import { LOCAL_KEYS } from '../src/rate-limit-store.js';

// Brute force against one username from many addresses, with the real auth and user services
// behind two gateways that share Redis, and the load balancer in front of one of them.
const SECRET = 'login-failures-test-secret-long-enough-0123456';
const MAX_FAILURES = 3;
const WINDOW_MS = 10_000;
/** The window of the gateway that shows the lock ending; short, so the test need not wait long. */
const SHORT_WINDOW_MS = 3000;
const PER_IP = 6;
const PASSWORD = 'correct-horse-battery';

describe('failed logins per username', () => {
  let dir: string;
  let redis: RedisServer;
  let first: RunningService;
  let second: RunningService;
  let lb: RunningService;
  let gatewayEnv: Record<string, string>;
  let ipCounter = 0;
  /** A new client address for each request, so the per-IP limit stays out of the way. */
  const nextIp = () => `198.18.${Math.floor(ipCounter / 250)}.${(ipCounter++ % 250) + 1}`;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'titanium-login-failures-'));
    let users: RunningService;
    [redis, users] = await Promise.all([
      startRedis(),
      startService('user-service', { DATABASE_PATH: join(dir, 'users.db') }),
    ]);
    const auth = await startService('auth-service', { USER_SERVICE_URL: users.url, JWT_SECRET: SECRET });
    gatewayEnv = {
      JWT_SECRET: SECRET,
      REDIS_URL: redis.url,
      AUTH_SERVICE_URL: auth.url,
      USER_SERVICE_URL: users.url,
      BLOG_SERVICE_URL: 'http://127.0.0.1:9',
      RATE_LIMIT_AUTH_MAX: String(PER_IP),
      RATE_LIMIT_LOGIN_FAILURES_MAX: String(MAX_FAILURES),
      RATE_LIMIT_LOGIN_FAILURES_WINDOW_MS: String(WINDOW_MS),
    };
    [first, second] = await Promise.all([
      startService('api-gateway', gatewayEnv),
      startService('api-gateway', gatewayEnv),
    ]);
    lb = await startService('load-balancer', { API_GATEWAY_URL: first.url });
    const created = await Promise.all(
      ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'].map(async (name) => {
        const res = await fetch(`${users.url}/users`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: name, email: `${name}@example.com`, password: PASSWORD }),
        });
        return res.status;
      }),
    );
    expect(created).toEqual(Array(6).fill(201));
    for (const gateway of [first, second]) await sharedStore(gateway);
  }, 60_000);

  afterAll(async () => {
    await stopAllProcesses();
    rmSync(dir, { recursive: true, force: true });
  });

  async function sharedStore(gateway: RunningService): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const stats = (await (await fetch(`${gateway.url}/stats`)).json()) as Record<
        string,
        { rate_limit: { store: string } }
      >;
      if (stats['api-gateway']?.rate_limit.store === 'redis') return;
      if (Date.now() > deadline) throw new Error('gateway does not use Redis');
      await sleep(100);
    }
  }

  function login(base: string, username: string, password: string, forwardedFor: string | undefined = nextIp()) {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (forwardedFor) headers['x-forwarded-for'] = forwardedFor;
    return fetch(`${base}/api/login`, { method: 'POST', headers, body: JSON.stringify({ username, password }) });
  }

  async function statuses(requests: Promise<Response>[]): Promise<number[]> {
    return Promise.all(requests.map(async (request) => (await request).status));
  }

  async function sequence(n: number, send: () => Promise<Response>): Promise<number[]> {
    const result: number[] = [];
    for (let i = 0; i < n; i++) {
      const res = await send();
      await res.arrayBuffer();
      result.push(res.status);
    }
    return result;
  }

  it('answers 429 with Retry-After once a username has failed too often, from any address and any instance', async () => {
    expect(await sequence(MAX_FAILURES, () => login(first.url, 'alice', 'wrong-password'))).toEqual([401, 401, 401]);
    // The right password does not get through either: the password is not checked while locked.
    const locked = await login(second.url, 'alice', PASSWORD);
    expect(locked.status).toBe(429);
    const retryAfter = Number(locked.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(WINDOW_MS / 1000);
    expect(await locked.json()).toEqual({
      statusCode: 429,
      error: 'Too Many Requests',
      message: expect.stringMatching(/^Too many failed logins for this username; try again in \d+ s$/),
    });
    // Another user is not affected.
    expect((await login(second.url, 'bob', PASSWORD)).status).toBe(200);
  });

  it('does not count successful logins or malformed attempts', async () => {
    expect(await sequence(MAX_FAILURES + 2, () => login(first.url, 'carol', PASSWORD))).toEqual([
      200, 200, 200, 200, 200,
    ]);
    const noPassword = () =>
      fetch(`${first.url}/api/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': nextIp() },
        body: '{"username":"carol"}',
      });
    expect(await sequence(MAX_FAILURES, noPassword)).toEqual([400, 400, 400]);
    expect(await sequence(MAX_FAILURES - 1, () => login(second.url, 'carol', 'wrong-password'))).toEqual([401, 401]);
    expect((await login(first.url, 'carol', PASSWORD)).status).toBe(200);
  });

  it('lets no more than the limit through when the guesses arrive all at once', async () => {
    const burst = Array.from({ length: 12 }, (_, i) => login(i % 2 ? first.url : second.url, 'dave', `guess-${i}`));
    const answers = await statuses(burst);
    expect(answers.filter((status) => status === 401)).toHaveLength(MAX_FAILURES);
    expect(answers.filter((status) => status === 429)).toHaveLength(12 - MAX_FAILURES);
  });

  it('unlocks when the window since the first failure ends, however long the guessing goes on', async () => {
    const quick = await startService('api-gateway', {
      ...gatewayEnv,
      RATE_LIMIT_LOGIN_FAILURES_WINDOW_MS: String(SHORT_WINDOW_MS),
    });
    await sharedStore(quick);
    const startedAt = Date.now();
    expect(await sequence(MAX_FAILURES, () => login(quick.url, 'erin', 'wrong-password'))).toEqual([401, 401, 401]);
    // Guessing on while locked neither reaches the password check nor prolongs the lock.
    while (Date.now() - startedAt < SHORT_WINDOW_MS - 500) {
      expect((await login(quick.url, 'erin', 'wrong-password')).status).toBe(429);
      await sleep(200);
    }
    // The lock started with the first failure, a little after startedAt: it ends soon after the window.
    let unlockedAfter = 0;
    while (Date.now() - startedAt < SHORT_WINDOW_MS + 3000) {
      const res = await login(quick.url, 'erin', PASSWORD);
      if (res.status === 200) {
        unlockedAfter = Date.now() - startedAt;
        break;
      }
      expect(res.status).toBe(429);
      await sleep(200);
    }
    expect(unlockedAfter).toBeGreaterThanOrEqual(SHORT_WINDOW_MS - 500);
    await quick.stop();
  });

  it('counts in each instance while Redis is down', async () => {
    await redis.stop();
    try {
      const fails = await sequence(MAX_FAILURES + 1, () => login(first.url, 'frank', 'wrong-password'));
      expect(fails).toEqual([401, 401, 401, 429]);
    } finally {
      redis = await redis.restart();
    }
    await sharedStore(first);
  });

  it('limits per address without believing X-Forwarded-For entries the client wrote', async () => {
    // A new unknown username each time, so only the per-address limit applies.
    let n = 0;
    const anyone = () => `ghost-${n++}`;
    // Through the load balancer, which appends the real peer address: the invented entries are ignored.
    const spoofed = await sequence(PER_IP + 1, () => login(lb.url, anyone(), 'pw', nextIp()));
    expect(spoofed).toEqual([...Array(PER_IP).fill(401), 429]);
    // Straight to the gateway: only the last entry (the trusted proxy's) counts, whatever precedes it.
    const fixed = nextIp();
    const direct = await sequence(PER_IP + 1, () => login(first.url, anyone(), 'pw', `${nextIp()}, ${fixed}`));
    expect(direct).toEqual([...Array(PER_IP).fill(401), 429]);
  });

  it('believes no X-Forwarded-For from a peer outside the trusted proxy addresses', async () => {
    // Loopback is not trusted here, so this test's requests come from a client, not a proxy.
    // Counted in the process (no Redis), apart from the loopback address the other gateways saw.
    const strict = await startService('api-gateway', {
      ...gatewayEnv,
      REDIS_URL: '',
      TRUSTED_PROXY_ADDRESSES: '192.0.2.10, 10.0.0.0/8',
    });
    let n = 0;
    const spoofing = await sequence(PER_IP + 1, () => login(strict.url, `stranger-${n++}`, 'pw', nextIp()));
    expect(spoofing).toEqual([...Array(PER_IP).fill(401), 429]);
    await strict.stop();
    expect(() => loadConfig(readConfig, { TRUSTED_PROXY_ADDRESSES: 'the-load-balancer' })).toThrow(
      /TRUSTED_PROXY_ADDRESSES must be a comma-separated list of IP addresses/,
    );
  });
});

describe('failed logins counted in the process', () => {
  /** One login attempt that fails (401) or succeeds; false when it was answered 429 instead. */
  async function attempt(failures: LoginFailures, username: string, failed: boolean): Promise<boolean> {
    const admission = await failures.admit(username);
    if (admission.allowed) await admission.settle(failed);
    return admission.allowed;
  }

  it('gives back the place of an attempt that did not fail', async () => {
    const failures = new LoginFailures(undefined, { max: 2, windowMs: 60_000 });
    for (let i = 0; i < 5; i++) expect(await attempt(failures, 'alice', false)).toBe(true);
    expect(await attempt(failures, 'alice', true)).toBe(true);
    expect(await attempt(failures, 'alice', true)).toBe(true);
    expect(await attempt(failures, 'alice', false)).toBe(false);
    expect(failures.limited).toBe(1);
  });

  it('grants no extra guess when an attempt is settled after its window has ended', async () => {
    const failures = new LoginFailures(undefined, { max: 1, windowMs: 1000 });
    const late = await failures.admit('bob');
    await sleep(1100);
    // The next window has begun with this attempt; the late give-back must not free its place.
    expect(await attempt(failures, 'bob', true)).toBe(true);
    if (late.allowed) await late.settle(false);
    expect(await attempt(failures, 'bob', true)).toBe(false);
  });

  it('grants no extra guess when an attempt is settled after its username was dropped', async () => {
    const failures = new LoginFailures(undefined, { max: 1, windowMs: 60_000 });
    const dropped = await failures.admit('carol');
    for (let i = 0; i < LOCAL_KEYS; i++) await failures.admit(`other-${i}`);
    if (dropped.allowed) await dropped.settle(false);
    expect(await attempt(failures, 'carol', true)).toBe(true);
    expect(await attempt(failures, 'carol', true)).toBe(false);
  });

  it(`remembers at most ${LOCAL_KEYS} usernames however many are tried, the most recent kept`, async () => {
    const failures = new LoginFailures(undefined, { max: 1, windowMs: 60_000 });
    for (let i = 0; i < 20_000; i++) await attempt(failures, `user-${i}`, true);
    expect(await attempt(failures, 'user-19999', true)).toBe(false);
    expect(await attempt(failures, `user-${20_000 - LOCAL_KEYS + 1}`, true)).toBe(false);
    // Dropped to keep memory bounded: its count starts again.
    expect(await attempt(failures, 'user-0', true)).toBe(true);
  });
});
