import type { HistoryPoint } from '@titanium/service-kit/stats-contract';
import { type History, RANGES, type RangeSpec } from './history.js';

export type Phase = 'traffic' | 'idle' | 'down';

/** One update of the live figures (the load balancer's 10 s window at `at`). */
export interface Sample {
  at: Date;
  phase: Phase;
  rps: number | null;
  avgMs: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
}

/**
 * One point of the chart: the figures of the stretch `from`..`t` (ms since the epoch), drawn at
 * `t`. A history point is its slot; a live point the window that ended at its arrival; a gap
 * point has no figures and stands for time nobody recorded.
 */
export interface ChartPoint {
  from: number;
  t: number;
  phase: Phase;
  kind: 'history' | 'live' | 'gap';
  rps: number | null;
  avgMs: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  /** The point as the load balancer recorded it, for export. */
  recorded?: HistoryPoint;
}

export interface SeriesOptions {
  /** The most points kept, whatever the range. */
  capacity: number;
  /** How far apart live updates are expected (the poll interval, or the stream's second). */
  liveIntervalMs: number;
}

/**
 * The chart's points over the shown range: history as the load balancer recorded it, then live
 * updates, oldest first. Gaps (slots nobody recorded, time the page did not watch) become gap
 * points, so lines break there. Never more than `capacity` points, and a range keeps at most one
 * live point per its step, so a day stays as small as five minutes.
 */
export class ChartSeries {
  readonly capacity: number;
  readonly #liveIntervalMs: number;
  #range: RangeSpec = RANGES['5m'];
  #history: History | undefined;
  #points: ChartPoint[] = [];

  constructor(options: SeriesOptions) {
    this.capacity = Math.max(2, options.capacity);
    this.#liveIntervalMs = options.liveIntervalMs;
  }

  get range(): RangeSpec {
    return this.#range;
  }

  get points(): readonly ChartPoint[] {
    return this.#points;
  }

  /** The history the chart shows, as recorded; undefined until one was loaded for this range. */
  get history(): History | undefined {
    return this.#history;
  }

  /** The recorded points still inside the shown range. */
  historyPoints(): HistoryPoint[] {
    return this.#points.flatMap((point) => (point.recorded ? [point.recorded] : []));
  }

  /** Longer than this between two points is a gap. */
  #gapMs(resolutionSeconds: number): number {
    return Math.max(3 * resolutionSeconds * 1000, 3 * this.#liveIntervalMs);
  }

  /** Shows another range: the history loaded for the old one no longer applies. */
  setRange(range: RangeSpec, now: number): void {
    this.#range = range;
    this.#history = undefined;
    this.#points = this.#points.filter((point) => point.kind !== 'history');
    this.trim(now);
  }

  /**
   * Puts the history in place of what the chart held up to its last slot; live points after it
   * stay. Used on load, on a range switch and to catch up after the page was hidden or paused.
   */
  loadHistory(history: History, now: number): void {
    if (history.range !== this.#range.key) return;
    this.#history = history;
    const resolutionMs = history.resolutionSeconds * 1000;
    const points: ChartPoint[] = [];
    let end: number | undefined;
    for (const recorded of history.points) {
      const from = Date.parse(recorded.t);
      if (end !== undefined && from - end >= resolutionMs) points.push(gap(end, from));
      const phase: Phase = recorded.has_real_traffic ? 'traffic' : 'idle';
      const traffic = phase === 'traffic';
      points.push({
        from,
        t: from + resolutionMs,
        phase,
        kind: 'history',
        rps: recorded.requests_per_second,
        avgMs: traffic ? recorded.avg_response_time_ms : null,
        p95Ms: traffic ? recorded.p95_response_time_ms : null,
        p99Ms: traffic ? recorded.p99_response_time_ms : null,
        recorded,
      });
      end = from + resolutionMs;
    }
    const after = this.#points.filter(
      (point) => point.kind !== 'history' && point.t > (end ?? Number.NEGATIVE_INFINITY),
    );
    while (after[0]?.kind === 'gap') after.shift();
    const first = after[0];
    if (first && end !== undefined) {
      if (first.t - end > this.#gapMs(history.resolutionSeconds)) {
        const start = Math.max(end, Math.min(first.from, first.t - this.#liveIntervalMs));
        points.push(gap(end, start));
        first.from = start;
      } else {
        first.from = Math.max(first.from, end);
      }
    }
    this.#points = [...points, ...after];
    this.trim(now);
  }

  /** Adds a live update; within the range's step it takes the place of the newest live point. */
  addLive(sample: Sample): void {
    const t = sample.at.getTime();
    const last = this.#points.at(-1);
    if (last && t <= last.t) return;
    const previous = this.#points.at(-2);
    if (
      last?.kind === 'live' &&
      last.phase === sample.phase &&
      previous !== undefined &&
      t - previous.t < this.#range.liveStepMs
    ) {
      this.#points[this.#points.length - 1] = live(sample, last.from);
    } else {
      let from = t - this.#liveIntervalMs;
      if (last) {
        const resolution = this.#history?.resolutionSeconds ?? this.#range.resolutionSeconds;
        if (t - last.t > this.#gapMs(resolution)) this.#points.push(gap(last.t, Math.max(last.t, from)));
        else from = last.t;
      }
      this.#points.push(live(sample, from));
    }
    this.trim(t);
  }

  /** Drops what ended before the range began, and the oldest beyond the capacity. */
  trim(now: number): void {
    const since = now - this.#range.durationMs;
    let drop = 0;
    while (drop < this.#points.length && (this.#points[drop]?.t ?? 0) <= since) drop++;
    drop = Math.max(drop, this.#points.length - this.capacity);
    // A gap means something only between two points with figures.
    while (this.#points[drop]?.kind === 'gap') drop++;
    if (drop > 0) this.#points.splice(0, drop);
  }
}

function gap(from: number, t: number): ChartPoint {
  return { from, t, phase: 'down', kind: 'gap', rps: null, avgMs: null, p95Ms: null, p99Ms: null };
}

function live(sample: Sample, from: number): ChartPoint {
  const { phase, rps, avgMs, p95Ms, p99Ms } = sample;
  return { from, t: sample.at.getTime(), phase, kind: 'live', rps, avgMs, p95Ms, p99Ms };
}
