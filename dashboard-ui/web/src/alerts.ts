import { BoundedList } from './bounded-list.js';
import { SUCCESS_RATE_THRESHOLD, type Summary } from './status.js';

export type AlertLevel = 'critical' | 'warning' | 'info';

export interface Alert {
  at: Date;
  level: AlertLevel;
  message: string;
}

/**
 * Turns successive summaries into alerts: one when a condition starts (a service goes offline,
 * the success rate drops below the threshold), one when it ends; nothing while it lasts. A low
 * success rate ends only when traffic shows it back at or above the threshold, not when traffic stops.
 */
export class AlertTracker {
  readonly alerts: BoundedList<Alert>;
  #active = new Set<string>();

  constructor(capacity = 50) {
    this.alerts = new BoundedList(capacity);
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
        `Success rate ${summary.successRate.toFixed(1)} % is below ${SUCCESS_RATE_THRESHOLD} %`,
      );
    } else if (!summary.hasTraffic && this.#active.has('success-rate')) {
      // Without traffic there is no rate to judge: the low rate has not recovered, it is just not
      // measured. Only a window with traffic at or above the threshold ends the alert.
      conditions.set('success-rate', '');
    }
    for (const [key, message] of conditions) {
      if (this.#active.has(key)) continue;
      this.#active.add(key);
      raised.push({ at, level: key === 'success-rate' ? 'warning' : 'critical', message });
    }
    for (const key of [...this.#active]) {
      if (conditions.has(key)) continue;
      this.#active.delete(key);
      raised.push({ at, level: 'info', message: recoveryMessage(key, summary) });
    }
    for (const alert of raised) this.alerts.add(alert);
    return raised;
  }
}

function recoveryMessage(key: string, summary: Summary): string {
  if (key === 'success-rate') return `Success rate recovered to ${summary.successRate.toFixed(1)} %`;
  const service = summary.services.find((s) => `offline:${s.key}` === key);
  return `${service?.name ?? key} is back online`;
}
