import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../src/latency-histogram.js';

describe('LatencyHistogram', () => {
  it('reports 0 before anything is recorded', () => {
    const histogram = new LatencyHistogram();
    expect(histogram.mean()).toBe(0);
    expect(histogram.quantile(0.95)).toBe(0);
  });

  it('gives the mean exactly and the 95th percentile within 10 %', () => {
    const histogram = new LatencyHistogram();
    for (let ms = 1; ms <= 1000; ms++) histogram.record(ms);
    expect(histogram.count).toBe(1000);
    expect(histogram.mean()).toBeCloseTo(500.5, 6);
    const p95 = histogram.quantile(0.95);
    expect(p95).toBeGreaterThanOrEqual(950);
    expect(p95).toBeLessThanOrEqual(950 * 1.1);
  });

  it('never reports a quantile above the slowest request, and copes with odd values', () => {
    const histogram = new LatencyHistogram();
    for (const ms of [0, -1, Number.NaN, 0.001, 3, 3, 3, 1e9]) histogram.record(ms);
    expect(histogram.quantile(1)).toBe(1e9);
    expect(histogram.quantile(0.5)).toBeLessThanOrEqual(3);
  });
});
