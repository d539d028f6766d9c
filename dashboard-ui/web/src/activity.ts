import type { ActivityEvent } from './events.js';

/** How far back the activity line goes, in minutes (the current one included). */
export const ACTIVITY_MINUTES = 30;
const MINUTE_MS = 60_000;

/** What the activity line counts, and of which events. */
export const ACTIVITY_SERIES = ['signups', 'logins', 'failedLogins', 'posts'] as const;
export type ActivitySeries = (typeof ACTIVITY_SERIES)[number];

export const ACTIVITY_LABELS: Record<ActivitySeries, { one: string; many: string }> = {
  signups: { one: 'sign-up', many: 'sign-ups' },
  logins: { one: 'login', many: 'logins' },
  failedLogins: { one: 'failed login', many: 'failed logins' },
  posts: { one: 'post', many: 'posts' },
};

/** The series an event counts in: `user.created`, `user.login` (by its outcome), `post.created`; none for others. */
export function seriesOf(event: ActivityEvent): ActivitySeries | undefined {
  switch (event.type) {
    case 'user.created':
      return 'signups';
    case 'user.login':
      return event.success ? 'logins' : 'failedLogins';
    case 'post.created':
      return 'posts';
    default:
      return undefined;
  }
}

export type ActivityCounts = Record<ActivitySeries, number>;

export interface ActivityMinute extends ActivityCounts {
  /** The minute's start (ms since the epoch). */
  start: number;
}

function zero(): ActivityCounts {
  return { signups: 0, logins: 0, failedLogins: 0, posts: 0 };
}

/** An event dated this far ahead of the page's clock is taken as now (the clocks differ a little); further, it is left out. */
const CLOCK_SLACK_MS = 5 * MINUTE_MS;

/**
 * Domain events counted per minute over the last `minutes` minutes (the current one included).
 * It keeps counts, not events, so memory stays small however many arrive; an event is counted
 * once by its id (the backlog and the stream overlap), remembering the last `rememberIds` ids.
 */
export class ActivityCounter {
  readonly minutes: number;
  readonly #buckets = new Map<number, ActivityCounts>();
  readonly #ids = new Set<string>();
  readonly #order: string[] = [];
  readonly #rememberIds: number;

  constructor(minutes = ACTIVITY_MINUTES, rememberIds = 5000) {
    this.minutes = minutes;
    this.#rememberIds = rememberIds;
  }

  #since(now: number): number {
    return Math.floor(now / MINUTE_MS) * MINUTE_MS - (this.minutes - 1) * MINUTE_MS;
  }

  /** Counts the event as of `now`; returns whether it was counted (a new event of a counted type, inside the range). */
  add(event: ActivityEvent, now: number): boolean {
    const series = seriesOf(event);
    if (!series || this.#ids.has(event.id)) return false;
    if (event.at > now + CLOCK_SLACK_MS) return false;
    const at = Math.min(event.at, now);
    if (at < this.#since(now)) return false;
    this.#ids.add(event.id);
    this.#order.push(event.id);
    if (this.#order.length > this.#rememberIds) this.#ids.delete(this.#order.shift() as string);
    const start = Math.floor(at / MINUTE_MS) * MINUTE_MS;
    let bucket = this.#buckets.get(start);
    if (!bucket) {
      bucket = zero();
      this.#buckets.set(start, bucket);
      this.#prune(now);
    }
    bucket[series]++;
    return true;
  }

  #prune(now: number): void {
    const since = this.#since(now);
    for (const start of this.#buckets.keys()) if (start < since) this.#buckets.delete(start);
  }

  /** Every minute of the range as of `now`, oldest first, the current (still open) minute last. */
  perMinute(now: number): ActivityMinute[] {
    this.#prune(now);
    const since = this.#since(now);
    return Array.from({ length: this.minutes }, (_, i) => {
      const start = since + i * MINUTE_MS;
      return { start, ...(this.#buckets.get(start) ?? zero()) };
    });
  }

  /** The sums over the range as of `now`. */
  totals(now: number): ActivityCounts {
    const totals = zero();
    for (const minute of this.perMinute(now)) for (const series of ACTIVITY_SERIES) totals[series] += minute[series];
    return totals;
  }
}

/** `3 sign-ups · 1 login · 0 failed logins · 2 posts` */
export function activityText(totals: ActivityCounts): string {
  return ACTIVITY_SERIES.map((series) => {
    const n = totals[series];
    return `${n} ${n === 1 ? ACTIVITY_LABELS[series].one : ACTIVITY_LABELS[series].many}`;
  }).join(' · ');
}
