import type { ApiCall } from './events.js';

/** The most rows the panel shows. */
export const MAX_CALL_ROWS = 200;
/** The most calls the page keeps, so a filter has more than the shown rows to choose from. */
export const KEEP_CALLS = 1000;

export type StatusClass = '1xx' | '2xx' | '3xx' | '4xx' | '5xx' | 'other';

export function statusClass(status: number): StatusClass {
  const hundreds = Math.floor(status / 100);
  return hundreds >= 1 && hundreds <= 5 ? (`${hundreds}xx` as StatusClass) : 'other';
}

/** The load balancer's rule: 400 and above is a failure. */
export function isFailure(call: ApiCall): boolean {
  return call.status >= 400;
}

export interface CallFilter {
  failuresOnly: boolean;
  /** One route (`METHOD template` or `other`); undefined for all. */
  route: string | undefined;
}

export const NO_FILTER: CallFilter = { failuresOnly: false, route: undefined };

export function matches(call: ApiCall, filter: CallFilter): boolean {
  return (!filter.failuresOnly || isFailure(call)) && (filter.route === undefined || call.route === filter.route);
}

/** A call as the log holds it: with the order it reached the page in. */
export interface LoggedCall extends ApiCall {
  seq: number;
}

/**
 * The API calls the page knows, newest first by when they were answered, each once (by id), at
 * most `keep` of them. Calls arrive from the backlog (newest first) and the stream (oldest first),
 * overlapping; each lands in its place. Paused, the rows shown stay as they were and what arrives
 * meanwhile is only counted, until resume.
 */
export class CallLog {
  readonly keep: number;
  #calls: LoggedCall[] = [];
  readonly #ids = new Set<string>();
  #seq = 0;
  #frozen: { calls: readonly LoggedCall[]; seq: number } | undefined;

  constructor(keep = KEEP_CALLS) {
    this.keep = keep;
  }

  get paused(): boolean {
    return this.#frozen !== undefined;
  }

  /** Adds the calls not seen yet; returns how many were. */
  add(calls: Iterable<ApiCall>): number {
    let added = 0;
    for (const call of calls) {
      if (this.#ids.has(call.id)) continue;
      const logged: LoggedCall = { ...call, seq: ++this.#seq };
      // The first call answered before this one; a call of the same time that came earlier stays after it.
      let low = 0;
      let high = this.#calls.length;
      while (low < high) {
        const mid = (low + high) >> 1;
        if ((this.#calls[mid] as LoggedCall).at > call.at) low = mid + 1;
        else high = mid;
      }
      if (low >= this.keep) continue;
      this.#calls.splice(low, 0, logged);
      this.#ids.add(call.id);
      added++;
      while (this.#calls.length > this.keep) {
        const dropped = this.#calls.pop();
        if (dropped) this.#ids.delete(dropped.id);
      }
    }
    return added;
  }

  /** Every call kept, newest first. */
  get calls(): readonly LoggedCall[] {
    return this.#calls;
  }

  pause(): void {
    if (!this.#frozen) this.#frozen = { calls: this.#calls.slice(), seq: this.#seq };
  }

  resume(): void {
    this.#frozen = undefined;
  }

  /** The rows to show: the newest `max` calls that pass the filter (while paused, of those known at the pause). */
  rows(filter: CallFilter, max = MAX_CALL_ROWS): LoggedCall[] {
    const rows: LoggedCall[] = [];
    for (const call of this.#frozen?.calls ?? this.#calls) {
      if (rows.length === max) break;
      if (matches(call, filter)) rows.push(call);
    }
    return rows;
  }

  /** While paused, how many calls that pass the filter have arrived since (and are still kept). */
  held(filter: CallFilter): number {
    const frozen = this.#frozen;
    if (!frozen) return 0;
    let count = 0;
    for (const call of this.#calls) if (call.seq > frozen.seq && matches(call, filter)) count++;
    return count;
  }
}

/** How a route sorts among the choices: by path, then method (`GET /a` before `POST /a`), `other` last. */
function routeKey(route: string): string {
  if (route === 'other') return '\uffff';
  const space = route.indexOf(' ');
  return space < 0 ? route : `${route.slice(space + 1)} ${route.slice(0, space)}`;
}

/** The routes the route filter offers: those given, each once, sorted by path, at most `max`. */
export class RouteChoices {
  readonly max: number;
  readonly #routes = new Set<string>();

  constructor(max = 100) {
    this.max = max;
  }

  /** Adds routes; returns whether any was new. */
  add(routes: Iterable<string>): boolean {
    let changed = false;
    for (const route of routes) {
      if (route === '' || this.#routes.has(route) || this.#routes.size >= this.max) continue;
      this.#routes.add(route);
      changed = true;
    }
    return changed;
  }

  get routes(): string[] {
    return [...this.#routes]
      .map((route) => ({ route, key: routeKey(route) }))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .map(({ route }) => route);
  }
}
