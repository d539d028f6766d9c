import { LatencyHistogram } from './latency-histogram.js';

/** What the gateway saw of one upstream since it started. */
export class UpstreamStats {
  #requests = 0;
  #errors = 0;
  readonly #latency = new LatencyHistogram();

  /** One proxied request finished: `statusCode` as the client got it, or undefined when the client left. */
  record(statusCode: number | undefined, elapsedMs: number): void {
    this.#requests++;
    if (statusCode !== undefined && statusCode >= 500) this.#errors++;
    this.#latency.record(elapsedMs);
  }

  snapshot() {
    return {
      requests: this.#requests,
      errors: this.#errors,
      avg_response_time_ms: round(this.#latency.mean()),
      p95_response_time_ms: round(this.#latency.quantile(0.95)),
    };
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
