let second = Number.NaN;
let prefix = '';

/**
 * `new Date(ms).toISOString()` (UTC, milliseconds, `Z`) at a fraction of its cost for the
 * timestamps of logs and events, which come many to a second: the part up to the second is
 * formatted once per second, the milliseconds appended.
 */
export function isoTimestamp(ms: number = Date.now()): string {
  const whole = Math.floor(ms);
  const s = Math.floor(whole / 1000);
  if (s !== second) {
    // `YYYY-MM-DDTHH:MM:SS` (or `±YYYYYY-…` far out), without `.000Z`.
    prefix = new Date(s * 1000).toISOString().slice(0, -5);
    second = s;
  }
  const milli = whole - s * 1000;
  return `${prefix}.${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
}
