import { type Alert, AlertTracker } from './alerts.js';
import { BoundedList } from './bounded-list.js';
import { type Phase, ThroughputChart } from './chart.js';
import { Heartbeat, type HeartbeatState } from './heartbeat.js';
import { Poller } from './poller.js';
import type { StatsResponse } from './stats-types.js';
import { type Summary, summarize } from './status.js';
import { chartLabel } from './window-text.js';

const params = new URLSearchParams(location.search);
const POLL_MS = Math.max(500, Number(params.get('poll')) || 2000);
// Points the chart keeps (five minutes at the default 2 s); bounded so memory stays small.
const CHART_POINTS = Math.min(3600, Math.max(2, Math.floor(Number(params.get('points'))) || 150));
// The load balancer answers /stats within about 2.2 s even when a service hangs.
const TIMEOUT_MS = Math.max(POLL_MS, 5000);
const HEARTBEAT_KEY = 'titanium.wsHeartbeat';

function el<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`#${id} is missing from the page`);
  return found as T;
}

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
  alertsEmpty: el('alerts-empty'),
  logs: el('logs-container'),
  monitoringBtn: el<HTMLButtonElement>('toggle-monitoring-btn'),
  refreshBtn: el<HTMLButtonElement>('refresh-btn'),
  heartbeatBtn: el<HTMLButtonElement>('toggle-ws-heartbeat-btn'),
  wsStatus: el('ws-status'),
};

const chartCanvas = el<HTMLCanvasElement>('throughputChart');
chartCanvas.setAttribute('aria-label', chartLabel(CHART_POINTS, POLL_MS));
const chart = new ThroughputChart(chartCanvas, CHART_POINTS);
const alerts = new AlertTracker(50);
const logs = new BoundedList<{ at: Date; level: 'info' | 'error'; message: string }>(100);

const clock = (at: Date) => at.toLocaleTimeString([], { hour12: false });
const ms = (value: number) => `${value.toFixed(value >= 100 ? 0 : 1)} ms`;

/** One feed entry (alert or log line), built from text nodes only. */
function feedItem(at: Date, level: string, message: string): HTMLLIElement {
  const li = document.createElement('li');
  li.dataset.level = level;
  const time = document.createElement('time');
  time.dateTime = at.toISOString();
  time.textContent = clock(at);
  const text = document.createElement('span');
  text.className = 'message';
  text.textContent = message;
  li.append(time, text);
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
}

function setState(node: HTMLElement, text: string, state: string): void {
  node.textContent = text;
  node.dataset.state = state;
}

function renderServices(summary: Summary): void {
  const items = summary.services.map((service) => {
    const li = document.createElement('li');
    const state = service.state.toLowerCase();
    li.dataset.state = state;
    li.dataset.service = service.key;
    const dot = document.createElement('span');
    dot.className = 'dot';
    dot.setAttribute('aria-hidden', 'true');
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = service.name;
    const badge = document.createElement('span');
    badge.className = 'state';
    setState(badge, service.state, state);
    li.append(dot, name, badge);
    if (service.detail && service.state !== 'Online') {
      const detail = document.createElement('span');
      detail.className = 'detail';
      detail.textContent = service.detail;
      li.append(detail);
    }
    return li;
  });
  view.services.replaceChildren(...items);
}

function render(summary: Summary, at: Date): void {
  setState(view.overall, summary.overall, summary.overall.toLowerCase());
  const connected = summary.overall !== 'DISCONNECTED';
  view.active.textContent = connected ? `${summary.active}/${summary.total}` : `–/${summary.total}`;
  view.rps.textContent = connected ? summary.rps.toFixed(1) : '–';
  view.avg.textContent = connected ? ms(summary.avgMs) : '–';
  view.p95.textContent = connected ? ms(summary.p95Ms) : '–';
  view.p99.textContent = connected ? ms(summary.p99Ms) : '–';
  view.success.textContent = connected ? `${summary.successRate.toFixed(1)} %` : '–';
  view.scope.textContent = connected
    ? summary.scope === 'cluster'
      ? `cluster of ${summary.instances} load balancer${summary.instances === 1 ? '' : 's'}`
      : 'one load balancer'
    : 'not connected';
  if (connected) {
    view.updated.dateTime = at.toISOString();
    view.updated.textContent = clock(at);
  }
  renderServices(summary);
  setState(view.db, summary.database, summary.database === 'ONLINE' ? 'online' : summary.database.toLowerCase());
  setState(view.cache, summary.cache, summary.cache === 'ONLINE' ? 'online' : summary.cache.toLowerCase());
  view.hitRatio.textContent =
    summary.cacheHitRatio === undefined || !connected ? '–' : `${(summary.cacheHitRatio * 100).toFixed(1)} %`;
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
  const raised = alerts.update(summary, at);
  for (const alert of raised) if (alert.level === 'info') log('info', `Recovery: ${alert.message}`);
  renderAlerts(raised);
  const phase: Phase = !stats ? 'down' : summary.hasTraffic ? 'traffic' : 'idle';
  chart.add({
    at,
    phase,
    rps: stats ? summary.rps : null,
    avgMs: phase === 'traffic' ? summary.avgMs : null,
    p95Ms: phase === 'traffic' ? summary.p95Ms : null,
  });
}

const poller = new Poller<StatsResponse>({
  url: '/stats',
  intervalMs: POLL_MS,
  timeoutMs: TIMEOUT_MS,
  onResult: onStats,
});

view.monitoringBtn.addEventListener('click', () => {
  if (poller.running) {
    poller.stop();
    log('info', 'Monitoring paused');
  } else {
    poller.start();
    log('info', 'Monitoring resumed');
  }
  view.monitoringBtn.textContent = poller.running ? 'Pause monitoring' : 'Resume monitoring';
  view.monitoringBtn.setAttribute('aria-pressed', String(poller.running));
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
const heartbeat = new Heartbeat({
  url: wsUrl,
  connect: (url) => new WebSocket(url),
  onState(state, detail) {
    view.wsStatus.textContent = detail && state === 'waiting' ? `heartbeat ${detail}` : heartbeatText[state];
    // The box has a fixed width and may cut the text short; the whole text stays at hand.
    view.wsStatus.title = view.wsStatus.textContent;
    if (state === 'connected') log('info', 'WS heartbeat connected');
    if (state === 'waiting') log('error', `WS heartbeat ${detail ?? 'closed'}`);
  },
});

function setHeartbeat(on: boolean): void {
  if (on) heartbeat.enable();
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
  const on = !heartbeat.enabled;
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

if (storedHeartbeat()) setHeartbeat(true);
poller.start();
