import type { ReportingKey } from '@titanium/service-kit';
import {
  artifactPath,
  type FakeUpstream,
  launchChromium,
  type RunningService,
  startFakeUpstream,
  startService,
  stopAllProcesses,
} from '@titanium/test-support';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeFront } from './fake-front.js';

// The dashboard shows text that services put in their /stats (the reason a service is offline).
// Services here answer /stats with markup and script in that text; the page must show it as
// text and run none of it.
const PAYLOAD = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>';
const KEYS: ReportingKey[] = ['api-gateway', 'auth', 'user_service', 'blog_service'];

describe('dashboard with hostile text in /stats', () => {
  let services: FakeUpstream;
  let dashboard: RunningService;
  let lb: RunningService;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];
  const dialogs: string[] = [];

  beforeAll(async () => {
    services = await startFakeUpstream('services', {
      handler: (req, res) => {
        const block = { service_status: 'offline', error: PAYLOAD };
        const body = req.url === '/stats' ? Object.fromEntries(KEYS.map((key) => [key, block])) : { status: 'ok' };
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      },
    });
    const { url } = services;
    [dashboard, browser] = await Promise.all([startService('dashboard-ui'), launchChromium()]);
    lb = await startService('load-balancer', {
      DASHBOARD_UI_URL: dashboard.url,
      API_GATEWAY_URL: url,
      AUTH_SERVICE_URL: url,
      USER_SERVICE_URL: url,
      BLOG_SERVICE_URL: url,
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !/Failed to load resource|WebSocket/.test(msg.text())) problems.push(msg.text());
    });
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await stopAllProcesses();
    await services?.close();
  });

  it('shows the text literally in the service list and the alerts, and runs none of it', async () => {
    await page.goto(`${lb.url}/?poll=500`);
    const detail = page.locator('#server-list li[data-service="blog_service"] .detail');
    await expect.poll(() => detail.textContent(), { timeout: 10_000 }).toBe(PAYLOAD);
    await expect
      .poll(() => page.locator('#alerts-container').textContent(), { timeout: 5_000 })
      .toContain(`Blog Service is offline (${PAYLOAD})`);
    expect(await page.locator('#server-list img, #server-list script, #alerts-container img').count()).toBe(0);
    expect(await page.locator('#overall-status').textContent()).toBe('DEGRADED');
    await page.screenshot({ path: artifactPath('dashboard-hostile-stats.png') });
    expect(await page.evaluate('window.__xss ?? 0')).toBe(0);
    expect(dialogs).toEqual([]);
    expect(problems).toEqual([]);
  });
});

// Route names, target URLs and upstream errors reach the page from the load balancer's block (and
// the gateway's), through /stats and the stream alike: they are shown as text too.
describe('dashboard with hostile text in routes and upstreams', () => {
  let dashboard: RunningService;
  let front: FakeFront;
  let browser: Browser;

  beforeAll(async () => {
    [dashboard, browser] = await Promise.all([startService('dashboard-ui'), launchChromium()]);
    front = await new FakeFront(dashboard.port).listen();
    front.streamMode = 'accept';
    const target = {
      url: PAYLOAD,
      state: 'out' as const,
      in_flight: 0,
      requests: 1,
      errors: 1,
      p95_response_time_ms: 1,
    };
    front.stats = () => ({
      'load-balancer': {
        has_real_traffic: true,
        success_rate: 50,
        routes: [{ route: PAYLOAD, requests_per_second: 1, success_rate: 0, p95_response_time_ms: 1 }],
        upstreams: { api: [{ ...target, last_error: PAYLOAD, last_change: PAYLOAD }] },
      },
      'api-gateway': { service_status: 'online', upstreams: { auth: { requests: 1, errors: 1, failing: PAYLOAD } } },
      auth: { service_status: 'online' },
      user_service: { service_status: 'online' },
      blog_service: { service_status: 'online' },
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await front?.close();
    await dashboard?.stop();
  });

  it('shows them literally in the routes table, the upstreams and the alerts, and runs none of it', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const dialogs: string[] = [];
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    await page.goto(`${front.url}/?poll=500`);
    const row = page.locator('#routes-table tbody tr').first();
    await expect.poll(() => row.getAttribute('data-route'), { timeout: 10_000 }).toBe(PAYLOAD);
    expect(await row.locator('.route-name').textContent()).toBe(PAYLOAD);
    const target = page.locator('#upstreams-list li.target').first();
    expect(await target.locator('.name').textContent()).toBe(PAYLOAD);
    expect(await target.locator('.last-error').textContent()).toBe(`last error: ${PAYLOAD}`);
    expect(await page.locator('#upstreams-list li[data-target="auth-service"] .last-error').textContent()).toBe(
      `last error: ${PAYLOAD}`,
    );
    await expect
      .poll(() => page.locator('#alerts-container').textContent(), { timeout: 5_000 })
      .toContain(`${PAYLOAD}: success rate 0.0 % is below 95 %`);
    expect(await page.locator('main img, main script, #announcer img, #announcer script').count()).toBe(0);
    expect(await page.evaluate('window.__xss ?? 0')).toBe(0);
    expect(dialogs).toEqual([]);
    await page.close();
  });
});
