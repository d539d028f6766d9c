import { LatencyHistogram } from '@titanium/service-kit';

/** What the gateway saw of one upstream since it started. */
export class UpstreamStats {
  #requests = 0;
  #errors = 0;
  #sumMs = 0;
  readonly #latency = new LatencyHistogram();

  /** One proxied request finished: `statusCode` as the client got it, or undefined when the client left. */
  record(statusCode: number | undefined, elapsedMs: number): void {
    this.#requests++;
    if (statusCode !== undefined && statusCode >= 500) this.#errors++;
    this.#sumMs += elapsedMs;
    this.#latency.record(elapsedMs);
  }

  snapshot() {
    return {
      requests: this.#requests,
      errors: this.#errors,
      avg_response_time_ms: this.#requests === 0 ? 0 : round(this.#sumMs / this.#requests),
      p95_response_time_ms: round(this.#latency.percentile(95)),
    };
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
