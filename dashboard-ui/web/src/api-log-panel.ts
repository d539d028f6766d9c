import { type CallFilter, CallLog, type LoggedCall, NO_FILTER, RouteChoices, statusClass } from './call-log.js';
import { span } from './dom.js';
import type { ApiCall } from './events.js';
import { clockMs, ms } from './format.js';

export interface ApiLogElements {
  table: HTMLTableElement;
  failures: HTMLInputElement;
  route: HTMLSelectElement;
  pause: HTMLButtonElement;
  /** Says how many calls wait while the panel is paused. */
  held: HTMLElement;
}

const COLUMNS = ['Time', 'Method', 'Route', 'Status', 'Latency', 'User', 'Request id'] as const;
const ALL_ROUTES = 'all routes';

/** The route's template without the method in front (`GET /api/posts/:id` → `/api/posts/:id`); `other` as it is. */
function template(call: ApiCall): string {
  return call.route.startsWith(`${call.method} `) ? call.route.slice(call.method.length + 1) : call.route;
}

function cell(className: string, ...content: (Node | string)[]): HTMLTableCellElement {
  const td = document.createElement('td');
  td.className = className;
  td.append(...content);
  return td;
}

/** One call's row, from text nodes only: whatever a path or a name holds is shown as it is. */
function callRow(call: LoggedCall): HTMLTableRowElement {
  const tr = document.createElement('tr');
  const cls = statusClass(call.status);
  tr.dataset.id = call.id;
  tr.dataset.route = call.route;
  tr.dataset.statusClass = cls;
  const at = new Date(call.at);
  const time = document.createElement('time');
  time.dateTime = at.toISOString();
  time.textContent = clockMs(at);
  const status = span('status-code', String(call.status));
  status.dataset.class = cls;
  tr.append(
    cell('time', time),
    cell('method', call.method),
    cell('route', span('template', template(call)), span('path', call.endpoint)),
    cell('num status', status),
    cell('num latency', ms(call.latencyMs)),
    cell('user', call.username ?? '—'),
    cell('request-id', call.requestId),
  );
  return tr;
}

/**
 * The live API calls panel: newest first, at most 200 rows, narrowed to failures and to one route
 * as chosen, and held still while paused (what arrives meanwhile is counted, then shown on resume).
 * Draws at most once a frame, however fast calls arrive.
 */
export class ApiLogPanel {
  readonly log: CallLog;
  readonly #el: ApiLogElements;
  readonly #body: HTMLTableSectionElement;
  readonly #routes = new RouteChoices();
  readonly #rows = new Map<string, HTMLTableRowElement>();
  #filter: CallFilter = NO_FILTER;
  #idle = 'No API calls yet.';
  #drawPending = false;

  constructor(el: ApiLogElements, log = new CallLog()) {
    this.#el = el;
    this.log = log;
    const head = el.table.tHead?.rows[0] ?? el.table.createTHead().insertRow();
    head.replaceChildren(
      ...COLUMNS.map((label) => {
        const th = document.createElement('th');
        th.scope = 'col';
        th.textContent = label;
        if (label === 'Status' || label === 'Latency') th.className = 'num';
        return th;
      }),
    );
    this.#body = el.table.tBodies[0] ?? el.table.createTBody();
    el.route.replaceChildren(new Option(ALL_ROUTES, ''));
    el.failures.addEventListener('change', () => {
      this.#filter = { ...this.#filter, failuresOnly: el.failures.checked };
      this.#draw();
    });
    el.route.addEventListener('change', () => {
      this.#filter = { ...this.#filter, route: el.route.value === '' ? undefined : el.route.value };
      this.#draw();
    });
    el.pause.addEventListener('click', () => {
      if (this.log.paused) this.log.resume();
      else this.log.pause();
      this.#draw();
    });
    this.#draw();
  }

  get filter(): CallFilter {
    return this.#filter;
  }

  add(calls: readonly ApiCall[]): void {
    if (calls.length === 0) return;
    this.addRoutes(calls.map((call) => call.route));
    if (this.log.add(calls) > 0) this.#schedule();
  }

  /** Offers these routes in the route filter too (the load balancer's per-route keys). */
  addRoutes(routes: Iterable<string>): void {
    if (!this.#routes.add(routes)) return;
    const select = this.#el.route;
    const chosen = select.value;
    select.replaceChildren(new Option(ALL_ROUTES, ''), ...this.#routes.routes.map((route) => new Option(route, route)));
    select.value = chosen;
  }

  /** What the table says while it has no call at all (the event log's state). */
  setIdleText(text: string): void {
    if (text === this.#idle) return;
    this.#idle = text;
    this.#draw();
  }

  #schedule(): void {
    if (this.#drawPending) return;
    this.#drawPending = true;
    requestAnimationFrame(() => {
      this.#drawPending = false;
      this.#draw();
    });
  }

  #draw(): void {
    const { pause, held, table } = this.#el;
    const paused = this.log.paused;
    pause.textContent = paused ? 'Resume' : 'Pause';
    const waiting = this.log.held(this.#filter);
    held.textContent = paused ? `${waiting} new` : '';
    const rows = this.log.rows(this.#filter);
    const shown = new Map<string, HTMLTableRowElement>();
    for (const call of rows) shown.set(call.id, this.#rows.get(call.id) ?? callRow(call));
    this.#rows.clear();
    for (const [id, tr] of shown) this.#rows.set(id, tr);
    if (rows.length === 0) {
      const tr = document.createElement('tr');
      const none = this.log.rows(NO_FILTER, 1).length === 0;
      const td = cell('empty', none ? this.#idle : 'No call matches the filter.');
      td.colSpan = COLUMNS.length;
      tr.append(td);
      this.#body.replaceChildren(tr);
    } else {
      this.#body.replaceChildren(...shown.values());
    }
    table.dataset.rows = String(rows.length);
    table.dataset.paused = String(paused);
  }
}
