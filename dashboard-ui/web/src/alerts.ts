import { BoundedList } from './bounded-list.js';
import { ms, percent } from './format.js';
import type { RouteRow } from './routes.js';
import { SUCCESS_RATE_THRESHOLD, type Summary } from './status.js';

export type AlertLevel = 'critical' | 'warning' | 'info';

export interface Alert {
  at: Date;
  level: AlertLevel;
  message: string;
}

export interface AlertOptions {
  /** A route whose p95 is above this many ms alerts; undefined: no p95 alerts. */
  routeP95Ms?: number | undefined;
}

/** Routes alerting at once beyond this raise nothing new: the tracker stays small whatever the routes. */
export const MAX_ROUTE_ALERTS = 100;

/**
 * Turns successive summaries into alerts: one when a condition starts (a service goes offline,
 * the success rate drops below the threshold, a route's success rate or p95 crosses its bound),
 * one when it ends; nothing while it lasts. A low success rate ends only when traffic shows it
 * back at or above the threshold, not when traffic stops; a route's alert likewise ends only when
 * the route shows again, within its bound.
 */
export class AlertTracker {
  readonly alerts: BoundedList<Alert>;
  readonly #routeP95Ms: number | undefined;
  #active = new Set<string>();
  #routeAlerts = 0;

  constructor(capacity = 50, options: AlertOptions = {}) {
    this.alerts = new BoundedList(capacity);
    this.#routeP95Ms = options.routeP95Ms;
  }

  /** Returns the alerts this summary raised (already added to the list). */
  update(summary: Summary, at = new Date()): Alert[] {
    if (summary.overall === 'DISCONNECTED') return [];
    const raised: Alert[] = [];
    const conditions = new Map<string, string>();
    for (const service of summary.services) {
      if (service.state === 'Offline') {
        conditions.set(
          `offline:${service.key}`,
          `${service.name} is offline${service.detail ? ` (${service.detail})` : ''}`,
        );
      }
    }
    if (summary.hasTraffic && summary.successRate < SUCCESS_RATE_THRESHOLD) {
      conditions.set(
        'success-rate',
        `Success rate ${percent(summary.successRate)} is below ${SUCCESS_RATE_THRESHOLD} %`,
      );
    } else if (!summary.hasTraffic && this.#active.has('success-rate')) {
      // Without traffic there is no rate to judge: the low rate has not recovered, it is just not
      // measured. Only a window with traffic at or above the threshold ends the alert.
      conditions.set('success-rate', '');
    }
    const shown = new Map((summary.routes ?? []).map((row) => [row.route, row]));
    for (const row of shown.values()) {
      if (row.successRate < SUCCESS_RATE_THRESHOLD) {
        conditions.set(
          `route-success:${row.route}`,
          `${row.route}: success rate ${percent(row.successRate)} is below ${SUCCESS_RATE_THRESHOLD} %`,
        );
      }
      if (this.#routeP95Ms !== undefined && row.p95Ms > this.#routeP95Ms) {
        conditions.set(`route-p95:${row.route}`, `${row.route}: p95 ${ms(row.p95Ms)} is above ${ms(this.#routeP95Ms)}`);
      }
    }
    // A route out of the window is not measured: its alert lasts until it shows again.
    for (const key of this.#active) {
      const route = routeOf(key);
      if (route !== undefined && !shown.has(route)) conditions.set(key, '');
    }
    for (const [key, message] of conditions) {
      if (this.#active.has(key)) continue;
      const isRoute = routeOf(key) !== undefined;
      if (isRoute && this.#routeAlerts >= MAX_ROUTE_ALERTS) continue;
      this.#active.add(key);
      if (isRoute) this.#routeAlerts++;
      raised.push({ at, level: key.startsWith('offline:') ? 'critical' : 'warning', message });
    }
    for (const key of [...this.#active]) {
      if (conditions.has(key)) continue;
      this.#active.delete(key);
      const route = routeOf(key);
      if (route !== undefined) this.#routeAlerts--;
      raised.push({ at, level: 'info', message: recoveryMessage(key, summary, route ? shown.get(route) : undefined) });
    }
    for (const alert of raised) this.alerts.add(alert);
    return raised;
  }
}

function routeOf(key: string): string | undefined {
  const colon = key.indexOf(':');
  return key.startsWith('route-') && colon !== -1 ? key.slice(colon + 1) : undefined;
}

function recoveryMessage(key: string, summary: Summary, row: RouteRow | undefined): string {
  if (key === 'success-rate') return `Success rate recovered to ${percent(summary.successRate)}`;
  if (row && key.startsWith('route-success:')) {
    return `${row.route}: success rate recovered to ${percent(row.successRate)}`;
  }
  if (row && key.startsWith('route-p95:')) return `${row.route}: p95 back to ${ms(row.p95Ms)}`;
  const service = summary.services.find((s) => `offline:${s.key}` === key);
  return `${service?.name ?? key} is back online`;
}
