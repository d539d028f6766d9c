import { describe, expect, it } from 'vitest';
import { ActivityCounter, activityText, seriesOf } from '../web/src/activity.js';
import type { ActivityEvent } from '../web/src/events.js';

const MINUTE = 60_000;
// 03:29:30, half-way through the minute: the range is 03:00 to 03:29.
const NOW = Date.parse('2026-12-02T03:29:30.000Z');
const minute = (m: number, s = 0) => Date.parse('2026-12-02T03:00:00.000Z') + m * MINUTE + s * 1000;

let next = 0;
function event(type: ActivityEvent['type'], at: number, success?: boolean, id = `e${++next}`): ActivityEvent {
  return { id, at, type, success: type === 'user.login' ? success === true : undefined };
}

describe('activity per minute', () => {
  it('counts sign-ups, logins, failed logins and posts in the minute each happened, over the last 30 minutes', () => {
    const counter = new ActivityCounter();
    counter.add(event('user.created', minute(0, 1)), NOW);
    counter.add(event('user.created', minute(0, 59)), NOW);
    counter.add(event('user.login', minute(1, 0), true), NOW);
    counter.add(event('user.login', minute(1, 30), false), NOW);
    counter.add(event('user.login', minute(29, 10), false), NOW);
    counter.add(event('post.created', minute(29, 29)), NOW);
    const minutes = counter.perMinute(NOW);
    expect(minutes).toHaveLength(30);
    expect(minutes[0]).toEqual({ start: minute(0), signups: 2, logins: 0, failedLogins: 0, posts: 0 });
    expect(minutes[1]).toEqual({ start: minute(1), signups: 0, logins: 1, failedLogins: 1, posts: 0 });
    expect(minutes[29]).toEqual({ start: minute(29), signups: 0, logins: 0, failedLogins: 1, posts: 1 });
    expect(minutes.slice(2, 29).every((m) => m.signups + m.logins + m.failedLogins + m.posts === 0)).toBe(true);
    expect(counter.totals(NOW)).toEqual({ signups: 2, logins: 1, failedLogins: 2, posts: 1 });
  });

  it('counts an event once, however often the backlog and the stream bring it', () => {
    const counter = new ActivityCounter();
    const signup = event('user.created', minute(10));
    expect(counter.add(signup, NOW)).toBe(true);
    expect(counter.add({ ...signup }, NOW)).toBe(false);
    expect(counter.totals(NOW).signups).toBe(1);
  });

  it('leaves out post updates and deletions, events before the range, and events dated far ahead', () => {
    const counter = new ActivityCounter();
    expect(counter.add(event('post.updated', minute(5)), NOW)).toBe(false);
    expect(counter.add(event('post.deleted', minute(5)), NOW)).toBe(false);
    expect(counter.add(event('user.created', minute(-1, 59)), NOW)).toBe(false);
    expect(counter.add(event('user.created', NOW + 6 * MINUTE), NOW)).toBe(false);
    // A little ahead (the server's clock a bit fast) counts as now.
    expect(counter.add(event('user.created', NOW + 40_000), NOW)).toBe(true);
    expect(counter.perMinute(NOW)[29]?.signups).toBe(1);
    expect(counter.totals(NOW)).toEqual({ signups: 1, logins: 0, failedLogins: 0, posts: 0 });
  });

  it('moves with the clock: a minute that leaves the range is no longer counted', () => {
    const counter = new ActivityCounter();
    counter.add(event('post.created', minute(0, 5)), NOW);
    counter.add(event('post.created', minute(1, 5)), NOW);
    expect(counter.totals(NOW).posts).toBe(2);
    const later = NOW + MINUTE;
    const minutes = counter.perMinute(later);
    expect(minutes[0]?.start).toBe(minute(1));
    expect(minutes[0]?.posts).toBe(1);
    expect(minutes[29]?.start).toBe(minute(30));
    expect(counter.totals(later).posts).toBe(1);
  });

  it('remembers a bounded number of ids', () => {
    const counter = new ActivityCounter(30, 3);
    const first = event('user.created', minute(3));
    counter.add(first, NOW);
    for (let i = 0; i < 3; i++) counter.add(event('user.created', minute(4)), NOW);
    // Forgotten: a fourth copy counts again, the price of bounded memory (the backlog is newest first, so rare).
    expect(counter.add({ ...first }, NOW)).toBe(true);
  });

  it('names each series and writes the totals as text', () => {
    expect(seriesOf(event('user.login', 0, true))).toBe('logins');
    expect(seriesOf(event('user.login', 0, false))).toBe('failedLogins');
    expect(seriesOf(event('post.updated', 0))).toBeUndefined();
    expect(activityText({ signups: 1, logins: 2, failedLogins: 1, posts: 0 })).toBe(
      '1 sign-up · 2 logins · 1 failed login · 0 posts',
    );
  });
});
