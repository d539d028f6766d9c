import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../src/latency-histogram.js';

describe('latency histogram', () => {
  it('reports percentiles within 1 % of the recorded values', () => {
    const histogram = new LatencyHistogram();
    for (let ms = 1; ms <= 1000; ms++) histogram.record(ms);
    expect(histogram.percentile(50)).toBeCloseTo(500, -1);
    expect(Math.abs(histogram.percentile(95) - 950) / 950).toBeLessThan(0.01);
    expect(Math.abs(histogram.percentile(99) - 990) / 990).toBeLessThan(0.01);
    expect(histogram.percentile(100)).toBeLessThanOrEqual(1010);
  });

  it('merges through its sparse form exactly as it was, ignoring malformed entries', () => {
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    for (const ms of [0.2, 3, 3, 40, 12_000]) a.record(ms);
    b.addSparse(a.toSparse());
    b.addSparse(['x', 1, -1, 5, 3, 1.5, 99_999, 1]);
    expect(b.total).toBe(a.total);
    expect(Array.from(b.counts)).toEqual(Array.from(a.counts));
  });

  it('reports 0 before anything is recorded', () => {
    expect(new LatencyHistogram().percentile(95)).toBe(0);
  });

  it('copes with values that are not latencies', () => {
    const histogram = new LatencyHistogram();
    for (const ms of [0, -1, Number.NaN, 3, 3, 3]) histogram.record(ms);
    expect(histogram.total).toBe(6);
    expect(histogram.percentile(100)).toBeCloseTo(3, 1);
  });

  it('keeps values beyond its range in its edge buckets', () => {
    const histogram = new LatencyHistogram();
    histogram.record(0);
    histogram.record(10_000_000);
    expect(histogram.percentile(1)).toBeLessThan(0.01);
    expect(histogram.percentile(100)).toBeGreaterThan(100_000);
  });
});
