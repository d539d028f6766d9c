import type { ProxyObserver, ProxyOutcome, UpstreamTarget } from '@titanium/service-kit';
import type { ProxiedRequestMetrics, RouteRequestMetrics } from './proxied-metrics.js';
import type { RouteKeys } from './route-keys.js';
import { pathOf } from './routes.js';
import type { StatsWindow } from './stats-window.js';

/** Where the load balancer files what it proxies. */
export interface TrafficBooks {
  window: StatsWindow;
  proxied: ProxiedRequestMetrics;
  /** The per-route and per-target breakdown; absent when it is switched off. */
  breakdown?: {
    routes: RouteKeys;
    routeMetrics: RouteRequestMetrics;
    /** Each target's index in the window's target keys. */
    targets: ReadonlyMap<UpstreamTarget, number>;
  };
}

/**
 * Hears how each request proxied on one route ended: every one goes into `/metrics` under the
 * route's label (one the client left early as 499) and into its target's figures; the counted ones
 * also into the stats window, under their API route.
 */
export class RouteObserver implements ProxyObserver {
  readonly #label: string;
  readonly #counted: boolean;
  readonly #books: TrafficBooks;

  constructor(label: string, books: TrafficBooks, counted = false) {
    this.#label = label;
    this.#books = books;
    this.#counted = counted;
  }

  onFinished(outcome: ProxyOutcome): void {
    const { statusCode, aborted, elapsedMs, method } = outcome;
    const { window, proxied, breakdown } = this.#books;
    const seconds = elapsedMs / 1000;
    if (this.#counted) {
      const route = breakdown ? breakdown.routes.indexOf(method, pathOf(outcome.url)) : -1;
      window.record(statusCode, elapsedMs, aborted, route);
      if (breakdown) breakdown.routeMetrics.observe(route, statusCode, aborted, seconds);
    }
    const target = breakdown && outcome.target ? breakdown.targets.get(outcome.target) : undefined;
    if (target !== undefined) window.recordTarget(target, statusCode, elapsedMs, aborted);
    proxied.observe(this.#label, method, aborted ? 499 : statusCode, seconds);
  }
}
