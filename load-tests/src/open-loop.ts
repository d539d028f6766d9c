import { setTimeout as sleep } from 'node:timers/promises';

export interface OpenLoopOptions {
  /** Requests per second; 0 sends nothing. */
  rate: number;
  durationMs: number;
  /** Called at each scheduled moment with the request's index and its scheduled time (performance.now()). */
  fire: (index: number, scheduledAt: number) => Promise<void>;
  /** Stops scheduling early (completed requests are still awaited). */
  signal?: AbortSignal;
}

export interface OpenLoopResult {
  scheduled: number;
  /** Largest delay between a request's scheduled moment and its actual start: the generator's own lag. */
  maxStartLagMs: number;
}

/**
 * Sends at an exact rate whether or not earlier requests have finished (an open loop): request i
 * is due at start + i / rate. A slow server then shows up as latency, not as a lower rate.
 */
export async function openLoop({ rate, durationMs, fire, signal }: OpenLoopOptions): Promise<OpenLoopResult> {
  const total = Math.floor((rate * durationMs) / 1000);
  const interval = 1000 / rate;
  const start = performance.now();
  const pending = new Set<Promise<void>>();
  let maxStartLagMs = 0;
  let index = 0;
  while (index < total && !signal?.aborted) {
    const now = performance.now();
    const due = start + index * interval;
    if (due > now + 1) {
      await sleep(due - now);
      continue;
    }
    maxStartLagMs = Math.max(maxStartLagMs, now - due);
    const request = fire(index, due).catch(() => undefined);
    pending.add(request);
    void request.finally(() => pending.delete(request));
    index++;
  }
  await Promise.all(pending);
  return { scheduled: index, maxStartLagMs };
}
