import { describe, expect, it } from 'vitest';
import { AlertTracker } from '../web/src/alerts.js';
import type { StatsResponse } from '../web/src/stats-types.js';
import { summarize } from '../web/src/status.js';
import { chartLabel, durationText } from '../web/src/window-text.js';

function stats(overrides: Partial<StatsResponse> = {}, lb: Record<string, unknown> = {}): StatsResponse {
  return {
    'load-balancer': {
      status: 'healthy',
      has_real_traffic: true,
      requests_per_second: 12.5,
      avg_response_time_ms: 3.2,
      p95_response_time_ms: 8,
      p99_response_time_ms: 11,
      success_rate: 100,
      ws_active_connections: 0,
      scope: 'instance',
      instances: 1,
      ...lb,
    },
    'api-gateway': { service_status: 'online' },
    auth: { service_status: 'online' },
    user_service: { service_status: 'online' },
    blog_service: { service_status: 'online' },
    database: { status: 'healthy' },
    cache: { status: 'healthy', hit_ratio: 0.5 },
    ...overrides,
  };
}

describe('overall status', () => {
  it('is HEALTHY with traffic, every service online and success at or above 95 %', () => {
    expect(summarize(stats()).overall).toBe('HEALTHY');
    expect(summarize(stats({}, { success_rate: 95 })).overall).toBe('HEALTHY');
  });

  it('is IDLE when the load balancer saw no real traffic in its window', () => {
    expect(summarize(stats({}, { has_real_traffic: false })).overall).toBe('IDLE');
  });

  it('is WARNING when the success rate with traffic drops below 95 %', () => {
    expect(summarize(stats({}, { success_rate: 94.9 })).overall).toBe('WARNING');
  });

  it('is DEGRADED when a service is offline or degraded, even while idle', () => {
    const offline = summarize(
      stats({ blog_service: { service_status: 'offline', error: 'timeout' } }, { has_real_traffic: false }),
    );
    expect(offline.overall).toBe('DEGRADED');
    expect(offline.active).toBe(4);
    expect(offline.services.find((s) => s.key === 'blog_service')).toMatchObject({
      state: 'Offline',
      detail: 'timeout',
    });
    const degraded = summarize(stats({ user_service: { service_status: 'degraded' } }));
    expect(degraded.overall).toBe('DEGRADED');
    expect(degraded.active).toBe(5);
  });

  it('treats a service missing from the answer as offline', () => {
    const { auth: _auth, ...rest } = stats();
    expect(summarize(rest).services.find((s) => s.key === 'auth')?.state).toBe('Offline');
  });

  it('is DISCONNECTED when /stats could not be read', () => {
    const summary = summarize(undefined);
    expect(summary.overall).toBe('DISCONNECTED');
    expect(summary.database).toBe('UNKNOWN');
  });

  it('shows every service as Unknown, not Offline, when /stats could not be read', () => {
    const summary = summarize(undefined);
    expect(summary.services.map((s) => [s.state, s.detail])).toEqual(
      Array.from({ length: 5 }, () => ['Unknown', 'no answer from /stats']),
    );
    expect(summary.active).toBe(0);
  });

  it('shows the data stores as ONLINE or OFFLINE and keeps the measured hit ratio', () => {
    const summary = summarize(stats({ cache: { status: 'unhealthy', hit_ratio: 0.25 } }));
    expect(summary.database).toBe('ONLINE');
    expect(summary.cache).toBe('OFFLINE');
    expect(summary.cacheHitRatio).toBe(0.25);
  });

  it('shows the data stores as UNKNOWN when user-service could not say', () => {
    const unknown = { status: 'unknown', error: 'user-service did not report it' } as const;
    const summary = summarize(stats({ database: unknown, cache: unknown }));
    expect([summary.database, summary.cache]).toEqual(['UNKNOWN', 'UNKNOWN']);
  });
});

describe('alerts', () => {
  it('raise one alert when a service goes offline, none while it stays offline, one when it returns', () => {
    const tracker = new AlertTracker();
    const down = summarize(stats({ blog_service: { service_status: 'offline', error: 'connection refused' } }));
    expect(tracker.update(summarize(stats())).map((a) => a.message)).toEqual([]);
    expect(tracker.update(down).map((a) => a.message)).toEqual(['Blog Service is offline (connection refused)']);
    expect(tracker.update(down)).toEqual([]);
    expect(tracker.update(summarize(stats())).map((a) => [a.level, a.message])).toEqual([
      ['info', 'Blog Service is back online'],
    ]);
    expect(tracker.alerts.items.map((a) => a.level)).toEqual(['info', 'critical']);
  });

  it('raise a warning when the success rate drops and ignore it while idle', () => {
    const tracker = new AlertTracker();
    expect(tracker.update(summarize(stats({}, { success_rate: 50, has_real_traffic: false })))).toEqual([]);
    expect(tracker.update(summarize(stats({}, { success_rate: 90 }))).map((a) => a.level)).toEqual(['warning']);
    expect(tracker.update(summarize(stats({}, { success_rate: 80 })))).toEqual([]);
  });

  it('report the success rate recovered only when traffic shows it back, not when traffic stops', () => {
    const tracker = new AlertTracker();
    const messages = (s: StatsResponse) => tracker.update(summarize(s)).map((a) => [a.level, a.message]);
    expect(messages(stats({}, { success_rate: 60 }))).toEqual([['warning', 'Success rate 60.0 % is below 95 %']]);
    // Traffic stops: the load balancer still reports a rate (100 with nothing counted), but it says nothing.
    expect(messages(stats({}, { has_real_traffic: false, success_rate: 100 }))).toEqual([]);
    expect(messages(stats({}, { has_real_traffic: false }))).toEqual([]);
    // Traffic returns, still failing: the alert never ended, so it is not raised again.
    expect(messages(stats({}, { success_rate: 70 }))).toEqual([]);
    expect(messages(stats({}, { has_real_traffic: false }))).toEqual([]);
    expect(messages(stats({}, { success_rate: 95 }))).toEqual([['info', 'Success rate recovered to 95.0 %']]);
    expect(messages(stats({}, { has_real_traffic: false }))).toEqual([]);
  });

  it('keep a bounded list, newest first', () => {
    const tracker = new AlertTracker(3);
    for (let i = 0; i < 5; i++) {
      tracker.update(summarize(stats({ auth: { service_status: 'offline' } })));
      tracker.update(summarize(stats()));
    }
    expect(tracker.alerts.items).toHaveLength(3);
    expect(tracker.alerts.items[0]?.message).toBe('Auth Service is back online');
  });

  it('say nothing about services while /stats is unreachable', () => {
    const tracker = new AlertTracker();
    tracker.update(summarize(stats()));
    expect(tracker.update(summarize(undefined))).toEqual([]);
    expect(tracker.update(summarize(stats()))).toEqual([]);
  });
});

describe('chart window', () => {
  it('names the window the chart really covers', () => {
    expect(durationText(150 * 2_000)).toBe('five minutes');
    expect(durationText(150 * 500)).toBe('75 seconds');
    expect(durationText(10 * 500)).toBe('five seconds');
    expect(durationText(1 * 500)).toBe('one second');
    expect(durationText(3600 * 2_000)).toBe('two hours');
    expect(durationText(3600 * 2_500)).toBe('two hours 30 minutes');
  });

  it('puts the range the chart shows in its accessible label', () => {
    expect(chartLabel(5 * 60_000)).toBe(
      'Requests per second and latency over the last five minutes; shaded stretches are idle or without data',
    );
    expect(chartLabel(3_600_000)).toContain('over the last 60 minutes;');
    expect(chartLabel(86_400_000)).toContain('over the last 24 hours;');
  });
});
