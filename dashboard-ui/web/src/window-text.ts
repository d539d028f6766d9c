const NUMBERS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten'];

function count(n: number, unit: string): string {
  return `${NUMBERS[n] ?? String(n)} ${unit}${n === 1 ? '' : 's'}`;
}

/** A duration as a person says it: "75 seconds", "five minutes", "2 hours 30 minutes". */
export function durationText(ms: number): string {
  const seconds = Math.max(1, Math.round(ms / 1000));
  if (seconds < 120) return count(seconds, 'second');
  const minutes = Math.round(seconds / 60);
  if (minutes < 120) return count(minutes, 'minute');
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest === 0 ? count(hours, 'hour') : `${count(hours, 'hour')} ${count(rest, 'minute')}`;
}

/** The chart's accessible name, for the range it shows. */
export function chartLabel(rangeMs: number): string {
  return `Requests per second and latency over the last ${durationText(rangeMs)}; shaded stretches are idle or without data`;
}
