import type { HistoryPoint, HistoryRange } from '@titanium/service-kit/stats-contract';
import type { HistoryResponse } from './stats-types.js';

export type RangeKey = '5m' | '1h' | '24h';

export interface RangeSpec {
  key: RangeKey;
  label: string;
  durationMs: number;
  /** The load balancer's range that holds this one (5 min is the end of the hour). */
  request: HistoryRange;
  /** Slot length when the answer does not say. */
  resolutionSeconds: number;
  /** The chart keeps one live point per this much time (0: every update), so a long range stays small. */
  liveStepMs: number;
}

export const RANGES: Record<RangeKey, RangeSpec> = {
  '5m': { key: '5m', label: '5 min', durationMs: 5 * 60_000, request: '1h', resolutionSeconds: 10, liveStepMs: 0 },
  '1h': { key: '1h', label: '1 h', durationMs: 3_600_000, request: '1h', resolutionSeconds: 10, liveStepMs: 10_000 },
  '24h': {
    key: '24h',
    label: '24 h',
    durationMs: 86_400_000,
    request: '24h',
    resolutionSeconds: 60,
    liveStepMs: 60_000,
  },
};

export function isRangeKey(value: string): value is RangeKey {
  return Object.hasOwn(RANGES, value);
}

/** A history answer, checked: complete points, oldest first, only those ending inside the range. */
export interface History {
  range: RangeKey;
  resolutionSeconds: number;
  scope: 'instance' | 'cluster' | undefined;
  points: HistoryPoint[];
}

function num(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/**
 * Reads what `/stats/history` answered for `range` as of `now`. Points without a valid time are
 * dropped, missing figures read as 0; at most one point per slot of the range is kept, whatever
 * the server sent.
 */
export function readHistory(answer: unknown, range: RangeSpec, now: number): History {
  const body = (typeof answer === 'object' && answer !== null ? answer : {}) as HistoryResponse;
  const resolution =
    typeof body.resolution_seconds === 'number' && body.resolution_seconds > 0
      ? body.resolution_seconds
      : range.resolutionSeconds;
  const since = now - range.durationMs;
  const points: HistoryPoint[] = [];
  for (const raw of Array.isArray(body.points) ? body.points : []) {
    if (typeof raw !== 'object' || raw === null) continue;
    const start = typeof raw.t === 'string' ? Date.parse(raw.t) : Number.NaN;
    if (!Number.isFinite(start) || start + resolution * 1000 <= since || start > now) continue;
    points.push({
      t: new Date(start).toISOString(),
      requests_per_second: num(raw.requests_per_second),
      avg_response_time_ms: num(raw.avg_response_time_ms),
      p95_response_time_ms: num(raw.p95_response_time_ms),
      p99_response_time_ms: num(raw.p99_response_time_ms),
      success_rate: num(raw.success_rate),
      server_error_rate: num(raw.server_error_rate),
      has_real_traffic: raw.has_real_traffic === true,
    });
  }
  points.sort((a, b) => Date.parse(a.t) - Date.parse(b.t));
  const most = Math.ceil(range.durationMs / (resolution * 1000)) + 1;
  return {
    range: range.key,
    resolutionSeconds: resolution,
    scope: body.scope === 'cluster' || body.scope === 'instance' ? body.scope : undefined,
    points: points.length > most ? points.slice(-most) : points,
  };
}

/** Fetches the history behind `range`; rejects with the reason when there is none to be had. */
export async function fetchHistory(range: RangeSpec, signal: AbortSignal): Promise<History> {
  // Built apart from the call: Node's RequestInit (the unit tests run there) has no `cache`.
  const init = { signal, headers: { accept: 'application/json' }, cache: 'no-store' as const };
  const res = await fetch(`/stats/history?range=${range.request}`, init);
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return readHistory(await res.json(), range, Date.now());
}

/** The points in the load balancer's JSON shape, with the range the page shows. */
export function historyJson(history: History, points: readonly HistoryPoint[]): string {
  const { range, resolutionSeconds, scope } = history;
  return `${JSON.stringify({ range, resolution_seconds: resolutionSeconds, scope, points }, null, 2)}\n`;
}

export function exportFileName(range: RangeKey, format: 'csv' | 'json', at: Date): string {
  const stamp = at.toISOString().slice(0, 19).replaceAll(':', '').replace('T', '-');
  return `titanium-history-${range}-${stamp}.${format}`;
}
