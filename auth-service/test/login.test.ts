import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AuthBlock, WrappedStats } from '@titanium/service-kit';
import { decodeToken, type RunningService, startService, stopAllProcesses } from '@titanium/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const SECRET = 'login-test-secret-long-enough-for-hs256';
const ALICE = { username: 'alice', email: 'alice@example.com', password: 'correct horse battery' };

async function authStats(base: string): Promise<AuthBlock> {
  return ((await (await fetch(`${base}/stats`)).json()) as WrappedStats<'auth'>).auth;
}

async function until(check: () => Promise<boolean>, timeoutMs = 8_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(50);
  }
}

function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

describe('POST /login against a real user-service', () => {
  let users: RunningService;
  let auth: RunningService;
  let dir: string;
  const login = (body: unknown, headers: Record<string, string> = {}) => post(`${auth.url}/login`, body, headers);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'titanium-auth-'));
    users = await startService('user-service', { DATABASE_PATH: join(dir, 'users.db'), LOG_LEVEL: 'debug' });
    auth = await startService('auth-service', {
      JWT_SECRET: SECRET,
      USER_SERVICE_URL: users.url,
      // Long enough for a password check on a busy machine, short enough for the frozen case.
      USER_SERVICE_TIMEOUT_MS: '1500',
      USER_SERVICE_CHECK_INTERVAL_MS: '200',
      LOG_LEVEL: 'debug',
    });
    expect((await post(`${users.url}/users`, ALICE)).status).toBe(201);
  });

  afterAll(async () => {
    await stopAllProcesses();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 200 with an HS256 token for 24 hours that /verify accepts', async () => {
    const res = await login({ username: 'alice', password: ALICE.password });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as { status: string; token: string };
    expect(body.status).toBe('success');
    const { header, payload } = decodeToken(body.token);
    expect(header.alg).toBe('HS256');
    expect(payload).toMatchObject({ user_id: 1, username: 'alice' });
    expect(Number(payload.exp) - Number(payload.iat)).toBe(24 * 3600);
    expect(Object.keys(payload)).not.toContain('email');

    const verified = await fetch(`${auth.url}/verify`, { headers: { authorization: `Bearer ${body.token}` } });
    expect(verified.status).toBe(200);
    expect(await verified.json()).toEqual({ status: 'success', data: payload });
  });

  it('answers 401 with the same message for a wrong password and an unknown user', async () => {
    const wrong = await login({ username: 'alice', password: 'wrong password' });
    const unknown = await login({ username: 'nobody', password: ALICE.password });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    const expected = {
      statusCode: 401,
      error: 'Unauthorized',
      status: 'failed',
      message: 'Invalid username or password',
    };
    expect(await wrong.json()).toEqual(expected);
    expect(await unknown.json()).toEqual(expected);
  });

  it('passes the X-Request-Id on to user-service', async () => {
    await login({ username: 'alice', password: ALICE.password }, { 'x-request-id': 'login-trace-42' });
    await users.process.waitForLine(/"request_id":"login-trace-42".*"url":"\/users\/verify-credentials"/);
  });

  it('counts successful and failed logins and reports user-service reachable', async () => {
    const before = await authStats(auth.url);
    expect((await login({ username: 'alice', password: ALICE.password })).status).toBe(200);
    expect((await login({ username: 'alice', password: 'nope' })).status).toBe(401);
    const after = await authStats(auth.url);
    expect(after.service_status).toBe('online');
    expect(after.user_service.status).toBe('reachable');
    expect(after.logins.succeeded).toBe(before.logins.succeeded + 1);
    expect(after.logins.failed).toBe(before.logins.failed + 1);
  });

  it('answers 503, never 401, while user-service is frozen, within its time limit', async () => {
    users.process.signal('SIGSTOP');
    try {
      const startedAt = performance.now();
      const res = await login({ username: 'alice', password: ALICE.password });
      expect(performance.now() - startedAt).toBeLessThan(3_000);
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({
        statusCode: 503,
        error: 'Service Unavailable',
        message:
          'Login is unavailable right now because the user service did not answer within 1500 ms; try again later',
      });
      expect((await authStats(auth.url)).service_status).toBe('degraded');
    } finally {
      users.process.signal('SIGCONT');
    }
    await until(async () => (await authStats(auth.url)).service_status === 'online');
  });

  it('answers 503 while user-service is down, reports degraded, and logs in again once it is back', async () => {
    await users.stop();
    const res = await login({ username: 'alice', password: ALICE.password });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { message: string }).message).toBe(
      'Login is unavailable right now because the user service cannot be reached; try again later',
    );
    const stats = await authStats(auth.url);
    expect(stats.service_status).toBe('degraded');
    expect(stats.user_service.status).toBe('unreachable');
    expect(stats.logins.unavailable).toBeGreaterThanOrEqual(1);

    users = await users.restart();
    await until(async () => (await authStats(auth.url)).service_status === 'online');
    expect((await login({ username: 'alice', password: ALICE.password })).status).toBe(200);
  });

  it('never writes the password to its logs', async () => {
    const attempt = { username: 'alice', password: 'a-very-distinctive-wrong-password' };
    await login(attempt);
    await login({ ...attempt, password: ALICE.password });
    expect(auth.process.output()).not.toContain(attempt.password);
    expect(auth.process.output()).not.toContain(ALICE.password);
    expect(users.process.output()).not.toContain(attempt.password);
  });

  it('stops cleanly on SIGTERM with exit status 0', async () => {
    auth.process.signal('SIGTERM');
    expect(await auth.process.exited).toEqual({ code: 0, signal: null });
    await auth.process.waitForLine(/"msg":"stopped"/);
  });
});
