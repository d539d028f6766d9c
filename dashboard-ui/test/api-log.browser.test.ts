import { setTimeout as sleep } from 'node:timers/promises';
import type { ApiCallEvent, DomainEvent, MessagingFields } from '@titanium/service-kit/events-contract';
import { artifactPath, launchChromium, type RunningService, startService } from '@titanium/test-support';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RouteEntry, StatsResponse } from '../web/src/stats-types.js';
import { FakeFront } from './fake-front.js';
import { stats as baseStats, ONLINE } from './stats-fixture.js';

const ROUTES: RouteEntry[] = [
  { route: 'GET /api/posts', requests_per_second: 4, success_rate: 100, p95_response_time_ms: 3 },
  { route: 'POST /api/login', requests_per_second: 1, success_rate: 50, p95_response_time_ms: 5 },
  { route: 'DELETE /api/posts/:id', requests_per_second: 0.1, success_rate: 100, p95_response_time_ms: 2 },
];

const HEALTHY_MESSAGING: MessagingFields['messaging'] = {
  type: 'memory',
  status: 'healthy',
  published: 120,
  dropped: 0,
  buffered: 0,
  last_error: null,
};

function stats(messaging: Partial<MessagingFields['messaging']> = {}, rest: Partial<StatsResponse> = {}) {
  return baseStats(
    { routes: ROUTES },
    { 'api-gateway': { ...ONLINE, messaging: { ...HEALTHY_MESSAGING, ...messaging } }, ...rest },
  );
}

let sequence = 0;
let lastAt = 0;

/** An API call answered `agoMs` before now, and after every call made before it (so their order is known). */
function apiCall(fields: Partial<ApiCallEvent> = {}, agoMs = 0): ApiCallEvent {
  const n = ++sequence;
  lastAt = Math.max(Date.now() - agoMs, lastAt + 1);
  return {
    kind: 'api',
    id: `call-${n}`,
    timestamp: new Date(lastAt).toISOString(),
    request_id: `req-${n}`,
    method: 'GET',
    endpoint: `/api/posts/${n}`,
    route: 'GET /api/posts/:id',
    status: 200,
    outcome: 'success',
    latency_ms: 2.25,
    user_id: null,
    username: null,
    message: `GET /api/posts/${n} 200`,
    ...fields,
  };
}

function failed(status: number, fields: Partial<ApiCallEvent> = {}): ApiCallEvent {
  return apiCall({ status, outcome: 'failure', ...fields });
}

/** `count` calls, the oldest first (as they happen), the newest `agoMs` before now. */
function calls(count: number, fields: Partial<ApiCallEvent> = {}, agoMs = 0): ApiCallEvent[] {
  return Array.from({ length: count }, (_, i) => apiCall(fields, agoMs + (count - i) * 5));
}

function domain(type: DomainEvent['type'], at: number, success = true): DomainEvent {
  const n = ++sequence;
  const base = { kind: 'domain' as const, id: `dom-${n}`, timestamp: new Date(at).toISOString(), source: 'test' };
  switch (type) {
    case 'user.created':
      return { ...base, type, data: { user_id: n, username: `user${n}` } };
    case 'user.login':
      return { ...base, type, data: { user_id: success ? n : null, username: success ? `user${n}` : null, success } };
    case 'post.created':
      return { ...base, type, data: { post_id: n, author_id: 1, title: 'Hello' } };
    case 'post.updated':
      return { ...base, type, data: { post_id: n, author_id: 1, title: 'Hello', fields: ['title'] } };
    case 'post.deleted':
      return { ...base, type, data: { post_id: n, author_id: 1 } };
  }
}

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

/** Every layout shift from the first paint on, as the browser reports it. */
const WATCH_SHIFTS = `
  window.__shifts = [];
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const nodes = (entry.sources ?? []).map(({ node }) =>
        node && node.nodeType === 1 ? node.tagName.toLowerCase() + '#' + node.id + '.' + node.className : 'text');
      window.__shifts.push({ value: entry.value, recentInput: entry.hadRecentInput, nodes });
    }
  }).observe({ type: 'layout-shift', buffered: true });
`;

/** Contrast (WCAG's formula) of each status class's text against its badge. */
const STATUS_CONTRAST = `(() => {
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
  const ratios = {};
  for (const node of document.querySelectorAll('#api-log-table .status-code')) {
    const style = getComputedStyle(node);
    ratios[node.dataset.class] = ratio(style.color, style.backgroundColor);
  }
  for (const id of ['api-log-state', 'activity-summary', 'messaging-dropped']) {
    const node = document.getElementById(id);
    let back = 'rgba(0, 0, 0, 0)';
    for (let at = node; at && back === 'rgba(0, 0, 0, 0)'; at = at.parentElement) back = getComputedStyle(at).backgroundColor;
    ratios[id] = ratio(getComputedStyle(node).color, back);
  }
  return ratios;
})()`;

// The real page from the real static server, behind a front playing a load balancer with the
// event log: its backlog on /logs/messaging and its live tail on /logs/messaging/stream.
describe('live API calls and activity in Chromium', () => {
  let dashboard: RunningService;
  let browser: Browser;
  let front: FakeFront;
  const pages: Page[] = [];
  const problems: string[] = [];
  const dialogs: string[] = [];

  async function open(options: { width?: number; dark?: boolean } = {}): Promise<Page> {
    const page = await browser.newPage({
      viewport: { width: options.width ?? 1280, height: 800 },
      colorScheme: options.dark ? 'dark' : 'light',
    });
    pages.push(page);
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !/Failed to load resource|WebSocket|EventSource/.test(msg.text())) {
        problems.push(`console: ${msg.text()}`);
      }
    });
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    await page.addInitScript(VISIBILITY_SWITCH);
    await page.addInitScript(WATCH_SHIFTS);
    await page.goto(`${front.url}/?poll=500`);
    return page;
  }

  const rowIds = (page: Page) =>
    page
      .locator('#api-log-table tbody tr[data-id]')
      .evaluateAll((rows) => rows.map((row) => row.getAttribute('data-id')));
  const rowCount = (page: Page) => page.locator('#api-log-table').getAttribute('data-rows').then(Number);
  const stateOf = (page: Page) => page.locator('#api-log-state').textContent();
  const live = (page: Page) => expect.poll(() => stateOf(page), { timeout: 10_000 }).toBe('event log: live (memory)');
  const newestFirst = (events: ApiCallEvent[]) => events.map((event) => event.id).reverse();

  beforeAll(async () => {
    [dashboard, browser] = await Promise.all([startService('dashboard-ui'), launchChromium()]);
  }, 60_000);

  beforeEach(async () => {
    front = await new FakeFront(dashboard.port).listen();
    front.streamMode = 'accept';
    front.eventLogMode = 'accept';
    front.stats = () => stats();
  });

  afterEach(async () => {
    for (const page of pages.splice(0)) await page.close();
    await front.close();
  });

  afterAll(async () => {
    await browser?.close();
    await dashboard?.stop();
  });

  it('fills from the backlog on load, then shows calls pushed on the stream within 2 s, newest first, at most 200', async () => {
    const backlog = calls(50, {}, 60_000);
    front.pushEvents(...backlog);
    const page = await open();
    await expect.poll(() => rowCount(page), { timeout: 10_000 }).toBe(50);
    expect(await rowIds(page)).toEqual(newestFirst(backlog));
    expect(front.eventLogQueries).toEqual(['?kind=api&limit=1', '?kind=api&limit=200', '?kind=domain&limit=1000']);
    await live(page);

    // One row as it reads: time, method, route template (and the path), status, latency, user, request id.
    const before = apiCall();
    const signedIn = apiCall({
      method: 'POST',
      route: 'POST /api/posts',
      endpoint: '/api/posts',
      status: 201,
      latency_ms: 12.5,
      user_id: 4,
      username: 'ana',
    });
    const pushed = [before, signedIn, failed(503)];
    const sent = Date.now();
    front.pushEvents(...pushed);
    await expect.poll(() => rowCount(page), { timeout: 2_000, interval: 50 }).toBe(53);
    expect(Date.now() - sent).toBeLessThan(2_000);
    expect((await rowIds(page)).slice(0, 3)).toEqual(newestFirst(pushed));
    const row = page.locator(`#api-log-table tr[data-id="${signedIn.id}"]`);
    expect(await row.locator('td').allTextContents()).toEqual([
      expect.stringMatching(/^\d\d:\d\d:\d\d\.\d{3}$/),
      'POST',
      '/api/posts/api/posts',
      '201',
      '12.5 ms',
      'ana',
      signedIn.request_id,
    ]);
    expect(await row.locator('.template').textContent()).toBe('/api/posts');
    expect(await row.locator('.path').textContent()).toBe('/api/posts');
    expect(await row.locator('.status-code').getAttribute('data-class')).toBe('2xx');
    expect(await page.locator(`tr[data-id="${pushed[0]?.id}"] td.user`).textContent()).toBe('—');
    expect(await page.locator(`tr[data-id="${pushed[2]?.id}"] .status-code`).getAttribute('data-class')).toBe('5xx');

    // Many more: still 200 rows, the newest on top.
    const burst = calls(250);
    front.pushEvents(...burst);
    await expect.poll(() => rowIds(page).then((ids) => ids[0]), { timeout: 2_000 }).toBe(burst.at(-1)?.id);
    expect(await rowCount(page)).toBe(200);
    expect(await rowIds(page)).toEqual(newestFirst(burst).slice(0, 200));
    // Fed by the stream, not by polling the log.
    await sleep(1_500);
    expect(front.eventLogQueries).toHaveLength(3);
    expect(front.eventStreamsOpened).toBe(1);
  });

  it('narrows the calls to failures, to one route, and to both, offering the routes seen and those the load balancer reports', async () => {
    const events = [
      apiCall({ route: 'GET /api/posts', endpoint: '/api/posts' }),
      failed(404, { route: 'GET /api/posts/:id' }),
      failed(401, { method: 'POST', route: 'POST /api/login', endpoint: '/api/login' }),
      apiCall({ method: 'POST', route: 'POST /api/login', endpoint: '/api/login' }),
      failed(502, { route: 'GET /api/posts', endpoint: '/api/posts' }),
      apiCall({ status: 304, route: 'GET /api/posts/:id' }),
    ];
    front.pushEvents(...events.slice(0, 3));
    const page = await open();
    await live(page);
    front.pushEvents(...events.slice(3));
    await expect.poll(() => rowCount(page), { timeout: 5_000 }).toBe(6);
    const options = () => page.locator('#api-log-route option').allTextContents();
    await expect
      .poll(options, { timeout: 5_000 })
      .toEqual(['all routes', 'POST /api/login', 'GET /api/posts', 'DELETE /api/posts/:id', 'GET /api/posts/:id']);
    const ids = (...picked: number[]) => picked.map((i) => events[i]?.id);

    await page.locator('#api-log-failures').check();
    expect(await rowIds(page)).toEqual(ids(4, 2, 1));
    await page.selectOption('#api-log-route', 'GET /api/posts');
    expect(await rowIds(page)).toEqual(ids(4));
    await page.locator('#api-log-failures').uncheck();
    expect(await rowIds(page)).toEqual(ids(4, 0));
    await page.selectOption('#api-log-route', 'DELETE /api/posts/:id');
    expect(await rowCount(page)).toBe(0);
    expect(await page.locator('#api-log-table tbody').textContent()).toBe('No call matches the filter.');
    // Filters hold for calls arriving later.
    await page.selectOption('#api-log-route', 'POST /api/login');
    await page.locator('#api-log-failures').check();
    const later = [failed(500, { method: 'POST', route: 'POST /api/login' }), apiCall({ route: 'POST /api/login' })];
    front.pushEvents(...later);
    await expect.poll(() => rowIds(page), { timeout: 2_000 }).toEqual([later[0]?.id, ...ids(2)]);
    await page.selectOption('#api-log-route', '');
    await page.locator('#api-log-failures').uncheck();
    await expect.poll(() => rowCount(page)).toBe(8);
  });

  it('shows markup in a path, a route and a user name as text, creating no element and running nothing', async () => {
    const hostile = failed(404, {
      endpoint: '/api/posts/<img src=x onerror=alert(1)>',
      route: 'other',
      username: '<script>window.__xss=1</script>',
      request_id: '<b>id</b>',
    });
    const page = await open();
    await live(page);
    front.pushEvents(hostile, apiCall({ route: '<img src=y onerror=alert(2)>' }));
    await expect.poll(() => rowCount(page), { timeout: 2_000 }).toBe(2);
    const row = page.locator(`#api-log-table tr[data-id="${hostile.id}"]`);
    expect(await row.locator('.path').textContent()).toBe('/api/posts/<img src=x onerror=alert(1)>');
    expect(await row.locator('.template').textContent()).toBe('other');
    expect(await row.locator('td.user').textContent()).toBe('<script>window.__xss=1</script>');
    expect(await row.locator('td.request-id').textContent()).toBe('<b>id</b>');
    expect(await page.locator('#api-log-route option').allTextContents()).toContain('<img src=y onerror=alert(2)>');
    expect(await page.locator('#api-log img, #api-log script, #api-log b').count()).toBe(0);
    await sleep(300);
    expect(dialogs).toEqual([]);
    expect(await page.evaluate('window.__xss ?? 0')).toBe(0);
  });

  it('holds the rows while paused, shows what arrives as "N new", and adds it on resume, still at most 200', async () => {
    const first = calls(150, {}, 10_000);
    front.pushEvents(...first);
    const page = await open();
    await live(page);
    await expect.poll(() => rowCount(page), { timeout: 5_000 }).toBe(150);
    const pause = page.locator('#api-log-pause');
    const held = page.locator('#api-log-new');
    expect(await held.textContent()).toBe('');
    await pause.click();
    expect(await pause.textContent()).toBe('Resume');
    expect(await held.textContent()).toBe('0 new');

    const meanwhile = [...calls(60), ...calls(40, { status: 500, outcome: 'failure' })];
    front.pushEvents(...meanwhile);
    await expect.poll(() => held.textContent(), { timeout: 2_000 }).toBe('100 new');
    expect(await rowIds(page)).toEqual(newestFirst(first));
    // The count follows the filter.
    await page.locator('#api-log-failures').check();
    expect(await held.textContent()).toBe('40 new');
    await page.locator('#api-log-failures').uncheck();
    expect(await held.textContent()).toBe('100 new');

    await pause.click();
    expect(await pause.textContent()).toBe('Pause');
    expect(await held.textContent()).toBe('');
    expect(await rowCount(page)).toBe(200);
    expect(await rowIds(page)).toEqual([...newestFirst(meanwhile), ...newestFirst(first)].slice(0, 200));
  });

  it('counts sign-ups, logins, failed logins and posts per minute over the last 30 minutes', async () => {
    // Clear of a minute's turn, so the page and the test put every event in the same minute.
    while (Date.now() % 60_000 > 50_000 || Date.now() % 60_000 < 2_000) await sleep(500);
    const minute = Math.floor(Date.now() / 60_000) * 60_000;
    const at = (minutesAgo: number) => minute - minutesAgo * 60_000 + 1_000;
    front.pushEvents(
      domain('user.created', at(31)), // before the range: not counted
      domain('user.created', at(29)),
      domain('user.created', at(29)),
      domain('user.login', at(20)),
      domain('user.login', at(20), false),
      domain('user.login', at(20), false),
      domain('post.created', at(10)),
      domain('post.updated', at(10)), // not counted
      domain('post.deleted', at(10)), // not counted
      ...calls(3), // API calls are not activity
    );
    const page = await open();
    await live(page);
    const canvas = page.locator('#activityChart');
    const series = async (name: string) => ((await canvas.getAttribute(`data-${name}`)) ?? '').split(',').map(Number);
    const expected = (marks: Record<number, number>) => Array.from({ length: 30 }, (_, i) => marks[29 - i] ?? 0);
    await expect.poll(() => series('signups'), { timeout: 5_000 }).toEqual(expected({ 29: 2 }));
    expect(await series('logins')).toEqual(expected({ 20: 1 }));
    expect(await series('failed-logins')).toEqual(expected({ 20: 2 }));
    expect(await series('posts')).toEqual(expected({ 10: 1 }));
    expect(await page.locator('#activity-summary').textContent()).toBe(
      'last 30 min: 2 sign-ups · 1 login · 2 failed logins · 1 post',
    );

    // Live from the stream, into the current minute; a second copy of an event counts once.
    const signup = domain('user.created', Date.now());
    front.pushEvents(signup, domain('user.login', Date.now(), false), domain('post.created', Date.now()));
    front.pushEvents(signup);
    await expect
      .poll(() => page.locator('#activity-summary').textContent(), { timeout: 2_000 })
      .toBe('last 30 min: 3 sign-ups · 1 login · 3 failed logins · 2 posts');
    expect(await series('signups')).toEqual(expected({ 29: 2, 0: 1 }));
    expect(await series('failed-logins')).toEqual(expected({ 20: 2, 0: 1 }));
    expect(await canvas.getAttribute('data-series')).toBe('Sign-ups, Logins, Failed logins, Posts');
  });

  it("shows the gateway's messaging: type, status, buffered and dropped (marked above 0), and outboxes holding events", async () => {
    front.stats = () =>
      stats(
        {
          type: 'redis',
          status: 'failing',
          buffered: 17,
          dropped: 3,
          last_error: 'connect ECONNREFUSED 127.0.0.1:6379',
        },
        {
          user_service: { ...ONLINE, outbox: { pending: 4, oldest_pending_age_s: 12.4 } },
          blog_service: { ...ONLINE, outbox: { pending: 0, oldest_pending_age_s: null } },
        },
      );
    const page = await open();
    const text = (id: string) => page.locator(`#${id}`).textContent();
    await expect.poll(() => text('messaging-type'), { timeout: 10_000 }).toBe('redis');
    expect(await text('messaging-status')).toBe('failing');
    expect(await page.locator('#messaging-status').getAttribute('data-state')).toBe('offline');
    expect(await text('messaging-buffered')).toBe('17');
    expect(await text('messaging-dropped')).toBe('3');
    expect(await page.locator('#messaging-dropped').getAttribute('data-alert')).toBe('true');
    expect(await text('messaging-outbox')).toBe('user-service 4 pending (oldest 12 s)');
    expect(await text('messaging-error')).toBe('connect ECONNREFUSED 127.0.0.1:6379');

    front.stats = () => stats({ buffered: 0, dropped: 0 });
    await expect.poll(() => text('messaging-dropped'), { timeout: 5_000 }).toBe('0');
    expect(await page.locator('#messaging-dropped').getAttribute('data-alert')).toBe('false');
    expect(await text('messaging-status')).toBe('healthy');
    expect(await text('messaging-outbox')).toBe('none pending');
    expect(await text('messaging-error')).toBe('–');

    // A gateway that reports no messaging (older, or offline).
    front.stats = () => baseStats({ routes: ROUTES });
    await expect.poll(() => text('messaging-status'), { timeout: 5_000 }).toBe('not reported');
    expect(await text('messaging-dropped')).toBe('–');
  });

  it('says the event log needs the OPS token on a 401, and stops asking', async () => {
    front.eventLogMode = 'unauthorized';
    const page = await open();
    await expect.poll(() => stateOf(page), { timeout: 10_000 }).toBe('the event log needs the OPS token');
    expect(await page.locator('#api-log-state').getAttribute('data-state')).toBe('token');
    expect(await page.locator('#api-log-table tbody').textContent()).toBe(
      'No calls to show: the event log needs the OPS token.',
    );
    expect(await page.locator('#logs-container').textContent()).toContain(
      'Event log: the event log needs the OPS token',
    );
    await sleep(5_000);
    expect(front.eventLogQueries).toEqual(['?kind=api&limit=1']);
    expect(front.eventStreamsOpened).toBe(0);
    // The rest of the page works on.
    expect(await page.locator('#feed-status').textContent()).toBe('live: stream');
  });

  it('says the event log is off when its type is none, and opens no stream', async () => {
    front.eventLogType = 'none';
    front.stats = () => stats({ type: 'none', status: 'off' });
    const page = await open();
    await expect.poll(() => stateOf(page), { timeout: 10_000 }).toBe('the event log is off (messaging type none)');
    expect(await page.locator('#api-log-state').getAttribute('data-state')).toBe('off');
    await expect.poll(() => page.locator('#messaging-status').textContent(), { timeout: 5_000 }).toBe('off');
    expect(await page.locator('#messaging-type').textContent()).toBe('none');
    await sleep(3_000);
    expect(front.eventStreamsOpened).toBe(0);
    expect(front.eventLogQueries).toHaveLength(1);
  });

  it('says "event log unavailable, retrying" while the stream fails, and reconnects by itself, catching up', async () => {
    front.eventLogMode = 'refuse-stream';
    const page = await open();
    await expect.poll(() => stateOf(page), { timeout: 10_000 }).toBe('event log unavailable, retrying');
    expect(await page.locator('#api-log-state').getAttribute('data-state')).toBe('retrying');
    expect(await page.locator('#api-log-state').getAttribute('title')).toBe(
      'event log unavailable, retrying (stream unavailable)',
    );
    front.eventLogMode = 'accept';
    await live(page);
    expect(front.openEventStreams).toBe(1);

    // The load balancer restarts: the stream drops; what happened meanwhile comes from the backlog.
    front.eventLogMode = 'failing';
    front.cutEventStreams();
    await expect.poll(() => stateOf(page), { timeout: 5_000 }).toBe('event log unavailable, retrying');
    const meanwhile = calls(5);
    front.pushEvents(...meanwhile);
    front.eventLogMode = 'accept';
    await live(page);
    await expect.poll(() => rowIds(page), { timeout: 5_000 }).toEqual(newestFirst(meanwhile));
    expect(await page.locator('#logs-container').textContent()).toContain('Event log back');
  });

  it('closes the stream while the tab is hidden, makes no request, and catches up from the log when shown', async () => {
    const page = await open();
    await live(page);
    expect(front.openEventStreams).toBe(1);
    await page.evaluate('window.__setHidden(true)');
    await expect.poll(() => front.openEventStreams, { timeout: 5_000 }).toBe(0);
    expect(await stateOf(page)).toBe('event log: paused while hidden');
    const requests = front.requests;
    const seen: string[] = [];
    page.on('request', (request) => seen.push(request.url()));
    const meanwhile = [...calls(4), domain('user.created', Date.now())];
    front.pushEvents(...meanwhile);
    await sleep(3_000);
    expect(seen).toEqual([]);
    expect(front.requests).toBe(requests);

    await page.evaluate('window.__setHidden(false)');
    await live(page);
    await expect.poll(() => rowCount(page), { timeout: 5_000 }).toBe(4);
    await expect.poll(() => page.locator('#activity-summary').textContent(), { timeout: 5_000 }).toContain('1 sign-up');
    expect(front.openEventStreams).toBe(1);
    expect(seen.filter((url) => url.includes('/logs/messaging?')).map((url) => new URL(url).search)).toEqual([
      '?kind=api&limit=1',
      '?kind=api&limit=200',
      '?kind=domain&limit=1000',
    ]);
  });

  it('closes the stream while monitoring is paused, and catches up on resume', async () => {
    const page = await open();
    await live(page);
    await page.locator('#toggle-monitoring-btn').click();
    await expect.poll(() => front.openEventStreams, { timeout: 5_000 }).toBe(0);
    expect(await stateOf(page)).toBe('event log: paused');
    const meanwhile = calls(3);
    front.pushEvents(...meanwhile);
    await page.locator('#toggle-monitoring-btn').click();
    await live(page);
    await expect.poll(() => rowIds(page), { timeout: 5_000 }).toEqual(newestFirst(meanwhile));
  });

  it('works its controls by keyboard, each with a visible focus ring, and announces only state changes', async () => {
    const page = await open();
    await live(page);
    const reached = new Map<string, { outline: string; width: number }>();
    const wanted = ['api-log-failures', 'api-log-route', 'api-log-pause'];
    for (let i = 0; i < 60 && reached.size < wanted.length; i++) {
      await page.keyboard.press('Tab');
      const focused = (await page.evaluate(`(() => {
        const node = document.activeElement;
        const style = node ? getComputedStyle(node) : undefined;
        return node ? { id: node.id, outline: style.outlineStyle, width: parseFloat(style.outlineWidth) } : null;
      })()`)) as { id: string; outline: string; width: number } | null;
      if (focused && wanted.includes(focused.id)) reached.set(focused.id, focused);
    }
    expect([...reached.keys()]).toEqual(wanted);
    for (const [id, { outline, width }] of reached) {
      expect(outline, id).not.toBe('none');
      expect(width, id).toBeGreaterThanOrEqual(2);
    }
    front.pushEvents(apiCall(), failed(500));
    await expect.poll(() => rowCount(page), { timeout: 2_000 }).toBe(2);
    await page.locator('#api-log-failures').focus();
    await page.keyboard.press('Space');
    await expect.poll(() => rowCount(page)).toBe(1);
    await page.keyboard.press('Space');
    await expect.poll(() => rowCount(page)).toBe(2);
    await page.locator('#api-log-pause').focus();
    await page.keyboard.press('Enter');
    expect(await page.locator('#api-log-pause').textContent()).toBe('Resume');
    await page.keyboard.press('Space');
    expect(await page.locator('#api-log-pause').textContent()).toBe('Pause');

    // Calls arriving are not announced; the event log's state is, politely, when it changes.
    expect(await page.locator('#api-log-state').getAttribute('aria-live')).toBe('polite');
    expect(await page.locator('#api-log [aria-live]').count()).toBe(1);
    await page.evaluate(`(() => {
      window.__changes = [];
      const observer = new MutationObserver((records) => {
        for (const record of records) {
          const node = record.target.nodeType === 1 ? record.target : record.target.parentElement;
          window.__changes.push(node?.closest('[aria-live]')?.id);
        }
      });
      for (const node of document.querySelectorAll('[aria-live]')) {
        observer.observe(node, { childList: true, characterData: true, subtree: true });
      }
    })()`);
    front.pushEvents(...calls(20), domain('user.created', Date.now()));
    await expect.poll(() => rowCount(page), { timeout: 2_000 }).toBe(22);
    expect(await page.evaluate('window.__changes')).toEqual([]);
    front.eventLogMode = 'failing';
    front.cutEventStreams();
    await expect.poll(() => stateOf(page), { timeout: 5_000 }).toBe('event log unavailable, retrying');
    expect(await page.evaluate('window.__changes')).toEqual(['api-log-state']);
  });

  it('fits 1280 and 375 px in light and dark, status colours readable, nothing shifting as calls and states change', async () => {
    front.stats = () =>
      stats(
        { type: 'redis', dropped: 2, buffered: 5 },
        { user_service: { ...ONLINE, outbox: { pending: 1, oldest_pending_age_s: 3 } } },
      );
    const mixed = () => [
      apiCall({ username: 'ana' }),
      apiCall({ status: 302 }),
      failed(404),
      failed(503, { endpoint: `/api/posts/${'x'.repeat(120)}` }),
      apiCall({ status: 101 }),
    ];
    const now = Date.now();
    front.pushEvents(
      ...calls(30, {}, 120_000),
      ...mixed(),
      domain('user.created', now - 25 * 60_000),
      domain('user.login', now - 12 * 60_000),
      domain('user.login', now - 12 * 60_000, false),
      domain('post.created', now - 5 * 60_000),
    );
    for (const width of [1280, 375]) {
      for (const dark of [false, true]) {
        const page = await open({ width, dark });
        const theme = dark ? 'dark' : 'light';
        await live(page);
        await expect.poll(() => rowCount(page), { timeout: 5_000 }).toBeGreaterThanOrEqual(35);
        await expect.poll(() => page.locator('#messaging-dropped').textContent(), { timeout: 5_000 }).toBe('2');
        expect(await page.locator('#activityChart').getAttribute('data-theme')).toBe(theme);
        // Calls keep coming, the panel pauses and resumes, the stream drops and comes back.
        for (let i = 0; i < 5; i++) {
          front.pushEvents(...mixed());
          await sleep(100);
        }
        await page.locator('#api-log-pause').click();
        front.pushEvents(...calls(10));
        await expect.poll(() => page.locator('#api-log-new').textContent(), { timeout: 2_000 }).toBe('10 new');
        await page.locator('#api-log-pause').click();
        front.cutEventStreams();
        await expect.poll(() => stateOf(page), { timeout: 5_000 }).not.toBe('event log: live (memory)');
        await live(page);
        // Every status class at the top of the screenshot.
        const last = mixed();
        front.pushEvents(...last);
        await expect.poll(() => rowIds(page).then((ids) => ids[0]), { timeout: 2_000 }).toBe(last.at(-1)?.id);
        const ratios = (await page.evaluate(STATUS_CONTRAST)) as Record<string, number>;
        expect(Object.keys(ratios).sort()).toEqual(
          ['1xx', '2xx', '3xx', '4xx', '5xx', 'activity-summary', 'api-log-state', 'messaging-dropped'].sort(),
        );
        for (const [what, ratio] of Object.entries(ratios))
          expect(ratio, `${what} ${theme}`).toBeGreaterThanOrEqual(4.5);
        expect(await page.evaluate('document.documentElement.scrollWidth > window.innerWidth')).toBe(false);
        const shifts = (await page.evaluate('window.__shifts')) as { value: number; recentInput: boolean }[];
        const counted = shifts.filter((shift) => !shift.recentInput);
        const total = counted.reduce((sum, shift) => sum + shift.value, 0);
        expect(total, `${width} px ${theme}: ${JSON.stringify(counted)}`).toBeLessThan(0.01);
        await page.screenshot({ path: artifactPath(`dashboard-api-log-${width}-${theme}.png`), fullPage: true });
        // The two panels alone, at full size, for a closer look.
        const clip = (await page.evaluate(`(() => {
          const [a, b] = ['#api-log', 'section.activity'].map((s) => document.querySelector(s).getBoundingClientRect());
          const top = Math.min(a.top, b.top) + window.scrollY - 8;
          return { x: 0, y: top, width: window.innerWidth, height: Math.max(a.bottom, b.bottom) + window.scrollY + 8 - top };
        })()`)) as { x: number; y: number; width: number; height: number };
        await page.screenshot({
          path: artifactPath(`dashboard-api-log-panels-${width}-${theme}.png`),
          clip,
          fullPage: true,
        });
        await page.close();
      }
    }
  });

  it('raised no script errors', () => {
    expect(problems).toEqual([]);
  });
});
