import { marker, span } from './dom.js';
import {
  DEFAULT_ROUTE_SORT,
  nextSort,
  ROUTE_COLUMNS,
  type RouteRow,
  type RouteSort,
  sortRoutes,
  worstRoute,
} from './routes.js';

const SORT_MARK = { ascending: '▲', descending: '▼' } as const;

/**
 * The routes table: a header button per column sorts by it (mouse or keyboard; the sorted
 * column carries `aria-sort`), and the worst route is flagged. Everything a server sent is text.
 */
export class RoutesTable {
  readonly #table: HTMLTableElement;
  readonly #body: HTMLTableSectionElement;
  readonly #headers: HTMLTableCellElement[] = [];
  #sort: RouteSort = DEFAULT_ROUTE_SORT;
  #rows: RouteRow[] = [];
  #empty = '';

  constructor(table: HTMLTableElement) {
    this.#table = table;
    const head = table.tHead?.rows[0] ?? table.createTHead().insertRow();
    for (const { column, label, numeric } of ROUTE_COLUMNS) {
      const th = document.createElement('th');
      th.scope = 'col';
      th.dataset.column = column;
      if (numeric) th.className = 'num';
      const button = document.createElement('button');
      button.type = 'button';
      button.append(label, marker('sort-mark'));
      button.addEventListener('click', () => {
        this.#sort = nextSort(this.#sort, column);
        this.#draw();
      });
      th.append(button);
      head.append(th);
      this.#headers.push(th);
    }
    this.#body = table.tBodies[0] ?? table.createTBody();
    this.#markSort();
  }

  get sort(): RouteSort {
    return this.#sort;
  }

  /** Shows these rows; `empty` says why there are none. */
  show(rows: RouteRow[], empty: string): void {
    this.#rows = rows;
    this.#empty = empty;
    this.#draw();
  }

  #markSort(): void {
    for (const th of this.#headers) {
      const sorted = th.dataset.column === this.#sort.column;
      if (sorted) th.setAttribute('aria-sort', this.#sort.direction);
      else th.removeAttribute('aria-sort');
      const mark = th.querySelector('.sort-mark');
      if (mark) mark.textContent = sorted ? SORT_MARK[this.#sort.direction] : '';
    }
  }

  #draw(): void {
    this.#markSort();
    if (this.#rows.length === 0) {
      const tr = document.createElement('tr');
      const td = document.createElement('td');
      td.colSpan = ROUTE_COLUMNS.length;
      td.className = 'empty';
      td.textContent = this.#empty;
      tr.append(td);
      this.#body.replaceChildren(tr);
      this.#table.dataset.rows = '0';
      return;
    }
    const worst = worstRoute(this.#rows);
    this.#body.replaceChildren(
      ...sortRoutes(this.#rows, this.#sort).map((row) => {
        const tr = document.createElement('tr');
        tr.dataset.route = row.route;
        for (const { column, numeric, text } of ROUTE_COLUMNS) {
          if (column === 'route') {
            const name = document.createElement('th');
            name.scope = 'row';
            name.append(span('route-name', text(row)));
            if (row === worst) {
              tr.dataset.worst = 'true';
              name.append(' ', span('worst-flag', 'worst'));
            }
            tr.append(name);
          } else {
            const td = document.createElement('td');
            if (numeric) td.className = 'num';
            td.textContent = text(row);
            tr.append(td);
          }
        }
        return tr;
      }),
    );
    this.#table.dataset.rows = String(this.#rows.length);
  }
}
