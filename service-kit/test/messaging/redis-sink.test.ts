import { type RedisServer, startRedis, stopAllProcesses } from '@titanium/test-support';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TitaniumEvent } from '../../src/events-contract.js';
import { RedisStreamsSink } from '../../src/messaging/redis-sink.js';
import { apiEvent, batch, domainEvent, ids } from './events.js';

const log = pino({ level: 'silent' });

let server: RedisServer;
let client: Redis;

beforeAll(async () => {
  server = await startRedis();
  client = new Redis(server.url);
});

afterAll(async () => {
  client.disconnect();
  await stopAllProcesses();
});

async function streamIds(key: string): Promise<string[]> {
  const entries = await client.xrange(key, '-', '+');
  return entries.map(([, fields]) => (JSON.parse(fields[1] as string) as TitaniumEvent).id);
}

async function ready(sink: RedisStreamsSink): Promise<void> {
  await expect.poll(() => sink.healthy).toBe(true);
}

describe('RedisStreamsSink', () => {
  it('writes api and domain events to their own streams, each in the order published', async () => {
    const sink = new RedisStreamsSink({ url: server.url, prefix: 'kinds', maxEvents: 1000 }, log);
    await ready(sink);
    const events: TitaniumEvent[] = [];
    for (let i = 0; i < 20; i++) events.push(i % 3 === 0 ? domainEvent(`d${i}`, i) : apiEvent(`a${i}`, i));
    await sink.publish(events, batch());
    expect(await streamIds('kinds:api')).toEqual(ids(events.filter((e) => e.kind === 'api')));
    expect(await streamIds('kinds:domain')).toEqual(ids(events.filter((e) => e.kind === 'domain')));
    // The event is stored whole, as JSON in one field.
    const [first] = await client.xrange('kinds:domain', '-', '+', 'COUNT', 1);
    expect(first?.[1]).toEqual(['event', JSON.stringify(events[0])]);
    await sink.close();
  });

  it('takes a batch once however often it is sent under the same id, and remembers the id only for a while', async () => {
    const sink = new RedisStreamsSink({ url: server.url, prefix: 'once', maxEvents: 1000 }, log);
    await ready(sink);
    const events = [apiEvent('o1', 1), domainEvent('o2', 2), apiEvent('o3', 3)];
    const id = batch();
    for (let i = 0; i < 3; i++) await sink.publish(events, id);
    expect(await streamIds('once:api')).toEqual(['o1', 'o3']);
    expect(await streamIds('once:domain')).toEqual(['o2']);
    // Another id is another batch.
    await sink.publish([apiEvent('o4', 4)], batch());
    expect(await streamIds('once:api')).toEqual(['o1', 'o3', 'o4']);
    const ttl = await client.ttl(`once:batch:${id}`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(600);
    await sink.close();
  });

  it('keeps each stream near maxEvents however many are published', async () => {
    const maxEvents = 100;
    const sink = new RedisStreamsSink({ url: server.url, prefix: 'trim', maxEvents }, log);
    await ready(sink);
    let n = 0;
    for (let round = 0; round < 20; round++) {
      const events: TitaniumEvent[] = [];
      for (let i = 0; i < 100; i++, n++) events.push(n % 2 === 0 ? apiEvent(`a${n}`, n) : domainEvent(`d${n}`, n));
      await sink.publish(events, batch());
    }
    for (const kind of ['api', 'domain']) {
      const length = await client.xlen(`trim:${kind}`);
      // `MAXLEN ~` trims whole stream nodes (100 entries each by default), never below the bound.
      expect(length).toBeGreaterThanOrEqual(maxEvents);
      expect(length).toBeLessThanOrEqual(maxEvents + 100);
      // What is kept is the newest.
      const newest = await client.xrevrange(`trim:${kind}`, '+', '-', 'COUNT', 1);
      expect(JSON.parse(newest[0]?.[1][1] as string).id).toBe(kind === 'api' ? 'a1998' : 'd1999');
    }
    await sink.close();
  });

  it('reads each stream back as a source: older newest first, newer oldest first, and its head', async () => {
    const sink = new RedisStreamsSink({ url: server.url, prefix: 'read', maxEvents: 1000 }, log);
    await ready(sink);
    const [api, domain] = sink.sources();
    expect(api?.name).toBe('api');
    expect(domain?.kinds).toEqual(['domain']);
    if (!api) throw new Error('no api source');
    expect(await api.head()).toBeUndefined();
    expect(await api.older(undefined, 5)).toEqual([]);
    await sink.publish(
      Array.from({ length: 10 }, (_, i) => apiEvent(`e${i}`, i)),
      batch(),
    );
    const newest = await api.older(undefined, 4);
    expect(newest.map((entry) => entry.event.id)).toEqual(['e9', 'e8', 'e7', 'e6']);
    expect(await api.head()).toBe(newest[0]?.position);
    const before = await api.older(newest[3]?.position, 100);
    expect(before.map((entry) => entry.event.id)).toEqual(['e5', 'e4', 'e3', 'e2', 'e1', 'e0']);
    const after = await api.newer(before[1]?.position, 3);
    expect(after.map((entry) => entry.event.id)).toEqual(['e5', 'e6', 'e7']);
    expect((await api.newer(undefined, 2)).map((entry) => entry.event.id)).toEqual(['e0', 'e1']);
    // A position it never gave out (a stale or tampered cursor) reads as the very start: nothing
    // is older, everything is newer, and Redis is not taken for down.
    expect(await api.older('not-a-position', 5)).toEqual([]);
    expect(await api.older('0-0', 5)).toEqual([]);
    expect((await api.newer('not-a-position', 1)).map((entry) => entry.event.id)).toEqual(['e0']);
    expect(sink.healthy).toBe(true);
    await sink.close();
  });
});
