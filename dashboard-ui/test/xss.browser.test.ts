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
