import { setTimeout as sleep } from 'node:timers/promises';
import { artifactPath, launchChromium, type RunningService, startService } from '@titanium/test-support';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatsResponse } from '../web/src/stats-types.js';
import { FakeFront } from './fake-front.js';
import { stats } from './stats-fixture.js';

// The real page from the real static server, behind a front that answers /stats with figures the
// test chooses (and counts how often it is asked) and passes everything else to the static server.
// Like the original stack's load balancer, the front has no stream and no history: the page polls.
describe('dashboard figures in Chromium', () => {
  let dashboard: RunningService;
  let front: FakeFront;
  let browser: Browser;
  let page: Page;
  let answer: () => StatsResponse = () => stats();
  let statsHits = 0;
  const problems: string[] = [];

  const text = (selector: string) => page.locator(selector).textContent();

  async function open(width: number, height: number, query: string): Promise<Page> {
    const opened = await browser.newPage({ viewport: { width, height } });
    opened.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    // Every layout shift from the first paint on, as the browser reports it (and which nodes moved).
    await opened.addInitScript(`
      window.__shifts = [];
      new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) {
          const nodes = (entry.sources ?? []).map(({ node }) =>
            node && node.nodeType === 1 ? node.tagName.toLowerCase() + '#' + node.id + '.' + node.className : 'text');
          window.__shifts.push({ value: entry.value, recentInput: entry.hadRecentInput, nodes });
        }
      }).observe({ type: 'layout-shift', buffered: true });
    `);
    await opened.goto(`${front.url}/${query}`);
    return opened;
  }

  beforeAll(async () => {
    [dashboard, browser] = await Promise.all([startService('dashboard-ui'), launchChromium()]);
    front = await new FakeFront(dashboard.port).listen();
    front.stats = () => {
      statsHits++;
      return answer();
    };
    page = await open(1280, 800, '?poll=500&points=6');
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await front?.close();
    await dashboard?.stop();
  });

  it('shows exactly the figures /stats reported', async () => {
    await expect.poll(() => text('#current-rps'), { timeout: 10_000 }).toBe('12.3');
    expect(await text('#overall-status')).toBe('HEALTHY');
    expect(await text('#active-services')).toBe('5/5');
    expect(await text('#avg-response-time')).toBe('3.2 ms');
    expect(await text('#p95-response-time')).toBe('123 ms');
    expect(await text('#p99-response-time')).toBe('251 ms');
    expect(await text('#success-rate')).toBe('99.6 %');
    expect(await text('#stats-scope')).toBe('one load balancer');
    expect(await text('#db-status')).toBe('ONLINE');
    expect(await text('#cache-status')).toBe('ONLINE');
    expect(await text('#cache-hit-ratio')).toBe('81.2 %');

    answer = () =>
      stats(
        { requests_per_second: 0.25, avg_response_time_ms: 1234.5, scope: 'cluster', instances: 3 },
        { database: { status: 'unhealthy' }, cache: { status: 'unknown' } },
      );
    await expect.poll(() => text('#current-rps'), { timeout: 5_000 }).toBe('0.3');
    expect(await text('#avg-response-time')).toBe('1235 ms');
    expect(await text('#stats-scope')).toBe('cluster of 3 load balancers');
    expect(await text('#db-status')).toBe('OFFLINE');
    expect(await text('#cache-status')).toBe('UNKNOWN');
    expect(await text('#cache-hit-ratio')).toBe('–');
  });

  it('turns WARNING with an alert below 95 % success, and reports recovery only with traffic', async () => {
    const alerts = page.locator('#alerts-container li');
    answer = () => stats({ success_rate: 90 });
    await expect.poll(() => text('#overall-status'), { timeout: 5_000 }).toBe('WARNING');
    expect(await page.locator('#overall-status').getAttribute('data-state')).toBe('warning');
    expect(await text('#success-rate')).toBe('90.0 %');
    await expect.poll(() => alerts.first().textContent()).toContain('Success rate 90.0 % is below 95 %');
    expect(await alerts.first().getAttribute('data-level')).toBe('warning');
    const count = await alerts.count();

    answer = () => stats({ has_real_traffic: false, requests_per_second: 0, success_rate: 100 });
    await expect.poll(() => text('#overall-status'), { timeout: 5_000 }).toBe('IDLE');
    const hits = statsHits;
    await expect.poll(() => statsHits, { timeout: 5_000 }).toBeGreaterThanOrEqual(hits + 2);
    expect(await alerts.count()).toBe(count);

    answer = () => stats({ success_rate: 99 });
    await expect.poll(() => text('#overall-status'), { timeout: 5_000 }).toBe('HEALTHY');
    await expect.poll(() => alerts.first().textContent()).toContain('Success rate recovered to 99.0 %');
    expect(await alerts.count()).toBe(count + 1);
  });

  it('keeps no more chart points than ?points= asks, and names the range it shows', async () => {
    const canvas = page.locator('#throughputChart');
    await expect.poll(() => statsHits, { timeout: 10_000 }).toBeGreaterThanOrEqual(9);
    expect(await canvas.getAttribute('data-points')).toBe('6');
    const hits = statsHits;
    await expect.poll(() => statsHits, { timeout: 5_000 }).toBeGreaterThanOrEqual(hits + 2);
    expect(await canvas.getAttribute('data-points')).toBe('6');
    expect(await canvas.getAttribute('aria-label')).toContain('over the last five minutes;');
  });

  it('refreshes once while paused and stays paused', async () => {
    const button = page.locator('#toggle-monitoring-btn');
    const updated = page.locator('#last-updated');
    await button.click();
    expect(await button.textContent()).toBe('Resume monitoring');
    // A poll already on its way when the button was pressed still lands.
    await sleep(300);
    const hits = statsHits;
    const before = await updated.getAttribute('datetime');
    await page.locator('#refresh-btn').click();
    await expect.poll(() => updated.getAttribute('datetime'), { timeout: 5_000 }).not.toBe(before);
    const after = await updated.getAttribute('datetime');
    expect(statsHits).toBe(hits + 1);
    await sleep(1_500);
    expect(statsHits).toBe(hits + 1);
    expect(await updated.getAttribute('datetime')).toBe(after);
    expect(await button.textContent()).toBe('Resume monitoring');
    expect(await button.getAttribute('aria-pressed')).toBe('false');
    await button.click();
    await expect.poll(() => statsHits, { timeout: 5_000 }).toBeGreaterThan(hits + 1);
  });

  it('fits 1920 and 375 px wide and does not shift while numbers and the heartbeat text change', async () => {
    // Only the page under test polls from here on, so it sees every other answer.
    await page.locator('#toggle-monitoring-btn').click();
    let poll = 0;
    // Every answer differs in the length of every figure, and in how many routes and targets it has.
    const route = (n: number, big: boolean) => ({
      route: big ? `GET /api/users/:username/posts/${'x'.repeat(n * 3)}` : 'GET /api/posts',
      requests_per_second: big ? 1234.5 : 0.1,
      success_rate: big ? 99.99 : 100,
      server_error_rate: 0,
      avg_response_time_ms: big ? 1234.5 : 1,
      p50_response_time_ms: big ? 2345.6 : 1,
      p95_response_time_ms: big ? 23456 : 2,
      p99_response_time_ms: big ? 34567 : 3,
      status: { '2xx': big ? 123456 : 0, '3xx': 0, '4xx': big ? 12345 : 1, '5xx': big ? 1234 : 0 },
    });
    const target = (n: number, big: boolean) => ({
      url: `http://${big ? 'api-gateway-with-a-long-name'.repeat(2) : 'gw'}-${n}:8000`,
      state: big ? 'draining' : 'up',
      in_flight: big ? 1234 : 0,
      requests: big ? 123456 : 1,
      errors: big ? 12345 : 0,
      p95_response_time_ms: big ? 23456 : 1,
      last_error: big ? `connect ECONNREFUSED ${'10.0.0.1:8000 '.repeat(8)}` : null,
      last_change: '2026-12-02T03:00:00.000Z',
    });
    answer = () => {
      poll++;
      const big = poll % 2 === 0;
      const count = big ? 20 : 1;
      const gatewayFigures = { requests: big ? 12345 : 1, errors: 0, avg_response_time_ms: 1, p95_response_time_ms: 2 };
      return stats(
        {
          requests_per_second: big ? 12345.6 : 0.1,
          avg_response_time_ms: big ? 1234.5 : 1.2,
          p95_response_time_ms: big ? 23456 : 2.3,
          p99_response_time_ms: big ? 34567 : 3.4,
          success_rate: big ? 100 : 99.5,
          instances: big ? 12 : 1,
          scope: big ? 'cluster' : 'instance',
          routes: Array.from({ length: count }, (_, n) => route(n, big)),
          upstreams: {
            api: Array.from({ length: big ? 6 : 1 }, (_, n) => target(n, big)),
            blog: [target(0, big)],
            dashboard: [target(0, big)],
            auth: [target(0, big)],
            user: [target(0, big)],
          },
        },
        {
          cache: { status: 'healthy', hit_ratio: big ? 1 : 0.05 },
          'api-gateway': {
            service_status: 'online',
            upstreams: {
              auth: gatewayFigures,
              user: big ? { ...gatewayFigures, failing: 'timeout '.repeat(20) } : gatewayFigures,
              blog: gatewayFigures,
            },
          },
        },
      );
    };
    for (const [width, height] of [
      [1920, 1080],
      [375, 800],
    ] as const) {
      const wide = await open(width, height, '?poll=500');
      await expect.poll(() => wide.locator('#overall-status').textContent(), { timeout: 5_000 }).toBe('HEALTHY');
      // The heartbeat has nothing to connect to here: its status text keeps changing.
      await wide.locator('#toggle-ws-heartbeat-btn').click();
      const hits = statsHits;
      const rps = wide.locator('#current-rps');
      for (const shown of ['12345.6', '0.1', '12345.6', '0.1']) {
        await expect.poll(() => rps.textContent(), { timeout: 5_000 }).toBe(shown);
      }
      await expect.poll(() => statsHits, { timeout: 10_000 }).toBeGreaterThanOrEqual(hits + 8);
      await expect.poll(() => wide.locator('#ws-status').textContent(), { timeout: 5_000 }).toMatch(/reconnecting in/);
      expect(await wide.evaluate('document.documentElement.scrollWidth > window.innerWidth')).toBe(false);
      await wide.screenshot({ path: artifactPath(`dashboard-figures-${width}x${height}.png`), fullPage: true });
      const shifts = (await wide.evaluate('window.__shifts')) as { value: number; recentInput: boolean }[];
      const counted = shifts.filter((s) => !s.recentInput);
      const total = counted.reduce((sum, s) => sum + s.value, 0);
      expect(total, `${width} px: ${JSON.stringify(counted)}`).toBeLessThan(0.01);
      await wide.close();
    }
  });

  it('raised no script errors', () => {
    expect(problems).toEqual([]);
  });
});
