import { ms, percent } from './format.js';
import type { RouteEntry } from './stats-types.js';

/** One row of the routes table: a route's figures over the load balancer's window. */
export interface RouteRow {
  route: string;
  rps: number;
  successRate: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  clientErrors: number;
  serverErrors: number;
}

export type RouteColumn = keyof RouteRow;
export type SortDirection = 'ascending' | 'descending';

export interface RouteSort {
  column: RouteColumn;
  direction: SortDirection;
}

/** The table's columns, in order, and how each shows its value; a first click sorts text A to Z and numbers largest first. */
export const ROUTE_COLUMNS: readonly {
  column: RouteColumn;
  label: string;
  numeric: boolean;
  text(row: RouteRow): string;
}[] = [
  { column: 'route', label: 'Route', numeric: false, text: (row) => row.route },
  { column: 'rps', label: 'Req/s', numeric: true, text: (row) => row.rps.toFixed(1) },
  { column: 'successRate', label: 'Success', numeric: true, text: (row) => percent(row.successRate) },
  { column: 'p50Ms', label: 'p50', numeric: true, text: (row) => ms(row.p50Ms) },
  { column: 'p95Ms', label: 'p95', numeric: true, text: (row) => ms(row.p95Ms) },
  { column: 'p99Ms', label: 'p99', numeric: true, text: (row) => ms(row.p99Ms) },
  { column: 'clientErrors', label: '4xx', numeric: true, text: (row) => String(row.clientErrors) },
  { column: 'serverErrors', label: '5xx', numeric: true, text: (row) => String(row.serverErrors) },
];

/** The load balancer's own order: busiest first. */
export const DEFAULT_ROUTE_SORT: RouteSort = { column: 'rps', direction: 'descending' };

/** Rows beyond this are left out: the page stays small whatever a server sends. */
export const MAX_ROUTE_ROWS = 200;

function num(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/** The rows for `load-balancer.routes`, in the order given; undefined when the server reports none. */
export function routeRows(routes: unknown): RouteRow[] | undefined {
  if (!Array.isArray(routes)) return undefined;
  const rows: RouteRow[] = [];
  for (const entry of routes as unknown[]) {
    if (rows.length === MAX_ROUTE_ROWS) break;
    if (typeof entry !== 'object' || entry === null) continue;
    const route = entry as RouteEntry;
    if (typeof route.route !== 'string') continue;
    rows.push({
      route: route.route,
      rps: num(route.requests_per_second),
      successRate: route.success_rate === undefined ? 100 : num(route.success_rate),
      p50Ms: num(route.p50_response_time_ms),
      p95Ms: num(route.p95_response_time_ms),
      p99Ms: num(route.p99_response_time_ms),
      clientErrors: num(route.status?.['4xx']),
      serverErrors: num(route.status?.['5xx']),
    });
  }
  return rows;
}

/** A new array sorted by one column; ties keep the given (busiest first) order. */
export function sortRoutes(rows: readonly RouteRow[], sort: RouteSort): RouteRow[] {
  const sign = sort.direction === 'ascending' ? 1 : -1;
  const { column } = sort;
  return rows
    .map((row, index) => ({ row, index }))
    .sort((a, b) => {
      const x = a.row[column];
      const y = b.row[column];
      const order = typeof x === 'string' && typeof y === 'string' ? x.localeCompare(y) : Number(x) - Number(y);
      return order * sign || a.index - b.index;
    })
    .map(({ row }) => row);
}

/** What the sort becomes when a column header is activated: its first direction, then the other. */
export function nextSort(current: RouteSort, column: RouteColumn): RouteSort {
  if (current.column === column) {
    return { column, direction: current.direction === 'ascending' ? 'descending' : 'ascending' };
  }
  const numeric = ROUTE_COLUMNS.find((c) => c.column === column)?.numeric ?? true;
  return { column, direction: numeric ? 'descending' : 'ascending' };
}

/** How the page picks the worst route, in words for the table's note. */
export const WORST_ROUTE_RULE = 'lowest success rate, then highest p95';

/** The worst route: lowest success rate, then highest p95, then the busiest. */
export function worstRoute(rows: readonly RouteRow[]): RouteRow | undefined {
  let worst: RouteRow | undefined;
  for (const row of rows) {
    if (
      !worst ||
      row.successRate < worst.successRate ||
      (row.successRate === worst.successRate &&
        (row.p95Ms > worst.p95Ms || (row.p95Ms === worst.p95Ms && row.rps > worst.rps)))
    ) {
      worst = row;
    }
  }
  return worst;
}
