/** What a scenario returns when there was nothing for it to do (a delete with no post left to delete). */
export const SKIPPED = 'SKIPPED';

/** Outcomes and latencies of one scenario; memory is bounded by the number of scheduled requests. */
export class LatencyRecord {
  readonly name: string;
  readonly targetRate: number;
  #latencies: number[] = [];
  #ok = 0;
  #skipped = 0;
  readonly failures = new Map<string, number>();

  constructor(name: string, targetRate: number) {
    this.name = name;
    this.targetRate = targetRate;
  }

  /** `outcome` is an HTTP status or an error code such as ECONNREFUSED or TIMEOUT. */
  record(outcome: number | string, latencyMs: number): void {
    if (outcome === SKIPPED) {
      this.#skipped++;
      return;
    }
    this.#latencies.push(latencyMs);
    if (typeof outcome === 'number' && outcome >= 200 && outcome < 400) this.#ok++;
    else this.failures.set(String(outcome), (this.failures.get(String(outcome)) ?? 0) + 1);
  }

  get sent(): number {
    return this.#latencies.length;
  }

  get ok(): number {
    return this.#ok;
  }

  get failed(): number {
    return this.sent - this.#ok;
  }

  summary(elapsedMs: number) {
    const sorted = Float64Array.from(this.#latencies).sort();
    const at = (q: number) =>
      sorted.length === 0 ? 0 : (sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0);
    return {
      scenario: this.name,
      sent: this.sent,
      ok: this.#ok,
      failed: this.failed,
      skipped: this.#skipped,
      failures: Object.fromEntries(this.failures),
      target_rate: this.targetRate,
      achieved_rate: elapsedMs > 0 ? round((this.sent * 1000) / elapsedMs) : 0,
      p50_ms: round(at(0.5)),
      p95_ms: round(at(0.95)),
      p99_ms: round(at(0.99)),
      max_ms: round(sorted.length === 0 ? 0 : (sorted[sorted.length - 1] ?? 0)),
    };
  }
}

export type ScenarioSummary = ReturnType<LatencyRecord['summary']>;

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
