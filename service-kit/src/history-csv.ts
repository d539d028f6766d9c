import type { HistoryPoint } from './stats-contract.js';

/**
 * `GET /stats/history?format=csv`, written once for the load balancer that answers it and the
 * dashboard that exports what it shows: a header row naming every field of a point, then a row per
 * point, lines ended by CRLF (RFC 4180). No imports but types, so the page can bundle it.
 */
export const HISTORY_CSV_COLUMNS = [
  't',
  'requests_per_second',
  'avg_response_time_ms',
  'p95_response_time_ms',
  'p99_response_time_ms',
  'success_rate',
  'server_error_rate',
  'has_real_traffic',
] as const satisfies readonly (keyof HistoryPoint)[];

type Uncovered = Exclude<keyof HistoryPoint, (typeof HISTORY_CSV_COLUMNS)[number]>;
// Fails to compile when a point gains a field the CSV would leave out.
const everyField: [Uncovered] extends [never] ? true : Uncovered = true;
void everyField;

export function historyCsv(points: readonly HistoryPoint[]): string {
  const rows = points.map((point) => HISTORY_CSV_COLUMNS.map((column) => String(point[column])).join(','));
  return `${[HISTORY_CSV_COLUMNS.join(','), ...rows].join('\r\n')}\r\n`;
}
