/**
 * How long to wait before the next attempt after `failures` failed ones in a row: `baseMs`, doubled
 * after each further failure, never more than `maxMs`.
 */
export function retryDelay(failures: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, failures - 1));
}
