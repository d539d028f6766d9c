/**
 * A fixed-size latency histogram with logarithmic buckets 2 % wide, from 1 µs to 2 minutes:
 * recording is one logarithm and one increment, memory is ~950 counters whatever the traffic,
 * and two histograms merge by adding counters, so instances can share them through Redis.
 */
const MIN_MS = 0.001;
const MAX_MS = 120_000;
const GROWTH = 1.02;
const LOG_GROWTH = Math.log(GROWTH);
export const HISTOGRAM_BUCKETS = Math.ceil(Math.log(MAX_MS / MIN_MS) / LOG_GROWTH) + 2;

function bucketOf(ms: number): number {
  if (!(ms > MIN_MS)) return 0;
  const index = Math.floor(Math.log(ms / MIN_MS) / LOG_GROWTH) + 1;
  return index < HISTOGRAM_BUCKETS ? index : HISTOGRAM_BUCKETS - 1;
}

/** The geometric middle of a bucket: within 1 % of every value recorded in it. */
function bucketValue(index: number): number {
  return index === 0 ? MIN_MS : MIN_MS * GROWTH ** (index - 0.5);
}

export class LatencyHistogram {
  readonly counts = new Uint32Array(HISTOGRAM_BUCKETS);
  total = 0;

  record(ms: number): void {
    const index = bucketOf(ms);
    this.counts[index] = (this.counts[index] ?? 0) + 1;
    this.total++;
  }

  reset(): void {
    if (this.total === 0) return;
    this.counts.fill(0);
    this.total = 0;
  }

  /** Adds `other`'s counts, each times `weight` (rounded) when only part of what it covers is wanted. */
  add(other: LatencyHistogram, weight = 1): void {
    if (other.total === 0 || weight <= 0) return;
    const mine = this.counts;
    const theirs = other.counts;
    if (weight >= 1) {
      for (let i = 0; i < HISTOGRAM_BUCKETS; i++) mine[i] = (mine[i] ?? 0) + (theirs[i] ?? 0);
      this.total += other.total;
      return;
    }
    for (let i = 0; i < HISTOGRAM_BUCKETS; i++) {
      const count = theirs[i] ?? 0;
      if (count === 0) continue;
      const added = Math.round(count * weight);
      mine[i] = (mine[i] ?? 0) + added;
      this.total += added;
    }
  }

  /** Non-empty buckets as a flat `[index, count, index, count, …]` list, for JSON. */
  toSparse(): number[] {
    const pairs: number[] = [];
    if (this.total === 0) return pairs;
    this.counts.forEach((count, index) => {
      if (count > 0) pairs.push(index, count);
    });
    return pairs;
  }

  /** Adds a list made by toSparse, each count times `weight` (rounded); malformed entries are ignored. */
  addSparse(pairs: unknown, weight = 1): void {
    if (!Array.isArray(pairs) || weight <= 0) return;
    for (let i = 0; i + 1 < pairs.length; i += 2) {
      const index = pairs[i];
      const count = pairs[i + 1];
      if (!Number.isInteger(index) || index < 0 || index >= HISTOGRAM_BUCKETS) continue;
      if (!Number.isInteger(count) || count <= 0) continue;
      const added = weight >= 1 ? count : Math.round(count * weight);
      this.counts[index] = (this.counts[index] ?? 0) + added;
      this.total += added;
    }
  }

  /** The value below which `percent` % of recordings fall; 0 when empty. */
  percentile(percent: number): number {
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil((percent / 100) * this.total));
    let seen = 0;
    for (let i = 0; i < HISTOGRAM_BUCKETS; i++) {
      seen += this.counts[i] ?? 0;
      if (seen >= rank) return bucketValue(i);
    }
    return bucketValue(HISTOGRAM_BUCKETS - 1);
  }
}
