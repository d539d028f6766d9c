import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { HistoryAnswer, HistoryPoint } from '@titanium/service-kit/stats-contract';
import { artifactPath, launchChromium, type RunningService, startService } from '@titanium/test-support';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RouteEntry, StatsResponse, TargetEntry } from '../web/src/stats-types.js';
import { FakeFront } from './fake-front.js';
import { stats as baseStats, ONLINE } from './stats-fixture.js';

const CHANGED = '2026-12-02T03:00:00.000Z';

const ROUTES: RouteEntry[] = [
  {
    route: 'GET /api/posts',
    requests_per_second: 4,
    success_rate: 100,
    server_error_rate: 0,
    avg_response_time_ms: 1.5,
    p50_response_time_ms: 1.2,
    p95_response_time_ms: 3.1,
    p99_response_time_ms: 4,
    status: { '2xx': 40, '3xx': 0, '4xx': 0, '5xx': 0 },
  },
  {
    route: 'GET /api/posts/:id',
    requests_per_second: 2,
    success_rate: 100,
    server_error_rate: 0,
    avg_response_time_ms: 4,
    p50_response_time_ms: 3.5,
    p95_response_time_ms: 12.5,
    p99_response_time_ms: 20,
    status: { '2xx': 20, '3xx': 0, '4xx': 0, '5xx': 0 },
  },
  {
    route: 'POST /api/login',
    requests_per_second: 0.5,
    success_rate: 0,
    server_error_rate: 0,
    avg_response_time_ms: 2,
    p50_response_time_ms: 2,
    p95_response_time_ms: 5,
    p99_response_time_ms: 6,
    status: { '2xx': 0, '3xx': 0, '4xx': 5, '5xx': 0 },
  },
];

function target(url: string, figures: Partial<TargetEntry> = {}): TargetEntry {
  return {
    url,
    state: 'up',
    in_flight: 0,
    requests: 10,
    errors: 0,
    p95_response_time_ms: 2,
    last_error: null,
    last_change: CHANGED,
    ...figures,
  };
}

const UPSTREAMS = {
  api: [
    target('http://api-gateway:8000', { in_flight: 1, requests: 65, p95_response_time_ms: 3 }),
    target('http://api-gateway-2:8000', {
      state: 'out',
      requests: 3,
      errors: 3,
      p95_response_time_ms: 2001,
      last_error: 'connect ECONNREFUSED 10.0.0.2:8000',
    }),
  ],
  blog: [target('http://blog-service:8005', { state: 'draining' })],
  dashboard: [target('http://dashboard-ui:8080')],
  auth: [target('http://auth-service:8002')],
  user: [target('http://user-service:8001')],
};

const GATEWAY = {
  ...ONLINE,
  upstreams: {
    auth: { requests: 5, errors: 0, avg_response_time_ms: 1, p95_response_time_ms: 2 },
    user: {
      requests: 7,
      errors: 3,
      avg_response_time_ms: 3,
      p95_response_time_ms: 9,
      failing: 'timeout after 2000 ms',
    },
    blog: { requests: 60, errors: 0, avg_response_time_ms: 2, p95_response_time_ms: 4 },
  },
};

/** The figures of the original page plus routes and upstreams, from a cluster of two. */
function stats(lb: Record<string, unknown> = {}, rest: Partial<StatsResponse> = {}): StatsResponse {
  return baseStats(
    { scope: 'cluster', instances: 2, routes: ROUTES, upstreams: UPSTREAMS, ...lb },
    { 'api-gateway': GATEWAY, ...rest },
  );
}

/**
 * The recorded series as the load balancer answers it now: `count` slots of `seconds`, the newest
 * ending at the last boundary, without the slots `missing` counts back from the newest (0).
 */
function recorded(range: '1h' | '24h', count: number, missing: (i: number) => boolean): HistoryAnswer {
  const seconds = range === '1h' ? 10 : 60;
  const end = Math.floor(Date.now() / (seconds * 1000)) * seconds * 1000;
  const points: HistoryPoint[] = [];
  for (let i = count - 1; i >= 0; i--) {
    if (missing(i)) continue;
    points.push({
      t: new Date(end - (i + 1) * seconds * 1000).toISOString(),
      requests_per_second: (i % 7) + 0.5,
      avg_response_time_ms: 2 + (i % 3) * 0.25,
      p95_response_time_ms: 8 + (i % 5),
      p99_response_time_ms: 15 + (i % 4),
      success_rate: i % 11 === 0 ? 93.75 : 100,
      server_error_rate: i % 11 === 0 ? 6.25 : 0,
      has_real_traffic: i % 13 !== 0,
    });
  }
  return { range, resolution_seconds: seconds, scope: 'cluster', points };
}

const HOUR_MISSING = (i: number) => i >= 5 && i <= 7;
const DAY_MISSING = (i: number) => i >= 100 && i < 160;
const CSV_HEADER =
  't,requests_per_second,avg_response_time_ms,p95_response_time_ms,p99_response_time_ms,success_rate,server_error_rate,has_real_traffic';

/** Lets a test hide and show the tab: headless Chromium keeps every page visible. */
const VISIBILITY_SWITCH = `
  let hidden = false;
  Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (hidden ? 'hidden' : 'visible') });
  Object.defineProperty(document, 'hidden', { configurable: true, get: () => hidden });
  window.__setHidden = (value) => {
    hidden = value;
    document.dispatchEvent(new Event('visibilitychange'));
  };
`;

/** Contrast of text against what it is drawn on (WCAG's formula), for texts of every kind. */
const CONTRAST = `(() => {
  const luminance = (css) => {
    const [r, g, b] = (css.match(/[\\d.]+/g) ?? []).slice(0, 3).map((v) => {
      const c = Number(v) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const ratio = (a, b) => {
    const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  };
  // The nearest background that is not transparent.
  const backdrop = (node) => {
    for (let at = node; at; at = at.parentElement) {
      const color = getComputedStyle(at).backgroundColor;
      if (color !== 'rgba(0, 0, 0, 0)') return color;
    }
    return 'rgb(255, 255, 255)';
  };
  const ratios = {};
  for (const selector of ['h2', '.muted.note', '#routes-table tbody td', '.upstream-list .figures', '.kpi dt',
    '#overall-status', '.service-list .state', '.worst-flag', '.upstream-list .state']) {
    const node = document.querySelector(selector);
    if (node) ratios[selector] = ratio(getComputedStyle(node).color, backdrop(node));
  }
  return { page: getComputedStyle(document.documentElement).backgroundColor, ratios };
})()`;

/** The focused element (a sort button by its column), and its outline. */
const FOCUSED = `(() => {
  const node = document.activeElement;
  if (!node || node === document.body) return null;
  const column = node.closest('th')?.dataset.column;
  const style = getComputedStyle(node);
  return { name: column ? 'sort:' + column : node.id, outline: style.outlineStyle, width: parseFloat(style.outlineWidth) };
})()`;

/** Records every change to a live region from now on, as "<region id>: <its text>". */
const WATCH_LIVE_REGIONS = `(() => {
  window.__changes = [];
  const observer = new MutationObserver((records) => {
    for (const record of records) {
      const node = record.target.nodeType === 1 ? record.target : record.target.parentElement;
      const region = node?.closest('[aria-live]');
      window.__changes.push(region?.id + ': ' + region?.textContent);
    }
  });
  for (const node of document.querySelectorAll('[aria-live]')) {
    observer.observe(node, { childList: true, characterData: true, subtree: true });
  }
})()`;

// The real page from the real static server behind a front playing a load balancer that has the
// stream, the history, per-route and per-upstream figures.
describe('dashboard insights in Chromium', () => {
  let dashboard: RunningService;
  let browser: Browser;
  let front: FakeFront;
  let lastHour: HistoryAnswer | undefined;
  const pages: Page[] = [];
  const problems: string[] = [];

  async function open(query = '?poll=500', options: { width?: number; dark?: boolean } = {}): Promise<Page> {
    const page = await browser.newPage({
      viewport: { width: options.width ?? 1280, height: 800 },
      colorScheme: options.dark ? 'dark' : 'light',
      acceptDownloads: true,
    });
    pages.push(page);
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !/Failed to load resource|WebSocket|EventSource/.test(msg.text())) {
        problems.push(`console: ${msg.text()}`);
      }
    });
    await page.addInitScript(VISIBILITY_SWITCH);
    await page.goto(`${front.url}/${query}`);
    return page;
  }

  const attr = (page: Page, name: string) => page.locator('#throughputChart').getAttribute(name);
  const rowNames = (page: Page) =>
    page.locator('#routes-table tbody tr').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-route')));

  beforeAll(async () => {
    [dashboard, browser] = await Promise.all([startService('dashboard-ui'), launchChromium()]);
  }, 60_000);

  beforeEach(async () => {
    front = await new FakeFront(dashboard.port).listen();
    front.streamMode = 'accept';
    front.stats = () => stats();
    front.history = (range) => {
      if (range === '24h') return recorded('24h', 1440, DAY_MISSING);
      lastHour = recorded('1h', 360, HOUR_MISSING);
      return lastHour;
    };
  });

  afterEach(async () => {
    for (const page of pages.splice(0)) await page.close();
    await front.close();
  });

  afterAll(async () => {
    await browser?.close();
    await dashboard?.stop();
  });

  it('fills the chart from history on load, draws p99 beside the other lines and leaves gaps where slots are missing', async () => {
    const page = await open();
    // 30 slots of 10 s in five minutes, 3 missing (one fewer if a slot boundary passed meanwhile).
    await expect.poll(() => attr(page, 'data-history-points'), { timeout: 10_000 }).toMatch(/^2[67]$/);
    expect(front.historyQueries).toEqual(['?range=1h']);
    expect(await attr(page, 'data-gaps')).toBe('1');
    expect(await attr(page, 'data-range')).toBe('5m');
    expect(await attr(page, 'data-series')).toBe(
      'Requests/s, Average latency (ms), p95 latency (ms), p99 latency (ms)',
    );
    expect(await page.locator('#history-status').textContent()).toMatch(
      /^history: 2[67] slots of 10 s · cluster, then live$/,
    );
    // Live points come after the history as the stream delivers them.
    const loaded = Number(await attr(page, 'data-points'));
    await expect
      .poll(async () => Number(await attr(page, 'data-points')), { timeout: 5_000 })
      .toBeGreaterThan(loaded + 3);
    expect(await attr(page, 'data-last-phase')).toBe('traffic');
  });

  it('switches the history range between 5 min, 1 h and 24 h, keeping the points bounded', async () => {
    const page = await open();
    await expect.poll(() => attr(page, 'data-history-points'), { timeout: 10_000 }).toMatch(/^2[67]$/);
    await page.selectOption('#history-range', '1h');
    await expect.poll(() => attr(page, 'data-history-points'), { timeout: 5_000 }).toMatch(/^35[67]$/);
    expect(await attr(page, 'data-range')).toBe('1h');
    expect(await attr(page, 'aria-label')).toContain('over the last 60 minutes;');
    await page.selectOption('#history-range', '24h');
    await expect.poll(() => attr(page, 'data-history-points'), { timeout: 5_000 }).toMatch(/^13[78]\d$/);
    expect(await attr(page, 'data-gaps')).toBe('1');
    expect(await attr(page, 'aria-label')).toContain('over the last 24 hours;');
    // A day at one point a minute, and the live points a minute apart: the stream adds almost nothing.
    await sleep(2_000);
    expect(Number(await attr(page, 'data-points'))).toBeLessThanOrEqual(1440 + 3);
    await page.selectOption('#history-range', '5m');
    await expect.poll(() => attr(page, 'data-history-points'), { timeout: 5_000 }).toMatch(/^2[67]$/);
    expect(front.historyQueries).toEqual(['?range=1h', '?range=1h', '?range=24h', '?range=1h']);
  });

  it('exports the shown history as CSV like the load balancer writes it, and as JSON', async () => {
    const page = await open();
    await expect.poll(() => attr(page, 'data-history-points'), { timeout: 10_000 }).toMatch(/^2[67]$/);

    const [csvDownload] = await Promise.all([page.waitForEvent('download'), page.click('#export-csv-btn')]);
    expect(csvDownload.suggestedFilename()).toMatch(/^titanium-history-5m-\d{4}-\d\d-\d\d-\d{6}\.csv$/);
    const csv = await readFile(await csvDownload.path(), 'utf8');
    const hour = lastHour?.points ?? [];
    expect(csv.endsWith('\r\n')).toBe(true);
    const [header, ...rows] = csv.slice(0, -2).split('\r\n');
    expect(header).toBe(CSV_HEADER);
    expect(rows.length).toBeGreaterThanOrEqual(26);
    expect(rows.length).toBeLessThanOrEqual(27);
    // The newest slots the load balancer has, in its order, each exactly as it recorded it.
    expect(rows).toEqual(
      hour
        .slice(-rows.length)
        .map(
          (p) =>
            `${p.t},${p.requests_per_second},${p.avg_response_time_ms},${p.p95_response_time_ms},${p.p99_response_time_ms},${p.success_rate},${p.server_error_rate},${p.has_real_traffic}`,
        ),
    );
    expect(Date.now() - Date.parse(rows[0]?.split(',')[0] ?? '')).toBeLessThanOrEqual(5 * 60_000 + 10_000);

    const [jsonDownload] = await Promise.all([page.waitForEvent('download'), page.click('#export-json-btn')]);
    expect(jsonDownload.suggestedFilename()).toMatch(/^titanium-history-5m-.*\.json$/);
    const json = JSON.parse(await readFile(await jsonDownload.path(), 'utf8')) as HistoryAnswer & { range: string };
    expect(json.range).toBe('5m');
    expect(json.resolution_seconds).toBe(10);
    expect(json.scope).toBe('cluster');
    expect(json.points).toEqual((lastHour?.points ?? []).slice(-json.points.length));
    expect(json.points.length).toBeGreaterThanOrEqual(26);
    await expect
      .poll(() => page.locator('#logs-container').textContent(), { timeout: 5_000 })
      .toContain('slots of history as JSON');
  });

  it('shows a row per route, sortable by mouse and keyboard, with the worst route flagged and explained', async () => {
    const page = await open();
    const table = page.locator('#routes-table');
    await expect
      .poll(() => rowNames(page), { timeout: 10_000 })
      .toEqual(['GET /api/posts', 'GET /api/posts/:id', 'POST /api/login']);
    expect(await table.locator('tbody tr').first().locator('th, td').allTextContents()).toEqual([
      'GET /api/posts',
      '4.0',
      '100.0 %',
      '1.2 ms',
      '3.1 ms',
      '4.0 ms',
      '0',
      '0',
    ]);
    expect(await table.locator('thead th').allTextContents()).toEqual([
      'Route',
      'Req/s▼',
      'Success',
      'p50',
      'p95',
      'p99',
      '4xx',
      '5xx',
    ]);
    const worst = table.locator('tr[data-worst="true"]');
    expect(await worst.count()).toBe(1);
    expect(await worst.getAttribute('data-route')).toBe('POST /api/login');
    expect(await worst.locator('th').textContent()).toBe('POST /api/login worst');
    expect(await page.locator('#routes-note').textContent()).toContain('lowest success rate, then highest p95');
    const sorted = () =>
      table
        .locator('thead th[aria-sort]')
        .evaluateAll((ths) => ths.map((th) => `${th.getAttribute('data-column')} ${th.getAttribute('aria-sort')}`));
    expect(await sorted()).toEqual(['rps descending']);

    const p95 = table.locator('th[data-column="p95Ms"] button');
    await p95.click();
    expect(await sorted()).toEqual(['p95Ms descending']);
    expect(await rowNames(page)).toEqual(['GET /api/posts/:id', 'POST /api/login', 'GET /api/posts']);
    await p95.click();
    expect(await sorted()).toEqual(['p95Ms ascending']);
    expect(await rowNames(page)).toEqual(['GET /api/posts', 'POST /api/login', 'GET /api/posts/:id']);

    const byRoute = table.locator('th[data-column="route"] button');
    await byRoute.focus();
    await page.keyboard.press('Enter');
    expect(await sorted()).toEqual(['route ascending']);
    expect(await rowNames(page)).toEqual(['GET /api/posts', 'GET /api/posts/:id', 'POST /api/login']);
    await page.keyboard.press('Space');
    expect(await sorted()).toEqual(['route descending']);
    expect(await rowNames(page)).toEqual(['POST /api/login', 'GET /api/posts/:id', 'GET /api/posts']);
    // Updates keep coming; the chosen order and the keyboard focus stay.
    const updated = await page.locator('#last-updated').getAttribute('datetime');
    await expect.poll(() => page.locator('#last-updated').getAttribute('datetime')).not.toBe(updated);
    expect(await rowNames(page)).toEqual(['POST /api/login', 'GET /api/posts/:id', 'GET /api/posts']);
    expect(await page.evaluate("document.activeElement?.closest('th')?.dataset.column")).toBe('route');

    // A load balancer without per-route figures, and one with no traffic, say so.
    front.stats = () => stats({ routes: undefined });
    await expect
      .poll(() => table.locator('tbody').textContent(), { timeout: 5_000 })
      .toBe('This load balancer reports no routes.');
    front.stats = () => stats({ routes: [], has_real_traffic: false });
    await expect
      .poll(() => table.locator('tbody').textContent(), { timeout: 5_000 })
      .toBe('No API traffic in the last 10 s.');
  });

  it("shows each upstream target's state, in-flight, errors, p95 and last error, for the load balancer and the gateway", async () => {
    const page = await open();
    const list = page.locator('#upstreams-list');
    await expect
      .poll(() => list.locator('li.group').evaluateAll((groups) => groups.map((g) => g.getAttribute('data-group'))), {
        timeout: 10_000,
      })
      .toEqual(['lb:api', 'lb:blog', 'lb:dashboard', 'lb:auth', 'lb:user', 'gateway']);
    const item = (name: string) => list.locator(`li.target[data-target="${name}"]`);
    const down = item('http://api-gateway-2:8000');
    expect(await down.getAttribute('data-target-state')).toBe('out');
    expect(await down.locator('.state').textContent()).toBe('out');
    expect(await down.locator('.figures').textContent()).toMatch(
      /^in flight 0 · 3 req · 3 errors · p95 2001 ms · changed \d\d:\d\d:\d\d$/,
    );
    expect(await down.locator('.last-error').textContent()).toBe('last error: connect ECONNREFUSED 10.0.0.2:8000');
    expect(await item('http://api-gateway:8000').locator('.figures').textContent()).toMatch(
      /^in flight 1 · 65 req · 0 errors · p95 3.0 ms/,
    );
    expect(await item('http://api-gateway:8000').locator('.last-error').count()).toBe(0);
    expect(await item('http://blog-service:8005').locator('.state').textContent()).toBe('draining');
    const gateway = list.locator('li.group[data-group="gateway"]');
    expect(await gateway.locator('h3').textContent()).toBe('API gateway → since start');
    const user = gateway.locator('li.target[data-target="user-service"]');
    expect(await user.locator('.state').textContent()).toBe('failing');
    expect(await user.locator('.figures').textContent()).toBe('in flight – · 7 req · 3 errors · p95 9.0 ms');
    expect(await user.locator('.last-error').textContent()).toBe('last error: timeout after 2000 ms');
    expect(await gateway.locator('li.target[data-target="auth-service"] .state').textContent()).toBe('up');

    front.stats = () => stats({ upstreams: undefined }, { 'api-gateway': ONLINE });
    await expect.poll(() => list.textContent(), { timeout: 5_000 }).toBe('This load balancer reports no upstreams.');
  });

  it('alerts once when a route falls below 95 % success or its p95 rises above ?p95_alert_ms=, and once on recovery', async () => {
    const page = await open('?poll=500&p95_alert_ms=10');
    const alerts = page.locator('#alerts-container li');
    await expect.poll(() => alerts.count(), { timeout: 10_000 }).toBe(2);
    expect(await alerts.allTextContents()).toEqual(
      expect.arrayContaining([
        expect.stringContaining('POST /api/login: success rate 0.0 % is below 95 %'),
        expect.stringContaining('GET /api/posts/:id: p95 12.5 ms is above 10.0 ms'),
      ]),
    );
    expect(await page.locator('#alerts-container li[data-level="warning"]').count()).toBe(2);
    expect(await page.locator('#routes-note').textContent()).toContain('below 95 % success or above 10.0 ms p95');
    // Many more updates with the same figures: no new alert.
    await sleep(1_500);
    expect(await alerts.count()).toBe(2);

    front.stats = () =>
      stats({
        routes: [
          ROUTES[0],
          { ...ROUTES[1], p95_response_time_ms: 8 },
          { ...ROUTES[2], success_rate: 100, status: { '2xx': 5, '3xx': 0, '4xx': 0, '5xx': 0 } },
        ],
      });
    await expect.poll(() => alerts.count(), { timeout: 5_000 }).toBe(4);
    expect((await alerts.allTextContents()).slice(0, 2)).toEqual(
      expect.arrayContaining([
        expect.stringContaining('POST /api/login: success rate recovered to 100.0 %'),
        expect.stringContaining('GET /api/posts/:id: p95 back to 8.0 ms'),
      ]),
    );
    await sleep(1_500);
    expect(await alerts.count()).toBe(4);
  });

  it('takes live updates from the stream, polls while the stream is down, and returns to the stream', async () => {
    const page = await open();
    const feed = page.locator('#feed-status');
    const logs = page.locator('#logs-container');
    await expect.poll(() => feed.textContent(), { timeout: 10_000 }).toBe('live: stream');
    expect(await page.locator('#current-rps').textContent()).toBe('12.3');
    await sleep(1_500);
    expect(front.hitsOf('/stats')).toBe(0);

    front.stats = () => stats({ requests_per_second: 7.25 });
    front.streamMode = 'refuse';
    front.cutStreams();
    await expect.poll(() => feed.textContent(), { timeout: 5_000 }).toBe('live: polling every 0.5 s');
    await expect.poll(() => front.hitsOf('/stats'), { timeout: 5_000 }).toBeGreaterThanOrEqual(3);
    expect(await logs.textContent()).toContain('Live stream lost (stream dropped); polling /stats every 0.5 s');
    // Polling carries the figures meanwhile: the page stays connected.
    await expect.poll(() => page.locator('#current-rps').textContent(), { timeout: 5_000 }).toBe('7.3');
    expect(await page.locator('#overall-status').textContent()).toBe('HEALTHY');
    // The stream is tried again (and refused) while polling goes on.
    await expect.poll(() => front.hitsOf('/stats/stream'), { timeout: 5_000 }).toBeGreaterThanOrEqual(2);
    expect(front.openStreams).toBe(0);

    front.streamMode = 'accept';
    await expect.poll(() => feed.textContent(), { timeout: 12_000 }).toBe('live: stream');
    expect(await logs.textContent()).toContain('Live stream back; polling stopped');
    await sleep(300);
    const polls = front.hitsOf('/stats');
    await sleep(1_500);
    expect(front.hitsOf('/stats')).toBe(polls);
    expect(front.openStreams).toBe(1);
    expect(await page.locator('#overall-status').textContent()).toBe('HEALTHY');
  });

  it('makes no request at all while the tab is hidden, and catches up from history when it is shown', async () => {
    front.acceptHeartbeat = true;
    const page = await open();
    await page.locator('#toggle-ws-heartbeat-btn').click();
    await expect.poll(() => page.locator('#ws-status').textContent(), { timeout: 5_000 }).toBe('heartbeat connected');
    await expect.poll(() => page.locator('#feed-status').textContent(), { timeout: 10_000 }).toBe('live: stream');
    await expect.poll(() => attr(page, 'data-gaps'), { timeout: 5_000 }).toBe('1');
    expect(front.historyQueries).toHaveLength(1);

    await page.evaluate('window.__setHidden(true)');
    await expect.poll(() => front.openStreams, { timeout: 5_000 }).toBe(0);
    await expect.poll(() => front.openSockets, { timeout: 5_000 }).toBe(0);
    const requests = front.requests;
    const seen: string[] = [];
    let framesSent = 0;
    page.on('request', (request) => seen.push(request.url()));
    page.on('websocket', (ws) => {
      seen.push(ws.url());
      ws.on('framesent', () => framesSent++);
    });
    // Longer than the heartbeat's 5 s, the poll interval, the stream's retry and its silence limit.
    await sleep(6_500);
    expect(seen).toEqual([]);
    expect(framesSent).toBe(0);
    expect(front.requests).toBe(requests);
    expect(await page.locator('#feed-status').textContent()).toBe('paused while hidden');
    expect(await page.locator('#ws-status').textContent()).toBe('heartbeat paused while hidden');
    expect(await page.locator('#toggle-ws-heartbeat-btn').textContent()).toBe('WS heartbeat: ON');

    // Meanwhile the load balancer recorded every slot: the catch-up draws them, gap gone.
    front.history = (range) => recorded(range === '24h' ? '24h' : '1h', 360, () => false);
    await page.evaluate('window.__setHidden(false)');
    await expect.poll(() => front.historyQueries.length, { timeout: 5_000 }).toBe(2);
    await expect.poll(() => attr(page, 'data-gaps'), { timeout: 5_000 }).toBe('0');
    expect(await attr(page, 'data-history-points')).toMatch(/^(29|30)$/);
    await expect.poll(() => page.locator('#feed-status').textContent(), { timeout: 5_000 }).toBe('live: stream');
    await expect.poll(() => page.locator('#ws-status').textContent(), { timeout: 5_000 }).toBe('heartbeat connected');
    expect(front.socketsOpened).toBe(2);
    expect(seen.some((url) => url.endsWith('/stats/history?range=1h'))).toBe(true);
  });

  it('follows the dark colour scheme, readable at 1280 and 375 px, with screenshots of both themes', async () => {
    const contrast = (page: Page) =>
      page.evaluate(CONTRAST) as Promise<{ page: string; ratios: Record<string, number> }>;
    for (const width of [1280, 375]) {
      const page = await open('?poll=500', { width });
      await expect.poll(() => attr(page, 'data-history-points'), { timeout: 10_000 }).toMatch(/^2[67]$/);
      await expect.poll(() => page.locator('#alerts-container li').count(), { timeout: 5_000 }).toBe(1);
      expect(await attr(page, 'data-theme')).toBe('light');
      const light = await contrast(page);
      expect(light.page).toBe('rgb(244, 246, 249)');
      expect(await page.evaluate('document.documentElement.scrollWidth > window.innerWidth')).toBe(false);
      await page.screenshot({ path: artifactPath(`dashboard-insights-${width}-light.png`), fullPage: true });

      // The page follows a change of the scheme as it happens, the chart included.
      await page.emulateMedia({ colorScheme: 'dark' });
      await expect.poll(() => attr(page, 'data-theme'), { timeout: 5_000 }).toBe('dark');
      const dark = await contrast(page);
      expect(dark.page).toBe('rgb(11, 17, 32)');
      for (const [selector, ratio] of Object.entries({ ...light.ratios, ...dark.ratios })) {
        expect(ratio, selector).toBeGreaterThanOrEqual(4.5);
      }
      expect(Object.keys(dark.ratios)).toHaveLength(9);
      expect(await page.evaluate('document.documentElement.scrollWidth > window.innerWidth')).toBe(false);
      await page.screenshot({ path: artifactPath(`dashboard-insights-${width}-dark.png`), fullPage: true });
    }
    // Opened dark, it starts dark.
    const dark = await open('?poll=500', { dark: true });
    await expect.poll(() => attr(dark, 'data-theme'), { timeout: 5_000 }).toBe('dark');
  });

  it('reaches every control by keyboard, each with a visible focus ring, and works them from there', async () => {
    const page = await open();
    await expect.poll(() => rowNames(page), { timeout: 10_000 }).toHaveLength(3);
    const controls = [
      'toggle-monitoring-btn',
      'refresh-btn',
      'toggle-ws-heartbeat-btn',
      'history-range',
      'export-csv-btn',
      'export-json-btn',
      ...['route', 'rps', 'successRate', 'p50Ms', 'p95Ms', 'p99Ms', 'clientErrors', 'serverErrors'].map(
        (column) => `sort:${column}`,
      ),
      'api-log-failures',
      'api-log-route',
      'api-log-pause',
    ];
    const reached = new Map<string, { outline: string; width: number }>();
    for (let i = 0; i < 40 && reached.size < controls.length; i++) {
      await page.keyboard.press('Tab');
      const focused = (await page.evaluate(FOCUSED)) as { name: string; outline: string; width: number } | null;
      if (focused && controls.includes(focused.name)) reached.set(focused.name, focused);
    }
    expect([...reached.keys()]).toEqual(controls);
    for (const [name, { outline, width }] of reached) {
      expect(outline, name).not.toBe('none');
      expect(width, name).toBeGreaterThanOrEqual(2);
    }

    // Pause and resume from the keyboard.
    await page.locator('#toggle-monitoring-btn').focus();
    await page.keyboard.press('Enter');
    expect(await page.locator('#toggle-monitoring-btn').textContent()).toBe('Resume monitoring');
    expect(await page.locator('#feed-status').textContent()).toBe('paused');
    await page.keyboard.press('Space');
    expect(await page.locator('#toggle-monitoring-btn').textContent()).toBe('Pause monitoring');
    // Change the range from the keyboard.
    await page.locator('#history-range').focus();
    await page.keyboard.press('ArrowDown');
    await expect.poll(() => attr(page, 'data-range'), { timeout: 5_000 }).toBe('1h');
    await expect.poll(() => front.historyQueries.at(-1), { timeout: 5_000 }).toBe('?range=1h');
  });

  it('announces real status changes to screen readers, politely and once each', async () => {
    const page = await open();
    await expect.poll(() => page.locator('#feed-status').textContent(), { timeout: 10_000 }).toBe('live: stream');
    // The route alert from the first figures is already announced.
    await expect
      .poll(() => page.locator('#announcer').textContent(), { timeout: 5_000 })
      .toContain('POST /api/login: success rate 0.0 %');
    const regions = await page
      .locator('[aria-live], [role="status"]')
      .evaluateAll((nodes) => nodes.map((node) => `${node.id} ${node.getAttribute('aria-live')}`));
    expect(regions).toEqual([
      'ws-status polite',
      'feed-status polite',
      'overall-status polite',
      'api-log-state polite',
      'announcer polite',
    ]);
    // This front has no event log: the page has said so once, and says nothing more of it.
    await expect
      .poll(() => page.locator('#api-log-state').textContent(), { timeout: 5_000 })
      .toBe('this load balancer has no event log');
    await page.evaluate(WATCH_LIVE_REGIONS);
    const changes = () => page.evaluate('window.__changes') as Promise<string[]>;
    // Five more updates with the same figures: nothing to announce.
    await sleep(1_500);
    expect(await changes()).toEqual([]);

    front.stats = () => stats({ success_rate: 50 });
    await expect.poll(() => page.locator('#overall-status').textContent(), { timeout: 5_000 }).toBe('WARNING');
    await sleep(1_500);
    const announced = await changes();
    expect(announced.filter((c) => c.startsWith('overall-status'))).toEqual(['overall-status: WARNING']);
    expect(announced.filter((c) => c.startsWith('announcer'))).toHaveLength(1);
    expect(announced.find((c) => c.startsWith('announcer'))).toContain('Success rate 50.0 % is below 95 %');
    expect(announced).toHaveLength(2);
  });

  it('raised no script errors', () => {
    expect(problems).toEqual([]);
  });
});
