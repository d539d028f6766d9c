import type { TrafficFields } from './stats-contract.js';

/** Lifetime counters of a service's own traffic: O(1) per request, fixed memory. */
export class TrafficCounters {
  #requests = 0;
  #inFlight = 0;
  #aborted = 0;
  readonly #byClass: [number, number, number, number, number] = [0, 0, 0, 0, 0];
  #totalMs = 0;
  #maxMs = 0;

  started(): void {
    this.#requests++;
    this.#inFlight++;
  }

  finished(statusCode: number, elapsedMs: number, aborted: boolean): void {
    this.#inFlight--;
    if (aborted) this.#aborted++;
    else {
      const cls = Math.floor(statusCode / 100) - 1;
      if (cls >= 0 && cls < 5) this.#byClass[cls] = (this.#byClass[cls] ?? 0) + 1;
    }
    this.#totalMs += elapsedMs;
    if (elapsedMs > this.#maxMs) this.#maxMs = elapsedMs;
  }

  snapshot(): TrafficFields {
    const completed = this.#requests - this.#inFlight;
    const [c1, c2, c3, c4, c5] = this.#byClass;
    return {
      requests_total: this.#requests,
      requests_in_flight: this.#inFlight,
      responses: { '1xx': c1, '2xx': c2, '3xx': c3, '4xx': c4, '5xx': c5, aborted: this.#aborted },
      avg_response_time_ms: completed > 0 ? round(this.#totalMs / completed) : 0,
      max_response_time_ms: round(this.#maxMs),
    };
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
