/** A latency as the page shows it: one decimal below 100 ms, none above. */
export function ms(value: number): string {
  return `${value.toFixed(value >= 100 ? 0 : 1)} ms`;
}

export function percent(value: number): string {
  return `${value.toFixed(1)} %`;
}

/** A time of day, 24-hour. */
export function clock(at: Date): string {
  return at.toLocaleTimeString([], { hour12: false });
}

/** A time of day, 24-hour, to the millisecond: calls a few ms apart stay apart. */
export function clockMs(at: Date): string {
  return `${clock(at)}.${String(at.getMilliseconds()).padStart(3, '0')}`;
}
