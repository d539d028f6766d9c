import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type RunningService, startFakeUpstream, startService, stopAllProcesses } from '@titanium/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getStats, startLb } from './helpers.js';

/** How long /stats waits for each service (the load balancer's default). */
const STATS_TIMEOUT_MS = 2_000;

describe('/stats gathers every service', () => {
  const services: Record<string, RunningService> = {};
  let lb: RunningService;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'titanium-lb-fanout-'));
    const env = {
      DATABASE_PATH: join(dataDir, 'users.db'),
      BLOG_DATABASE_PATH: join(dataDir, 'blog.db'),
    };
    const [user, blog] = await Promise.all([startService('user-service', env), startService('blog-service', env)]);
    const auth = await startService('auth-service', { ...env, USER_SERVICE_URL: user.url });
    const gateway = await startService('api-gateway', {
      ...env,
      AUTH_SERVICE_URL: auth.url,
      USER_SERVICE_URL: user.url,
      BLOG_SERVICE_URL: blog.url,
    });
    Object.assign(services, { gateway, auth, user, blog });
    lb = await startService('load-balancer', {
      API_GATEWAY_URL: gateway.url,
      AUTH_SERVICE_URL: auth.url,
      USER_SERVICE_URL: user.url,
      BLOG_SERVICE_URL: blog.url,
      DASHBOARD_UI_URL: gateway.url,
    });
  });

  afterAll(async () => {
    await stopAllProcesses();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers in the contract shape with every service unwrapped and reachable', async () => {
    const stats = await getStats(lb.url);
    expect(Object.keys(stats)).toEqual([
      'load-balancer',
      'api-gateway',
      'auth',
      'user_service',
      'blog_service',
      'database',
      'cache',
    ]);
    for (const key of ['api-gateway', 'auth', 'user_service', 'blog_service']) {
      expect(['online', 'degraded'], key).toContain(stats[key]?.service_status);
      expect(stats[key]?.[key], key).toBeUndefined();
    }
    expect(stats['load-balancer']).toMatchObject({ status: 'healthy', scope: 'instance', instances: 1 });
  });

  it('marks a frozen service offline from the next second on and still answers once its 2 s timeout is up', async () => {
    services.auth?.process.signal('SIGSTOP');
    try {
      // Answers are shared for the rest of the second they were made in: the next one is made after the freeze.
      await sleep(1_000);
      const started = performance.now();
      const stats = await getStats(lb.url);
      const elapsed = performance.now() - started;
      // By the timeout, well before a second one: an answer that waited on the frozen service
      // would not come at all (it is resumed only afterwards).
      expect(elapsed).toBeLessThan(2 * STATS_TIMEOUT_MS);
      expect(stats.auth).toEqual({ service_status: 'offline', error: `no answer within ${STATS_TIMEOUT_MS} ms` });
      expect(stats['api-gateway']?.service_status).not.toBe('offline');
      expect(stats.user_service?.service_status).not.toBe('offline');
    } finally {
      services.auth?.process.signal('SIGCONT');
    }
    await expect
      .poll(async () => (await getStats(lb.url)).auth?.service_status, { timeout: 3_000 })
      .not.toBe('offline');
  });

  it('marks a killed service offline from the next second on, answering at once', async () => {
    services.blog?.process.signal('SIGKILL');
    await services.blog?.process.exited;
    await sleep(1_000);
    const started = performance.now();
    const stats = await getStats(lb.url);
    // A refused connection ends the call; waiting for the timeout instead takes all of it.
    expect(performance.now() - started).toBeLessThan(STATS_TIMEOUT_MS);
    expect(stats.blog_service?.service_status).toBe('offline');
    expect(String(stats.blog_service?.error)).toMatch(/ECONNREFUSED|no reachable/);
    expect(stats.auth?.service_status).not.toBe('offline');
  });
});

describe('/stats unwrapping', () => {
  it('lifts user-service database and cache to the top level and reports a broken answer as offline', async () => {
    const user = await startFakeUpstream('user_service', {
      handler: (_req, res) => {
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            user_service: {
              service_status: 'online',
              database: { status: 'healthy' },
              cache: { status: 'healthy', hit_ratio: 0.5 },
            },
          }),
        );
      },
    });
    const broken = await startFakeUpstream('auth', {
      handler: (_req, res) => {
        res.writeHead(500, { 'content-type': 'text/html' });
        res.end('<h1>oops</h1>');
      },
    });
    const garbled = await startFakeUpstream('blog_service', { handler: (_req, res) => res.end('not json') });
    const lb = await startLb({
      USER_SERVICE_URL: user.url,
      AUTH_SERVICE_URL: broken.url,
      BLOG_SERVICE_URL: garbled.url,
      API_GATEWAY_URL: user.url,
    });
    try {
      const stats = await getStats(lb.url);
      expect(stats.database).toEqual({ status: 'healthy' });
      expect(stats.cache).toEqual({ status: 'healthy', hit_ratio: 0.5 });
      expect(stats.user_service).toMatchObject({ service_status: 'online' });
      expect(stats.auth).toEqual({ service_status: 'offline', error: 'HTTP 500' });
      expect(stats.blog_service?.service_status).toBe('offline');
    } finally {
      await lb.app.close();
      await Promise.all([user.close(), broken.close(), garbled.close()]);
    }
  });
});
