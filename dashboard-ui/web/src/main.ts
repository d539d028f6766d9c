import { historyCsv } from '@titanium/service-kit/history-csv';
import type { STATS_STREAM_EVENT } from '@titanium/service-kit/stats-contract';
import { ActivityCounter } from './activity.js';
import { ActivityChart } from './activity-chart.js';
import { type Alert, AlertTracker } from './alerts.js';
import { ApiLogPanel } from './api-log-panel.js';
import { BoundedList } from './bounded-list.js';
import { ThroughputChart } from './chart.js';
import { el, marker, setState, setText, span } from './dom.js';
import { EventLogFeed, type EventLogState, eventLogText } from './event-feed.js';
import { openEventSource } from './event-source.js';
import type { ApiCall, LogEvent } from './events.js';
import { clock, ms, percent } from './format.js';
import { Heartbeat, type HeartbeatState } from './heartbeat.js';
import { exportFileName, fetchHistory, historyJson, isRangeKey, RANGES, type RangeKey } from './history.js';
import { type FeedMode, LiveFeed } from './live-feed.js';
import { messagingView } from './messaging.js';
import { renderMessaging } from './messaging-panel.js';
import { Poller } from './poller.js';
import { WORST_ROUTE_RULE } from './routes.js';
import { RoutesTable } from './routes-table.js';
import { ChartSeries, type Phase } from './series.js';
import type { StatsResponse } from './stats-types.js';
import { SUCCESS_RATE_THRESHOLD, type Summary, summarize } from './status.js';
import { renderUpstreams } from './upstreams-panel.js';
import { chartLabel } from './window-text.js';

const params = new URLSearchParams(location.search);
/** How often `/stats` is polled while the stream is down. */
const POLL_MS = Math.max(500, Number(params.get('poll')) || 2000);
// The most points the chart keeps, whatever the range (a day at one a minute fits).
const CHART_POINTS = Math.min(3600, Math.max(2, Math.floor(Number(params.get('points'))) || 2000));
// The load balancer answers /stats within about 2.2 s even when a service hangs.
const TIMEOUT_MS = Math.max(POLL_MS, 5000);
// The stream sends every second; this long without an event (longer once it has been slow), it is taken as lost.
const STALE_MS = Math.max(3000, 2 * POLL_MS);
const P95_ALERT_PARAM = params.get('p95_alert_ms');
const P95_ALERT_MS = Number(P95_ALERT_PARAM) > 0 ? Number(P95_ALERT_PARAM) : undefined;
// The contract's event name, checked against it: the page may take only types from the kit.
const STREAM_EVENT = 'stats' satisfies typeof STATS_STREAM_EVENT;
const HEARTBEAT_KEY = 'titanium.wsHeartbeat';

const view = {
  overall: el('overall-status'),
  active: el('active-services'),
  rps: el('current-rps'),
  avg: el('avg-response-time'),
  p95: el('p95-response-time'),
  p99: el('p99-response-time'),
  success: el('success-rate'),
  scope: el('stats-scope'),
  updated: el<HTMLTimeElement>('last-updated'),
  services: el('server-list'),
  db: el('db-status'),
  cache: el('cache-status'),
  hitRatio: el('cache-hit-ratio'),
  alerts: el('alerts-container'),
  announcer: el('announcer'),
  alertsEmpty: el('alerts-empty'),
  logs: el('logs-container'),
  monitoringBtn: el<HTMLButtonElement>('toggle-monitoring-btn'),
  refreshBtn: el<HTMLButtonElement>('refresh-btn'),
  heartbeatBtn: el<HTMLButtonElement>('toggle-ws-heartbeat-btn'),
  wsStatus: el('ws-status'),
  feedStatus: el('feed-status'),
  range: el<HTMLSelectElement>('history-range'),
  historyStatus: el('history-status'),
  exportCsv: el<HTMLButtonElement>('export-csv-btn'),
  exportJson: el<HTMLButtonElement>('export-json-btn'),
  routesNote: el('routes-note'),
  upstreams: el('upstreams-list'),
  eventLogState: el('api-log-state'),
  messaging: {
    type: el('messaging-type'),
    status: el('messaging-status'),
    buffered: el('messaging-buffered'),
    dropped: el('messaging-dropped'),
    outbox: el('messaging-outbox'),
    lastError: el('messaging-error'),
  },
};

const chartCanvas = el<HTMLCanvasElement>('throughputChart');
const series = new ChartSeries({ capacity: CHART_POINTS, liveIntervalMs: POLL_MS });
const chart = new ThroughputChart(chartCanvas, series);
const routesTable = new RoutesTable(el<HTMLTableElement>('routes-table'));
const alerts = new AlertTracker(50, { routeP95Ms: P95_ALERT_MS });
const logs = new BoundedList<{ at: Date; level: 'info' | 'error'; message: string }>(100);
const apiLog = new ApiLogPanel({
  table: el<HTMLTableElement>('api-log-table'),
  failures: el<HTMLInputElement>('api-log-failures'),
  route: el<HTMLSelectElement>('api-log-route'),
  pause: el<HTMLButtonElement>('api-log-pause'),
  held: el('api-log-new'),
});
const activity = new ActivityCounter();
const activityChart = new ActivityChart(el<HTMLCanvasElement>('activityChart'), el('activity-summary'), activity);

/** One feed entry (alert or log line), built from text nodes only. */
function feedItem(at: Date, level: string, message: string): HTMLLIElement {
  const li = document.createElement('li');
  li.dataset.level = level;
  const time = document.createElement('time');
  time.dateTime = at.toISOString();
  time.textContent = clock(at);
  li.append(time, span('message', message));
  return li;
}

function log(level: 'info' | 'error', message: string): void {
  logs.add({ at: new Date(), level, message });
  view.logs.replaceChildren(...logs.items.map((entry) => feedItem(entry.at, entry.level, entry.message)));
}

function renderAlerts(raised: Alert[]): void {
  if (raised.length === 0) return;
  view.alerts.replaceChildren(...alerts.alerts.items.map((a) => feedItem(a.at, a.level, a.message)));
  view.alertsEmpty.hidden = alerts.alerts.items.length > 0;
  announce(raised.map((alert) => alert.message).join('. '));
}

/** Tells screen readers of one change, once (a polite live region that only ever gains a line). */
function announce(message: string): void {
  const line = document.createElement('p');
  line.textContent = message;
  view.announcer.append(line);
  while (view.announcer.childElementCount > 5) view.announcer.firstElementChild?.remove();
}

function renderServices(summary: Summary): void {
  const items = summary.services.map((service) => {
    const li = document.createElement('li');
    const state = service.state.toLowerCase();
    li.dataset.state = state;
    li.dataset.service = service.key;
    const badge = span('state');
    setState(badge, service.state, state);
    li.append(marker('dot'), span('name', service.name), badge);
    if (service.detail && service.state !== 'Online') li.append(span('detail', service.detail));
    return li;
  });
  view.services.replaceChildren(...items);
}

const NOT_CONNECTED = 'Not connected: no figures to show.';

function render(summary: Summary, at: Date): void {
  setState(view.overall, summary.overall, summary.overall.toLowerCase());
  const connected = summary.overall !== 'DISCONNECTED';
  setText(view.active, connected ? `${summary.active}/${summary.total}` : `–/${summary.total}`);
  setText(view.rps, connected ? summary.rps.toFixed(1) : '–');
  setText(view.avg, connected ? ms(summary.avgMs) : '–');
  setText(view.p95, connected ? ms(summary.p95Ms) : '–');
  setText(view.p99, connected ? ms(summary.p99Ms) : '–');
  setText(view.success, connected ? percent(summary.successRate) : '–');
  setText(
    view.scope,
    connected
      ? summary.scope === 'cluster'
        ? `cluster of ${summary.instances} load balancer${summary.instances === 1 ? '' : 's'}`
        : 'one load balancer'
      : 'not connected',
  );
  if (connected) {
    view.updated.dateTime = at.toISOString();
    setText(view.updated, clock(at));
  }
  renderServices(summary);
  setState(view.db, summary.database, summary.database === 'ONLINE' ? 'online' : summary.database.toLowerCase());
  setState(view.cache, summary.cache, summary.cache === 'ONLINE' ? 'online' : summary.cache.toLowerCase());
  setText(
    view.hitRatio,
    summary.cacheHitRatio === undefined || !connected ? '–' : `${(summary.cacheHitRatio * 100).toFixed(1)} %`,
  );
  routesTable.show(
    summary.routes ?? [],
    !connected
      ? NOT_CONNECTED
      : summary.routes === undefined
        ? 'This load balancer reports no routes.'
        : 'No API traffic in the last 10 s.',
  );
  renderUpstreams(
    view.upstreams,
    summary.upstreams,
    connected ? 'This load balancer reports no upstreams.' : NOT_CONNECTED,
  );
}

let connection: 'unknown' | 'up' | 'down' = 'unknown';

function onStats(stats: StatsResponse | undefined, error?: Error): void {
  const at = new Date();
  const summary = summarize(stats);
  if (stats && connection !== 'up')
    log('info', connection === 'down' ? 'Reconnected to /stats' : 'Connected to /stats');
  if (!stats && connection !== 'down') log('error', `Lost /stats: ${error?.message ?? 'no answer'}`);
  connection = stats ? 'up' : 'down';
  render(summary, at);
  renderMessaging(view.messaging, stats ? messagingView(stats) : undefined);
  if (summary.routes) apiLog.addRoutes(summary.routes.map((route) => route.route));
  const raised = alerts.update(summary, at);
  for (const alert of raised) if (alert.level === 'info') log('info', `Recovery: ${alert.message}`);
  renderAlerts(raised);
  const phase: Phase = !stats ? 'down' : summary.hasTraffic ? 'traffic' : 'idle';
  const traffic = phase === 'traffic';
  series.addLive({
    at,
    phase,
    rps: stats ? summary.rps : null,
    avgMs: traffic ? summary.avgMs : null,
    p95Ms: traffic ? summary.p95Ms : null,
    p99Ms: traffic ? summary.p99Ms : null,
  });
  chart.render(at.getTime());
}

const poller = new Poller<StatsResponse>({
  url: '/stats',
  intervalMs: POLL_MS,
  timeoutMs: TIMEOUT_MS,
  onResult: onStats,
});

const feedText: Record<FeedMode, string> = {
  connecting: 'live: connecting…',
  stream: 'live: stream',
  polling: `live: polling every ${POLL_MS / 1000} s`,
  // Not reached: this feed polls while its stream is down, and /stats is never refused for good.
  retrying: 'live: retrying',
  stopped: 'live: stopped',
  paused: 'paused',
  hidden: 'paused while hidden',
};

const feed = new LiveFeed<StatsResponse>({
  openStream: (handlers) =>
    openEventSource(
      {
        url: '/stats/stream',
        event: STREAM_EVENT,
        read: (value) => (typeof value === 'object' && value !== null ? (value as StatsResponse) : undefined),
        unreadable: 'fail',
        // It sends the figures at once and every second: open but silent is not live.
        liveOn: 'data',
      },
      handlers,
    ),
  poller,
  onData: (stats) => onStats(stats),
  // A silent stream is as lost as a poll without answer: the figures shown are no longer current.
  onStale: (detail) => onStats(undefined, new Error(detail)),
  onMode(mode, previous, detail) {
    setText(view.feedStatus, feedText[mode]);
    view.feedStatus.title = detail ? `${feedText[mode]} (${detail})` : feedText[mode];
    if (mode === 'stream')
      log('info', previous === 'polling' ? 'Live stream back; polling stopped' : 'Live stream connected');
    if (mode === 'polling') {
      const reason = detail ?? 'stream down';
      if (previous === 'stream') log('error', `Live stream lost (${reason}); polling /stats every ${POLL_MS / 1000} s`);
      else log('info', `Live stream unavailable (${reason}); polling /stats every ${POLL_MS / 1000} s`);
    }
  },
  staleMs: STALE_MS,
});

function onEvents(events: readonly LogEvent[]): void {
  const calls: ApiCall[] = [];
  const now = Date.now();
  let counted = false;
  for (const event of events) {
    if (event.kind === 'api') calls.push(event.call);
    else counted = activity.add(event.event, now) || counted;
  }
  apiLog.add(calls);
  if (counted) activityChart.schedule();
}

let eventLogShown: EventLogState['kind'] | undefined;

function onEventLogState(state: EventLogState): void {
  const { text, kind } = eventLogText(state);
  setState(view.eventLogState, text, kind);
  view.eventLogState.title = state.kind === 'retrying' ? `${text} (${state.detail})` : text;
  apiLog.setIdleText(state.kind === 'stopped' ? `No calls to show: ${text}.` : 'No API calls yet.');
  if (state.kind === 'live' && eventLogShown !== 'live') {
    log('info', eventLogShown === 'retrying' ? 'Event log back' : 'Event log connected');
  }
  if (state.kind === 'retrying') log('error', `Event log unavailable (${state.detail}); retrying`);
  if (state.kind === 'stopped') log(state.reason === 'token' ? 'error' : 'info', `Event log: ${text}`);
  eventLogShown = state.kind;
}

const eventLog = new EventLogFeed({ onEvents, onState: onEventLogState, timeoutMs: TIMEOUT_MS });

let historyRequest: AbortController | undefined;
let historyProblem: string | undefined;

/**
 * Loads the shown range's history into the chart (on load, on a range switch, and to catch up
 * after the page was hidden or paused). Resolves false when there was none to be had.
 */
async function loadHistory(): Promise<boolean> {
  historyRequest?.abort();
  const request = new AbortController();
  historyRequest = request;
  const range = series.range;
  try {
    const history = await fetchHistory(range, AbortSignal.any([request.signal, AbortSignal.timeout(TIMEOUT_MS)]));
    if (request !== historyRequest) return false;
    series.loadHistory(history, Date.now());
    chart.render();
    const scope = history.scope === 'cluster' ? 'cluster' : history.scope === 'instance' ? 'one load balancer' : '';
    setText(
      view.historyStatus,
      `history: ${history.points.length} slots of ${history.resolutionSeconds} s${scope ? ` · ${scope}` : ''}, then live`,
    );
    if (historyProblem !== undefined) log('info', 'History available again');
    historyProblem = undefined;
    return true;
  } catch (err) {
    if (request.signal.aborted) return false;
    const reason =
      err instanceof Error
        ? err.name === 'TimeoutError'
          ? `no answer within ${TIMEOUT_MS} ms`
          : err.message
        : 'failed';
    setText(view.historyStatus, `history unavailable (${reason}): live updates only`);
    if (historyProblem !== reason) log('error', `History unavailable: ${reason}`);
    historyProblem = reason;
    return false;
  } finally {
    if (historyRequest === request) historyRequest = undefined;
  }
}

/** Downloads the shown range's history, as fresh as the load balancer has it. */
async function exportHistory(format: 'csv' | 'json'): Promise<void> {
  await loadHistory();
  const history = series.history;
  const points = series.historyPoints();
  if (!history || points.length === 0) {
    log('error', `Nothing to export: no history for the last ${series.range.label}`);
    return;
  }
  const body = format === 'csv' ? historyCsv(points) : historyJson(history, points);
  const type = format === 'csv' ? 'text/csv;charset=utf-8' : 'application/json';
  const url = URL.createObjectURL(new Blob([body], { type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = exportFileName(history.range, format, new Date());
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  log('info', `Exported ${points.length} slots of history as ${format.toUpperCase()}`);
}

function showRange(key: RangeKey): void {
  const range = RANGES[key];
  series.setRange(range, Date.now());
  chartCanvas.setAttribute('aria-label', chartLabel(range.durationMs));
  chart.render();
}

for (const range of Object.values(RANGES)) view.range.add(new Option(range.label, range.key));
view.range.value = series.range.key;
chartCanvas.setAttribute('aria-label', chartLabel(series.range.durationMs));
view.range.addEventListener('change', () => {
  if (!isRangeKey(view.range.value)) return;
  showRange(view.range.value);
  void loadHistory();
});
view.exportCsv.addEventListener('click', () => void exportHistory('csv'));
view.exportJson.addEventListener('click', () => void exportHistory('json'));

view.routesNote.textContent =
  `“worst”: ${WORST_ROUTE_RULE}. A route alerts below ${SUCCESS_RATE_THRESHOLD} % success` +
  (P95_ALERT_MS === undefined ? '.' : ` or above ${ms(P95_ALERT_MS)} p95.`);
if (P95_ALERT_PARAM !== null && P95_ALERT_MS === undefined) {
  log('error', `Ignored ?p95_alert_ms=${P95_ALERT_PARAM}: not a number of milliseconds above 0`);
}

function showMonitoring(): void {
  view.monitoringBtn.textContent = feed.running ? 'Pause monitoring' : 'Resume monitoring';
  view.monitoringBtn.setAttribute('aria-pressed', String(feed.running));
}

view.monitoringBtn.addEventListener('click', () => {
  if (feed.running) {
    feed.pause();
    eventLog.pause();
    historyRequest?.abort();
    log('info', 'Monitoring paused');
  } else {
    feed.start();
    eventLog.start();
    log('info', 'Monitoring resumed');
    void loadHistory();
  }
  showMonitoring();
});

view.refreshBtn.addEventListener('click', () => {
  log('info', 'Refresh requested');
  void poller.pollNow();
});

const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/ws-heartbeat`;
const heartbeatText: Record<HeartbeatState, string> = {
  off: 'heartbeat off',
  connecting: 'heartbeat connecting…',
  connected: 'heartbeat connected',
  waiting: 'heartbeat reconnecting…',
};
/** The heartbeat is on but closed while the tab is hidden (see the visibility handler). */
let heartbeatSuspended = false;
const heartbeat = new Heartbeat({
  url: wsUrl,
  connect: (url) => new WebSocket(url),
  onState(state, detail) {
    const text =
      state === 'off' && heartbeatSuspended
        ? 'heartbeat paused while hidden'
        : detail && state === 'waiting'
          ? `heartbeat ${detail}`
          : heartbeatText[state];
    setText(view.wsStatus, text);
    // The box has a fixed width and may cut the text short; the whole text stays at hand.
    view.wsStatus.title = text;
    if (state === 'connected') log('info', 'WS heartbeat connected');
    if (state === 'waiting') log('error', `WS heartbeat ${detail ?? 'closed'}`);
  },
});

function setHeartbeat(on: boolean): void {
  heartbeatSuspended = on && document.visibilityState === 'hidden';
  if (heartbeatSuspended) setText(view.wsStatus, 'heartbeat paused while hidden');
  else if (on) heartbeat.enable();
  else heartbeat.disable();
  view.heartbeatBtn.textContent = `WS heartbeat: ${on ? 'ON' : 'OFF'}`;
  view.heartbeatBtn.setAttribute('aria-pressed', String(on));
  try {
    localStorage.setItem(HEARTBEAT_KEY, on ? 'on' : 'off');
  } catch {
    // Storage can be unavailable (private mode, policy); the toggle still works for this page.
  }
}

view.heartbeatBtn.addEventListener('click', () => {
  const on = !(heartbeat.enabled || heartbeatSuspended);
  setHeartbeat(on);
  log('info', `WS heartbeat turned ${on ? 'on' : 'off'}`);
});

function storedHeartbeat(): boolean {
  try {
    return localStorage.getItem(HEARTBEAT_KEY) === 'on';
  } catch {
    return false;
  }
}

/**
 * A hidden tab makes no requests at all: the streams close, polling and retries stop, and so
 * does the WebSocket heartbeat, which is traffic too (the server pings it every 5 s). A hidden
 * dashboard is not being watched, so it should not count as activity either. When the tab is
 * shown again, the heartbeat reopens if it was on, the chart catches up from history and the
 * event log from its backlog.
 */
function onVisibility(): void {
  const hidden = document.visibilityState === 'hidden';
  eventLog.setHidden(hidden);
  if (hidden) {
    historyRequest?.abort();
    feed.setHidden(true);
    if (heartbeat.enabled) {
      heartbeatSuspended = true;
      heartbeat.disable();
    }
    return;
  }
  feed.setHidden(false);
  if (heartbeatSuspended) {
    heartbeatSuspended = false;
    heartbeat.enable();
  }
  if (feed.running) void loadHistory();
}

document.addEventListener('visibilitychange', onVisibility);
feed.setHidden(document.visibilityState === 'hidden');
eventLog.setHidden(document.visibilityState === 'hidden');
if (storedHeartbeat()) setHeartbeat(true);
feed.start();
eventLog.start();
if (document.visibilityState !== 'hidden') void loadHistory();
showMonitoring();
