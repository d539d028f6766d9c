import type { ProxyObserver, ProxyOutcome } from '@titanium/service-kit';
import type { ProxiedRequestMetrics } from './proxied-metrics.js';
import type { StatsWindow } from './stats-window.js';

/**
 * Hears how each request proxied on one route ended: every one goes into `/metrics` under the
 * route's label (one the client left early as 499), and the counted ones into the stats window.
 */
export class RouteObserver implements ProxyObserver {
  readonly #label: string;
  readonly #metrics: ProxiedRequestMetrics;
  readonly #window: StatsWindow | undefined;

  constructor(label: string, metrics: ProxiedRequestMetrics, window?: StatsWindow) {
    this.#label = label;
    this.#metrics = metrics;
    this.#window = window;
  }

  onFinished(outcome: ProxyOutcome): void {
    const { statusCode, aborted, elapsedMs } = outcome;
    this.#window?.record(statusCode, elapsedMs, aborted);
    this.#metrics.observe(this.#label, outcome.method, aborted ? 499 : statusCode, elapsedMs / 1000);
  }
}
