import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ConfigError, type Env, loadConfig, readRedisUrl } from '../../src/config.js';
import { MemorySink } from '../../src/messaging/memory-sink.js';
import { createSink, readMessagingConfig } from '../../src/messaging/messaging.js';
import { opsAuthorized } from '../../src/messaging/ops-token.js';
import { RedisStreamsSink } from '../../src/messaging/redis-sink.js';

const REDIS = { REDIS_URL: 'redis://127.0.0.1:6379' };

function read(env: Env) {
  return loadConfig((reader) => readMessagingConfig(reader, readRedisUrl(reader)), env);
}

function problems(env: Env): readonly string[] {
  try {
    read(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error(`no problem with ${JSON.stringify(env)}`);
}

describe('readMessagingConfig', () => {
  it('defaults to Redis Streams when Redis is configured', () => {
    expect(read(REDIS)).toEqual({
      type: 'redis',
      maxEvents: 100_000,
      bufferEvents: 10_000,
      flushIntervalMs: 100,
      redis: { url: 'redis://127.0.0.1:6379', prefix: 'titanium:events' },
      opsToken: undefined,
    });
  });

  it('defaults to memory without Redis, with a smaller ring', () => {
    expect(read({})).toEqual({
      type: 'memory',
      maxEvents: 10_000,
      bufferEvents: 10_000,
      flushIntervalMs: 100,
      opsToken: undefined,
    });
    expect(read({ MESSAGING_TYPE: '  ' }).type).toBe('memory');
  });

  it('reads every setting', () => {
    expect(
      read({
        ...REDIS,
        MESSAGING_TYPE: 'redis',
        MESSAGING_MAX_EVENTS: '5000',
        MESSAGING_BUFFER_EVENTS: '50',
        MESSAGING_FLUSH_INTERVAL_MS: '20ms',
        MESSAGING_REDIS_PREFIX: 'site11:events',
        OPS_TOKEN: ' s3cret ',
      }),
    ).toEqual({
      type: 'redis',
      maxEvents: 5000,
      bufferEvents: 50,
      flushIntervalMs: 20,
      redis: { url: 'redis://127.0.0.1:6379', prefix: 'site11:events' },
      opsToken: 's3cret',
    });
    expect(read({ ...REDIS, MESSAGING_TYPE: 'memory' }).type).toBe('memory');
    expect(read({ ...REDIS, MESSAGING_TYPE: 'none' }).type).toBe('none');
  });

  it.each([
    ['kafka', 'Kafka'],
    ['eventhub', 'Azure Event Hubs'],
  ])('refuses %s in one problem saying this build has no sink for it yet', (type, name) => {
    for (const env of [{ MESSAGING_TYPE: type }, { ...REDIS, MESSAGING_TYPE: type }]) {
      const found = problems(env);
      expect(found).toHaveLength(1);
      expect(found[0]).toBe(
        `MESSAGING_TYPE must be redis, memory or none: this build does not support ${name} yet; got "${type}"`,
      );
    }
  });

  it('names the allowed types for an unknown one', () => {
    const found = problems({ ...REDIS, MESSAGING_TYPE: 'rabbitmq' });
    expect(found).toEqual(['MESSAGING_TYPE must be one of redis, memory, none, kafka, eventhub; got "rabbitmq"']);
  });

  it('refuses redis when no Redis is configured', () => {
    const found = problems({ MESSAGING_TYPE: 'redis' });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^MESSAGING_TYPE must be memory or none when no Redis is configured/);
    expect(read({ REDIS_HOST: 'redis', MESSAGING_TYPE: 'redis' }).redis?.url).toMatch(/^redis:\/\/redis:6379/);
  });

  it('holds MESSAGING_MAX_EVENTS and MESSAGING_BUFFER_EVENTS to their bounds', () => {
    expect(read({ MESSAGING_MAX_EVENTS: '100' }).maxEvents).toBe(100);
    expect(read({ MESSAGING_MAX_EVENTS: '10000000' }).maxEvents).toBe(10_000_000);
    for (const value of ['99', '10000001', '0', '-5', '1e4', '12.5', 'lots']) {
      expect(problems({ MESSAGING_MAX_EVENTS: value })).toEqual([
        `MESSAGING_MAX_EVENTS must be an integer from 100 to 10000000; got ${JSON.stringify(value)}`,
      ]);
    }
    expect(problems({ MESSAGING_BUFFER_EVENTS: '9' })).toEqual([
      'MESSAGING_BUFFER_EVENTS must be an integer from 10 to 1000000; got "9"',
    ]);
  });

  it('reports every bad setting at once', () => {
    expect(problems({ MESSAGING_TYPE: 'kafka', MESSAGING_MAX_EVENTS: '1', MESSAGING_BUFFER_EVENTS: 'x' })).toHaveLength(
      3,
    );
  });
});

describe('createSink', () => {
  const log = pino({ level: 'silent' });

  it('makes the sink the type names, and none for none', async () => {
    const memory = createSink(read({ MESSAGING_MAX_EVENTS: '100' }), log);
    expect(memory).toBeInstanceOf(MemorySink);
    expect(memory?.type).toBe('memory');
    expect(createSink(read({ MESSAGING_TYPE: 'none' }), log)).toBeUndefined();
    // A Redis sink does not need Redis to be there to be made.
    const redis = createSink(read({ REDIS_URL: 'redis://127.0.0.1:1' }), log);
    expect(redis).toBeInstanceOf(RedisStreamsSink);
    await redis?.close();
  });

  it('refuses a type this build has no sink for', () => {
    const config = {
      type: 'kafka',
      maxEvents: 100,
      bufferEvents: 10,
      flushIntervalMs: 100,
      opsToken: undefined,
    } as const;
    expect(() => createSink(config, log)).toThrow(/no Kafka sink/);
  });
});

describe('opsAuthorized', () => {
  it('lets anyone in when no token is configured', () => {
    expect(opsAuthorized(undefined, undefined)).toBe(true);
    expect(opsAuthorized('Bearer whatever', undefined)).toBe(true);
  });

  it('takes only the configured token as a bearer token', () => {
    const token = 'ops-3f9c';
    expect(opsAuthorized(`Bearer ${token}`, token)).toBe(true);
    for (const header of [
      undefined,
      '',
      'Bearer',
      'Bearer ',
      token,
      `Basic ${token}`,
      `Bearer ${token}x`,
      `Bearer ${token.slice(0, -1)}`,
      `Bearer  ${token}`,
      'Bearer ops-0000',
    ]) {
      expect(opsAuthorized(header, token), String(header)).toBe(false);
    }
  });

  it('never takes an empty token', () => {
    expect(opsAuthorized('Bearer ', '')).toBe(false);
    expect(opsAuthorized(undefined, '')).toBe(false);
  });
});
