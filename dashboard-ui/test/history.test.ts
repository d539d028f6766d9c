import { historyCsv } from '@titanium/service-kit/history-csv';
import type { HistoryPoint } from '@titanium/service-kit/stats-contract';
import { describe, expect, it } from 'vitest';
import { exportFileName, historyJson, RANGES, readHistory } from '../web/src/history.js';
import { ChartSeries, type Phase } from '../web/src/series.js';

const NOW = Date.parse('2026-12-02T03:00:00.000Z');

function point(t: number, rps: number, traffic = true): HistoryPoint {
  return {
    t: new Date(t).toISOString(),
    requests_per_second: rps,
    avg_response_time_ms: 1.5,
    p95_response_time_ms: 3.25,
    p99_response_time_ms: 4,
    success_rate: 99.5,
    server_error_rate: 0.5,
    has_real_traffic: traffic,
  };
}

/** `count` slots of `seconds` ending at `end`, oldest first, without the ones at `missing` (0 = newest). */
function slots(count: number, seconds: number, end = NOW, missing: number[] = []): HistoryPoint[] {
  const points: HistoryPoint[] = [];
  for (let i = count - 1; i >= 0; i--) {
    if (!missing.includes(i)) points.push(point(end - (i + 1) * seconds * 1000, i % 5));
  }
  return points;
}

function answer(points: unknown[], resolution = 10, scope = 'cluster') {
  return { range: '1h', resolution_seconds: resolution, scope, points };
}

describe('history answers', () => {
  it('keeps the slots of the last five minutes of the hour for "5 min", oldest first', () => {
    const history = readHistory(answer(slots(360, 10)), RANGES['5m'], NOW);
    expect(history.points).toHaveLength(30);
    expect(history.points[0]?.t).toBe('2026-12-02T02:55:00.000Z');
    expect(history.points.at(-1)?.t).toBe('2026-12-02T02:59:50.000Z');
    expect(history).toMatchObject({ range: '5m', resolutionSeconds: 10, scope: 'cluster' });
    expect(readHistory(answer(slots(360, 10)), RANGES['1h'], NOW).points).toHaveLength(360);
  });

  it('never keeps more than one point per slot of the range, whatever the server sends', () => {
    const flood = Array.from({ length: 10_000 }, (_, i) => point(NOW - (i % 300) * 1000, 1));
    const history = readHistory(answer(flood, 60), RANGES['24h'], NOW);
    expect(history.points.length).toBeLessThanOrEqual(24 * 60 + 1);
  });

  it('drops points without a time, reads missing figures as 0 and sorts what the server mixed up', () => {
    const [a, b] = slots(2, 10);
    const history = readHistory(
      answer([b, { t: 'yesterday' }, null, 'x', { requests_per_second: 3 }, { t: a?.t }, a]),
      RANGES['5m'],
      NOW,
    );
    expect(history.points.map((p) => p.t)).toEqual([a?.t, a?.t, b?.t]);
    expect(history.points[0]).toMatchObject({ requests_per_second: 0, success_rate: 0, has_real_traffic: false });
    expect(readHistory('not json at all', RANGES['1h'], NOW)).toEqual({
      range: '1h',
      resolutionSeconds: 10,
      scope: undefined,
      points: [],
    });
  });

  it('exports CSV as the load balancer writes it: its header, then a row per point', () => {
    const points = [point(NOW - 20_000, 4), point(NOW - 10_000, 0, false)];
    expect(historyCsv(points)).toBe(
      't,requests_per_second,avg_response_time_ms,p95_response_time_ms,p99_response_time_ms,success_rate,server_error_rate,has_real_traffic\r\n' +
        '2026-12-02T02:59:40.000Z,4,1.5,3.25,4,99.5,0.5,true\r\n' +
        '2026-12-02T02:59:50.000Z,0,1.5,3.25,4,99.5,0.5,false\r\n',
    );
  });

  it('exports JSON in the history answer shape, with the range the page shows', () => {
    const history = readHistory(answer(slots(360, 10)), RANGES['5m'], NOW);
    const exported = JSON.parse(historyJson(history, history.points.slice(-2)));
    expect(exported).toEqual({
      range: '5m',
      resolution_seconds: 10,
      scope: 'cluster',
      points: history.points.slice(-2),
    });
    expect(exportFileName('24h', 'csv', new Date(NOW))).toBe('titanium-history-24h-2026-12-02-030000.csv');
  });
});

describe('chart series', () => {
  const sample = (at: number, rps: number, phase: Phase = 'traffic') => ({
    at: new Date(at),
    phase,
    rps,
    avgMs: 1,
    p95Ms: 2,
    p99Ms: 3,
  });

  it('draws history slots at their end, and a missing stretch as one gap', () => {
    const series = new ChartSeries({ capacity: 2000, liveIntervalMs: 1000 });
    series.loadHistory(readHistory(answer(slots(30, 10, NOW, [10, 11, 12])), RANGES['5m'], NOW), NOW);
    const kinds = series.points.map((p) => p.kind);
    expect(kinds.filter((k) => k === 'history')).toHaveLength(27);
    expect(kinds.filter((k) => k === 'gap')).toHaveLength(1);
    const gap = series.points.find((p) => p.kind === 'gap');
    expect([gap?.from, gap?.t]).toEqual([NOW - 130_000, NOW - 100_000]);
    expect(gap?.rps).toBeNull();
    expect(series.points.at(-1)?.t).toBe(NOW);
  });

  it('appends live updates after the history and breaks the line where none came', () => {
    const series = new ChartSeries({ capacity: 2000, liveIntervalMs: 1000 });
    series.loadHistory(readHistory(answer(slots(30, 10)), RANGES['5m'], NOW), NOW);
    series.addLive(sample(NOW + 1000, 7));
    series.addLive(sample(NOW + 2000, 8));
    expect(series.points.slice(-2).map((p) => [p.kind, p.rps])).toEqual([
      ['live', 7],
      ['live', 8],
    ]);
    // A minute without updates (paused, say) is a gap, not a line across it.
    series.addLive(sample(NOW + 62_000, 9));
    expect(series.points.slice(-2).map((p) => p.kind)).toEqual(['gap', 'live']);
  });

  it('keeps live points a step apart on long ranges: the newest one follows every update', () => {
    const series = new ChartSeries({ capacity: 5000, liveIntervalMs: 1000 });
    series.setRange(RANGES['24h'], NOW);
    for (let s = 0; s < 3600; s++) series.addLive(sample(NOW + s * 1000, s));
    const live = series.points.filter((p) => p.kind === 'live');
    // One a minute over the hour, besides the first and the newest.
    expect(live.length).toBeLessThanOrEqual(62);
    expect(live.length).toBeGreaterThanOrEqual(59);
    expect(series.points.at(-1)?.rps).toBe(3599);
    // Five minutes keeps every update.
    const short = new ChartSeries({ capacity: 5000, liveIntervalMs: 1000 });
    for (let s = 0; s < 120; s++) short.addLive(sample(NOW + s * 1000, s));
    expect(short.points).toHaveLength(120);
  });

  it('a change of phase always starts a point, so idle stretches keep their edges', () => {
    const series = new ChartSeries({ capacity: 5000, liveIntervalMs: 1000 });
    series.setRange(RANGES['1h'], NOW);
    series.addLive(sample(NOW, 1));
    series.addLive(sample(NOW + 1000, 1));
    series.addLive(sample(NOW + 2000, 0, 'idle'));
    series.addLive(sample(NOW + 3000, 0, 'idle'));
    expect(series.points.map((p) => p.phase)).toEqual(['traffic', 'traffic', 'idle']);
  });

  it('drops what left the range and never holds more than its capacity', () => {
    const series = new ChartSeries({ capacity: 50, liveIntervalMs: 1000 });
    for (let s = 0; s < 400; s++) series.addLive(sample(NOW + s * 1000, s));
    expect(series.points).toHaveLength(50);
    const wide = new ChartSeries({ capacity: 5000, liveIntervalMs: 1000 });
    for (let s = 0; s < 400; s++) wide.addLive(sample(NOW + s * 1000, s));
    expect(wide.points.length).toBeLessThanOrEqual(300);
    expect(wide.points[0]?.t).toBeGreaterThan(NOW + 399_000 - 300_000);
  });

  it('puts fresh history in place of the live points it covers, and keeps the later ones', () => {
    const series = new ChartSeries({ capacity: 2000, liveIntervalMs: 1000 });
    series.loadHistory(readHistory(answer(slots(30, 10)), RANGES['5m'], NOW), NOW);
    for (let s = 1; s <= 25; s++) series.addLive(sample(NOW + s * 1000, 100 + s));
    // Caught up later: two more slots were recorded meanwhile.
    const later = NOW + 25_000;
    series.loadHistory(readHistory(answer(slots(32, 10, NOW + 20_000)), RANGES['5m'], later), later);
    const history = series.points.filter((p) => p.kind === 'history');
    expect(history.at(-1)?.t).toBe(NOW + 20_000);
    const live = series.points.filter((p) => p.kind === 'live');
    expect(live.map((p) => p.rps)).toEqual([121, 122, 123, 124, 125]);
    expect(series.points.some((p) => p.kind === 'gap')).toBe(false);
    expect(series.historyPoints()).toHaveLength(history.length);
  });

  it('forgets the history of the range it left', () => {
    const series = new ChartSeries({ capacity: 2000, liveIntervalMs: 1000 });
    series.loadHistory(readHistory(answer(slots(30, 10)), RANGES['5m'], NOW), NOW);
    series.addLive(sample(NOW + 1000, 5));
    series.setRange(RANGES['1h'], NOW + 1000);
    expect(series.history).toBeUndefined();
    expect(series.points.map((p) => p.kind)).toEqual(['live']);
    // A late answer for the old range is not drawn in the new one.
    series.loadHistory(readHistory(answer(slots(30, 10)), RANGES['5m'], NOW), NOW + 1000);
    expect(series.history).toBeUndefined();
  });
});
