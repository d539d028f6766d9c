import { type Component, redisComponent, type Stack, startStack } from '@titanium/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runWithRedisFreeze } from '../src/redis-freeze.js';

// The acceptance of the event log under faults: the seed's mixed load at 100 requests/s with
// Redis frozen for 10 s in the middle. How its p99 compares with a run without the freeze is
// `npm run bench:freeze`'s to measure; here, what must hold whatever the machine's speed.
describe('the mixed load while Redis is frozen for 10 s', () => {
  let redis: Component;
  let stack: Stack;

  beforeAll(async () => {
    redis = await redisComponent();
    stack = await startStack({ REDIS_URL: redis.url });
  }, 90_000);

  afterAll(async () => {
    await stack?.stop();
    await redis?.stop();
  });

  it('fails no request, shows the waiting events in /stats, and logs every post created exactly once', async () => {
    const { load, peaks, posts } = await runWithRedisFreeze({
      url: stack.url('load-balancer'),
      seconds: 16,
      freeze: { atS: 3, forS: 10, stop: () => redis.freeze(), resume: () => redis.resume() },
    });
    expect(load.total.failed, JSON.stringify(load.scenarios)).toBe(0);
    expect(load.total.sent).toBe(1600);
    // The gateway's API-call events waited in its buffer, the blog's post.created in its outbox.
    expect(peaks.failing).toBe(true);
    expect(peaks.buffered).toBeGreaterThan(100);
    expect(peaks.outboxPending).toBeGreaterThan(0);
    expect(posts.created).toBe(5 + 64);
    expect(posts).toMatchObject({ duplicates: 0, missing: 0 });
  }, 120_000);
});
