const MIN_MS = 0.05;
const MAX_MS = 120_000;
/** Each bucket is 10 % wider than the one before, so a quantile is off by at most 10 %. */
const GROWTH = 1.1;
const LOG_GROWTH = Math.log(GROWTH);
const BUCKETS = Math.ceil(Math.log(MAX_MS / MIN_MS) / LOG_GROWTH) + 1;

/** Latencies in fixed log-spaced buckets: O(1) to record, fixed memory, quantiles on demand. */
export class LatencyHistogram {
  readonly #counts = new Float64Array(BUCKETS);
  #count = 0;
  #sumMs = 0;
  #maxMs = 0;

  record(ms: number): void {
    const value = Number.isFinite(ms) && ms > 0 ? ms : 0;
    const index = value <= MIN_MS ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(value / MIN_MS) / LOG_GROWTH));
    this.#counts[index] = (this.#counts[index] ?? 0) + 1;
    this.#count++;
    this.#sumMs += value;
    if (value > this.#maxMs) this.#maxMs = value;
  }

  get count(): number {
    return this.#count;
  }

  mean(): number {
    return this.#count === 0 ? 0 : this.#sumMs / this.#count;
  }

  /** The upper bound of the bucket holding the q-quantile (never above the largest value seen). */
  quantile(q: number): number {
    if (this.#count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.#count));
    let seen = 0;
    for (let index = 0; index < BUCKETS; index++) {
      seen += this.#counts[index] ?? 0;
      // The last bucket is open-ended: its only honest bound is the largest value seen.
      if (seen >= rank) return index === BUCKETS - 1 ? this.#maxMs : Math.min(this.#maxMs, MIN_MS * GROWTH ** index);
    }
    return this.#maxMs;
  }
}
