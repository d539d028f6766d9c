import { setTimeout as sleep } from 'node:timers/promises';
import type { HistoryAnswer, StatsAnswer } from '@titanium/service-kit';
import { artifactPath, launchChromium, type Stack, startStack } from '@titanium/test-support';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Browser tests against the whole stack: the page is loaded through the load balancer, exactly
// as an operator opens it. A short poll interval keeps the waits short.
describe('dashboard in Chromium', () => {
  let stack: Stack;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  const status = () => page.locator('#overall-status');
  const service = (key: string) => page.locator(`#server-list li[data-service="${key}"]`);

  beforeAll(async () => {
    stack = await startStack();
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !/Failed to load resource|WebSocket/.test(msg.text())) {
        problems.push(`console: ${msg.text()}`);
      }
    });
    await page.goto(`${stack.url('load-balancer')}/?poll=500`);
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it('shows IDLE with every service online when there is no traffic', async () => {
    await expect.poll(() => status().textContent(), { timeout: 10_000 }).toBe('IDLE');
    await expect.poll(() => page.locator('#active-services').textContent()).toBe('5/5');
    expect(await page.locator('#server-list li[data-state="online"]').count()).toBe(5);
    // user-service's SQLite database, as the load balancer passes on its /stats: the stack's is healthy.
    const db = page.locator('#db-status');
    await expect.poll(() => db.textContent()).toBe('ONLINE');
    expect(await db.getAttribute('data-state')).toBe('online');
    const canvas = page.locator('#throughputChart');
    await expect.poll(() => canvas.getAttribute('data-last-phase')).toBe('idle');
    // The range it shows, five minutes unless another is chosen.
    expect(await canvas.getAttribute('aria-label')).toContain('over the last five minutes;');
    await page.screenshot({ path: artifactPath('dashboard-idle-1280x800.png') });
  });

  it('shows the request rate the load balancer reports after API requests, and charts it', async () => {
    const lb = stack.url('load-balancer');
    const pointsBefore = Number(await page.locator('#throughputChart').getAttribute('data-points'));
    await Promise.all(Array.from({ length: 37 }, () => fetch(`${lb}/api/health`).then((r) => r.arrayBuffer())));
    // The load balancer's window is made of closed seconds: the requests show within a second.
    const reported = async () =>
      ((await (await fetch(`${lb}/stats`)).json()) as { 'load-balancer': { requests_per_second: number } })[
        'load-balancer'
      ].requests_per_second;
    await expect.poll(reported, { timeout: 3_000 }).toBe(3.7);
    // The requests stay in the 10 s window for longer than a few polls of the page take.
    const rate = await reported();
    await expect.poll(() => status().textContent(), { timeout: 5_000 }).toBe('HEALTHY');
    await expect.poll(() => page.locator('#current-rps').textContent(), { timeout: 5_000 }).toBe(rate.toFixed(1));
    const canvas = page.locator('#throughputChart');
    await expect.poll(() => canvas.getAttribute('data-last-phase')).toBe('traffic');
    expect(Number(await canvas.getAttribute('data-points'))).toBeGreaterThan(pointsBefore);
    await page.screenshot({ path: artifactPath('dashboard-1280x800.png') });
    const narrow = await browser.newPage({ viewport: { width: 375, height: 800 } });
    await narrow.goto(`${lb}/?poll=500`);
    await expect.poll(() => narrow.locator('#overall-status').textContent(), { timeout: 5_000 }).not.toBe('CONNECTING');
    const overflow = await narrow.evaluate('document.documentElement.scrollWidth > window.innerWidth');
    expect(overflow).toBe(false);
    await narrow.screenshot({ path: artifactPath('dashboard-375x800.png') });
    await narrow.close();
  });

  it('shows the real routes and targets, live from the stream, and fills the chart from history on a reload', async () => {
    const lb = stack.url('load-balancer');
    await Promise.all(Array.from({ length: 20 }, () => fetch(`${lb}/api/posts/1`).then((r) => r.arrayBuffer())));
    const row = page.locator('#routes-table tr[data-route="GET /api/posts/:id"]');
    await expect.poll(() => row.count(), { timeout: 5_000 }).toBe(1);
    const route = async () =>
      ((await (await fetch(`${lb}/stats`)).json()) as StatsAnswer)['load-balancer'].routes.find(
        (r) => r.route === 'GET /api/posts/:id',
      );
    // Twenty requests in the last ten seconds: 2.0 per second, in the load balancer's figures and in the table.
    await expect.poll(async () => (await route())?.requests_per_second, { timeout: 3_000 }).toBe(2);
    const counts = Object.values((await route())?.status ?? {}) as number[];
    expect(counts.reduce((sum, n) => sum + n, 0)).toBe(20);
    await expect.poll(() => row.locator('td').first().textContent(), { timeout: 5_000 }).toBe('2.0');
    const gateway = page.locator(
      `#upstreams-list li.group[data-group="lb:api"] li.target[data-target="${stack.url('api-gateway')}"]`,
    );
    await expect.poll(() => gateway.getAttribute('data-target-state'), { timeout: 5_000 }).toBe('up');

    // On the stream, the page does not poll /stats; a reload asks for the history first.
    const requests: string[] = [];
    page.on('request', (request) => requests.push(new URL(request.url()).pathname + new URL(request.url()).search));
    await page.reload();
    await expect.poll(() => row.count(), { timeout: 5_000 }).toBe(1);
    await sleep(2_500);
    expect(requests).toContain('/stats/history?range=1h');
    expect(requests).toContain('/stats/stream');
    expect(requests.filter((path) => path === '/stats')).toEqual([]);
    const history = (await (await fetch(`${lb}/stats/history?range=1h`)).json()) as HistoryAnswer;
    expect(history.scope).toBe('cluster');
    expect(Number(await page.locator('#throughputChart').getAttribute('data-points'))).toBeGreaterThanOrEqual(
      Math.min(history.points.length, 30),
    );
  });

  it('shows each API call of the real stack in the live log within 2 s, and the sign-up and post in the activity', async () => {
    const lb = stack.url('load-balancer');
    await expect
      .poll(() => page.locator('#api-log-state').getAttribute('data-state'), { timeout: 10_000 })
      .toBe('live');
    const user = {
      username: `viewer_${Date.now().toString(36)}`,
      email: 'viewer@example.com',
      password: 'a viewer password',
    };
    const send = async (path: string, body: unknown, token?: string) => {
      const res = await fetch(`${lb}/api${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify(body),
      });
      return { id: res.headers.get('x-request-id') ?? '', body: (await res.json()) as { token?: string } };
    };
    const registered = await send('/register', user);
    const login = await send('/login', { username: user.username, password: user.password });
    const post = await send('/posts', { title: 'Seen live', content: 'On the dashboard' }, login.body.token);
    const rowOf = (id: string) => page.locator('#api-log-table tbody tr').filter({ hasText: id });
    for (const call of [registered, login, post]) {
      await expect.poll(() => rowOf(call.id).count(), { timeout: 2_000 }).toBe(1);
    }
    expect(await rowOf(post.id).locator('td.user').textContent()).toBe(user.username);
    expect(await rowOf(post.id).getAttribute('data-route')).toBe('POST /api/posts');
    await expect
      .poll(() => page.locator('#activity-summary').textContent(), { timeout: 5_000 })
      .toMatch(/1 sign-up.*1 login.*1 post/);
  });

  it('leaves IDLE on the WebSocket heartbeat alone, and remembers the choice', async () => {
    await expect.poll(() => status().textContent(), { timeout: 15_000 }).toBe('IDLE');
    const button = page.locator('#toggle-ws-heartbeat-btn');
    await button.click();
    expect(await button.textContent()).toBe('WS heartbeat: ON');
    await expect.poll(() => page.locator('#ws-status').textContent(), { timeout: 5_000 }).toBe('heartbeat connected');
    await expect.poll(() => status().textContent(), { timeout: 5_000 }).toBe('HEALTHY');
    await page.reload();
    expect(await page.locator('#toggle-ws-heartbeat-btn').textContent()).toBe('WS heartbeat: ON');
    await expect.poll(() => page.locator('#ws-status').textContent(), { timeout: 5_000 }).toBe('heartbeat connected');
    await page.locator('#toggle-ws-heartbeat-btn').click();
    expect(await page.locator('#ws-status').textContent()).toBe('heartbeat off');
  });

  it('shows a frozen blog-service offline with an alert, and its recovery when it resumes', async () => {
    const pid = stack.pid('blog-service');
    process.kill(pid, 'SIGSTOP');
    try {
      await expect.poll(() => service('blog_service').getAttribute('data-state'), { timeout: 8_000 }).toBe('offline');
      expect(await status().textContent()).toBe('DEGRADED');
      expect(await page.locator('#active-services').textContent()).toBe('4/5');
      await expect
        .poll(() => page.locator('#alerts-container li').first().textContent())
        .toContain('Blog Service is offline');
      await page.screenshot({ path: artifactPath('dashboard-degraded-1280x800.png') });
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await expect.poll(() => service('blog_service').getAttribute('data-state'), { timeout: 8_000 }).toBe('online');
    await expect
      .poll(() => page.locator('#logs-container').textContent())
      .toContain('Recovery: Blog Service is back online');
    expect(await page.locator('#alerts-container li').first().textContent()).toContain('Blog Service is back online');
  });

  it('shows a killed blog-service offline until the stack has restarted it', async () => {
    const alertsBefore = await page.locator('#alerts-container li').count();
    process.kill(stack.pid('blog-service'), 'SIGKILL');
    await expect.poll(() => service('blog_service').getAttribute('data-state'), { timeout: 5_000 }).toBe('offline');
    await stack.process.waitForLine(/blog-service restarted/);
    await expect.poll(() => service('blog_service').getAttribute('data-state'), { timeout: 10_000 }).toBe('online');
    expect(await page.locator('#alerts-container li').count()).toBe(alertsBefore + 2);
  });

  it('shows DISCONNECTED while the load balancer is down and recovers when it returns', async () => {
    const pid = stack.pid('load-balancer');
    process.kill(pid, 'SIGSTOP');
    try {
      await expect.poll(() => status().textContent(), { timeout: 10_000 }).toBe('DISCONNECTED');
      await expect.poll(() => page.locator('#logs-container').textContent()).toContain('Lost /stats');
      const canvas = page.locator('#throughputChart');
      await expect.poll(() => canvas.getAttribute('data-last-phase')).toBe('down');
      // The page cannot know how the services are: it says so instead of calling them offline.
      expect(await page.locator('#server-list li[data-state="unknown"]').count()).toBe(5);
      expect(await page.locator('#server-list .state').allTextContents()).toEqual(Array(5).fill('Unknown'));
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await expect.poll(() => status().textContent(), { timeout: 10_000 }).not.toBe('DISCONNECTED');
    expect(await page.locator('#logs-container').textContent()).toContain('Reconnected to /stats');
  });

  it('pauses and resumes polling', async () => {
    const updated = page.locator('#last-updated');
    await page.locator('#toggle-monitoring-btn').click();
    expect(await page.locator('#toggle-monitoring-btn').textContent()).toBe('Resume monitoring');
    const frozen = await updated.getAttribute('datetime');
    await sleep(1_500);
    expect(await updated.getAttribute('datetime')).toBe(frozen);
    await page.locator('#toggle-monitoring-btn').click();
    await expect.poll(() => updated.getAttribute('datetime'), { timeout: 5_000 }).not.toBe(frozen);
  });

  it('raised no script errors', () => {
    expect(problems).toEqual([]);
  });
});
