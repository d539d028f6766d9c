import { setTimeout as sleep } from 'node:timers/promises';
import { type RedisServer, startRedis, stopAllProcesses } from '@titanium/test-support';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { OptionalRedis } from '../src/redis.js';

const log = pino({ level: 'silent' });

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(25);
  }
}

describe('OptionalRedis', () => {
  let redis: OptionalRedis | undefined;
  let server: RedisServer | undefined;

  afterEach(async () => {
    await redis?.close();
    await stopAllProcesses();
  });

  it('works while Redis is up and fails fast without throwing while it is down', async () => {
    server = await startRedis();
    redis = new OptionalRedis(server.url, log, { pingIntervalMs: 100 });
    await until(() => redis?.healthy === true);
    expect(await redis.attempt((c) => c.set('k', 'v'))).toBe('OK');
    await server.stop();
    await until(() => redis?.healthy === false);
    // Fast means without waiting on the network or a timer: the answer is there before the event
    // loop turns once. A command queued for the reconnection, or left to its command timeout,
    // needs a socket event or a timer to end, so it loses the race however busy the machine is.
    const turn = new Promise<'waited'>((resolve) => setImmediate(() => resolve('waited')));
    const answer = await Promise.race([redis.attempt((c) => c.get('k')).then((value) => ({ value })), turn]);
    expect(answer).toEqual({ value: undefined });
  });

  it('reconnects by itself when Redis comes back', async () => {
    server = await startRedis();
    redis = new OptionalRedis(server.url, log, { pingIntervalMs: 100 });
    await until(() => redis?.healthy === true);
    await server.stop();
    await until(() => redis?.healthy === false);
    server = await server.restart();
    await until(() => redis?.healthy === true, 8_000);
    expect(await redis.attempt((c) => c.set('k', 'again'))).toBe('OK');
  });

  it('gives up on a frozen Redis within the command timeout', async () => {
    server = await startRedis();
    redis = new OptionalRedis(server.url, log, { commandTimeoutMs: 150, pingIntervalMs: 10_000 });
    await until(() => redis?.healthy === true);
    server.freeze();
    const startedAt = Date.now();
    expect(await redis.attempt((c) => c.get('k'))).toBeUndefined();
    expect(Date.now() - startedAt).toBeLessThan(1_000);
    expect(redis.healthy).toBe(false);
    server.resume();
    expect(await redis.check()).toBe(true);
    expect(redis.healthy).toBe(true);
  });
});
