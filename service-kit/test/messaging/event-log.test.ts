import { freePort, type RedisServer, startRedis, stopAllProcesses } from '@titanium/test-support';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventSource, TitaniumEvent } from '../../src/index.js';
import { type EventFilter, EventLog, EventTail } from '../../src/messaging/event-log.js';
import { MemorySink } from '../../src/messaging/memory-sink.js';
import { RedisStreamsSink } from '../../src/messaging/redis-sink.js';
import { RemoteRingSource } from '../../src/messaging/remote-source.js';
import { apiEvent, batch, domainEvent, ids } from './events.js';

const log = pino({ level: 'silent' });
const WAIT = { timeout: 10_000 };

let server: RedisServer;
let prefixes = 0;

beforeAll(async () => {
  server = await startRedis();
});

afterAll(async () => {
  await stopAllProcesses();
});

/** A Redis Streams sink on its own prefix, connected. */
async function redisSink(): Promise<RedisStreamsSink> {
  const sink = new RedisStreamsSink({ url: server.url, prefix: `log${++prefixes}`, maxEvents: 100_000 }, log);
  await expect.poll(() => sink.healthy, WAIT).toBe(true);
  return sink;
}

async function memory(name: string, events: TitaniumEvent[]): Promise<MemorySink> {
  const sink = new MemorySink(10_000, name);
  await sink.publish(events, batch());
  return sink;
}

interface Walk {
  events: TitaniumEvent[];
  pages: number[];
}

/** Every page of `limit` from the newest until `next` is null. */
async function walk(log: EventLog, limit: number, filter: EventFilter = {}): Promise<Walk> {
  const events: TitaniumEvent[] = [];
  const pages: number[] = [];
  let before: string | undefined;
  for (let guard = 0; guard < 1000; guard++) {
    const page = await log.page({ limit, before, filter });
    expect(page.unavailable).toEqual([]);
    events.push(...page.events);
    pages.push(page.events.length);
    if (page.next === null) return { events, pages };
    expect(page.events.length, 'a page offering a next one is never empty').toBeGreaterThan(0);
    before = page.next;
  }
  throw new Error('the log never ended');
}

function newestFirst(events: TitaniumEvent[]): string[] {
  return events.map((event) => event.timestamp).sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
}

/** Each page full but the last, which holds the rest. */
function expectFullPages(pages: number[], limit: number, total: number): void {
  expect(pages.reduce((a, b) => a + b, 0)).toBe(total);
  expect(pages.slice(0, -1).every((size) => size === limit)).toBe(true);
}

/** Three sources whose timestamps interleave, with ties across sources at many instants. */
function interleaved(): { a: TitaniumEvent[]; b: TitaniumEvent[]; c: TitaniumEvent[] } {
  const a = Array.from({ length: 40 }, (_, i) => apiEvent(`a${i}`, 10 * i));
  const b = Array.from({ length: 50 }, (_, i) => domainEvent(`b${i}`, 5 * i));
  const c = Array.from({ length: 35 }, (_, i) => apiEvent(`c${i}`, 7 * i, { status: 500 + (i % 4) }));
  // Two entries of one source at the same instant, too.
  c.push(apiEvent('c-twin-1', 7 * 35), apiEvent('c-twin-2', 7 * 35));
  return { a, b, c };
}

describe('EventLog pages', () => {
  it('walks three memory sources newest first with no gap and no repeat, ties included', async () => {
    const { a, b, c } = interleaved();
    const all = [...a, ...b, ...c];
    const eventLog = new EventLog([await memory('a', a), await memory('b', b), await memory('c', c)]);
    for (const limit of [1, 7, 50, 1000]) {
      const { events, pages } = await walk(eventLog, limit);
      expect(new Set(ids(events)).size).toBe(events.length);
      expect(ids(events).sort()).toEqual(ids(all).sort());
      expect(events.map((event) => event.timestamp)).toEqual(newestFirst(all));
      expectFullPages(pages, limit, all.length);
      // Within a source, its own order is kept: a later entry at the same instant comes first.
      expect(ids(events).indexOf('c-twin-2')).toBeLessThan(ids(events).indexOf('c-twin-1'));
    }
  });

  it('walks Redis streams and a memory source together the same way', async () => {
    const { a, b, c } = interleaved();
    const sink = await redisSink();
    // The api stream gets a and c interleaved in time order, the domain stream b.
    const api = [...a, ...c].sort((x, y) => (x.timestamp < y.timestamp ? -1 : x.timestamp > y.timestamp ? 1 : 0));
    await sink.publish(api, batch());
    await sink.publish(b, batch());
    const ring = await memory('ring', [
      apiEvent('r0', 1),
      apiEvent('r1', 35),
      apiEvent('r2', 350),
      domainEvent('r3', 400),
    ]);
    const all = [...api, ...b, ...(await ring.newer(undefined, 10)).map((entry) => entry.event)];
    const eventLog = new EventLog([...sink.sources(), ring]);
    const { events, pages } = await walk(eventLog, 6);
    expect(new Set(ids(events)).size).toBe(events.length);
    expect(ids(events).sort()).toEqual(ids(all).sort());
    expect(events.map((event) => event.timestamp)).toEqual(newestFirst(all));
    expectFullPages(pages, 6, all.length);
    // The cursor names each source with its own position.
    const first = await eventLog.page({ limit: 6, filter: {} });
    expect(first.next).toMatch(/^(?:(?:api|domain):\d+-\d+|ring:\d+)(?:,(?:(?:api|domain):\d+-\d+|ring:\d+))*$/);
    await sink.close();
  });

  it('combines the kind, status and route filters, across pages', async () => {
    const statuses = [200, 201, 302, 404, 429, 500, 503, 599, 400, 499];
    const routes = ['GET /api/posts/:id', 'POST /api/auth/login'];
    const one: TitaniumEvent[] = [];
    const two: TitaniumEvent[] = [];
    for (let i = 0; i < 60; i++) {
      const event = apiEvent(`x${i}`, 3 * i, {
        status: statuses[i % statuses.length],
        route: routes[i % 3 === 0 ? 1 : 0],
      });
      (i % 2 === 0 ? one : two).push(event);
      if (i % 5 === 0) two.push(domainEvent(`d${i}`, 3 * i + 1));
    }
    const all = [...one, ...two];
    const eventLog = new EventLog([await memory('one', one), await memory('two', two)]);
    const everything = (await walk(eventLog, 1000)).events;
    const cases: [EventFilter, (event: TitaniumEvent) => boolean][] = [
      [{ kind: 'domain' }, (e) => e.kind === 'domain'],
      [{ kind: 'api' }, (e) => e.kind === 'api'],
      [{ status: { min: 400, max: 499 } }, (e) => e.kind === 'api' && e.status >= 400 && e.status <= 499],
      [{ status: { min: 404, max: 404 } }, (e) => e.kind === 'api' && e.status === 404],
      [
        { status: { min: 500, max: 599 }, route: routes[0] },
        (e) => e.kind === 'api' && e.status >= 500 && e.route === routes[0],
      ],
      [{ kind: 'api', route: routes[1] }, (e) => e.kind === 'api' && e.route === routes[1]],
      [{ kind: 'domain', status: { min: 200, max: 299 } }, () => false],
      [{ route: 'GET /api/nowhere' }, () => false],
    ];
    for (const [filter, wanted] of cases) {
      const expected = ids(everything.filter(wanted));
      const { events, pages } = await walk(eventLog, 3, filter);
      expect(ids(events), JSON.stringify(filter)).toEqual(expected);
      expectFullPages(pages, 3, expected.length);
    }
    expect(everything).toHaveLength(all.length);
  });

  it('shows an id once on a page however many sources hold it', async () => {
    const shared = apiEvent('shared', 50);
    const again = domainEvent('again', 20);
    const eventLog = new EventLog([
      await memory('a', [apiEvent('a1', 10), again, shared, apiEvent('a2', 60)]),
      await memory('b', [shared, apiEvent('b1', 55)]),
      await memory('c', [again, shared]),
    ]);
    const page = await eventLog.page({ limit: 100, filter: {} });
    expect(ids(page.events)).toEqual(['a2', 'b1', 'shared', 'again', 'a1']);
    expect(page.next).toBeNull();
  });

  it('says there is no next page on the page that reaches the end, not on an empty one after it', async () => {
    // The largest page of a ring holding exactly that many, and a filtered page whose last match
    // is the oldest entry: each read its source to the end, so there is nothing older to offer.
    const full = await memory(
      'full',
      Array.from({ length: 1000 }, (_, i) => apiEvent(`f${i}`, i)),
    );
    const whole = await new EventLog([full]).page({ limit: 1000, filter: {} });
    expect(whole.events).toHaveLength(1000);
    expect(whole.next).toBeNull();
    const mixed = await memory(
      'mixed',
      Array.from({ length: 50 }, (_, i) => apiEvent(`m${i}`, i, { status: i % 2 === 0 ? 404 : 200 })),
    );
    const filtered = await new EventLog([mixed]).page({ limit: 25, filter: { status: { min: 400, max: 499 } } });
    expect(filtered.events).toHaveLength(25);
    expect(filtered.events.at(-1)?.id).toBe('m0');
    expect(filtered.next).toBeNull();
  });

  it('has nothing and no next page when every source is empty', async () => {
    const eventLog = new EventLog([new MemorySink(100, 'a'), new MemorySink(100, 'b')]);
    expect(await eventLog.page({ limit: 10, filter: {} })).toEqual({ events: [], next: null, unavailable: [] });
  });

  it('gives up a page after its scan budget for a rare filter and carries on from there', async () => {
    const events = [apiEvent('rare', 0, { route: 'DELETE /api/posts/:id' })];
    for (let i = 1; i <= 6000; i++) events.push(apiEvent(`common${i}`, i));
    const eventLog = new EventLog([await memory('big', events)]);
    const filter = { route: 'DELETE /api/posts/:id' };
    const first = await eventLog.page({ limit: 10, filter });
    expect(first.events).toEqual([]);
    expect(first.next).toEqual(expect.any(String));
    const second = await eventLog.page({ limit: 10, filter, before: first.next ?? undefined });
    expect(ids(second.events)).toEqual(['rare']);
    expect(second.next).toBeNull();
  });

  it('lists a source that cannot be read and still returns the others', async () => {
    const ring = await memory('ring', [apiEvent('m1', 1), apiEvent('m2', 2)]);
    const nobody = `http://127.0.0.1:${await freePort()}`;
    const remote = new RemoteRingSource('gateway-2', nobody, undefined, 500);
    const page = await new EventLog([remote, ring]).page({ limit: 10, filter: {} });
    expect(ids(page.events)).toEqual(['m2', 'm1']);
    expect(page.unavailable).toEqual(['gateway-2']);
    expect(page.next).toBeNull();
  });

  it('lists the Redis streams as unavailable while Redis is down and still returns the others', async () => {
    const own = await startRedis();
    const sink = new RedisStreamsSink({ url: own.url, prefix: 'down', maxEvents: 1000 }, log);
    await expect.poll(() => sink.healthy, WAIT).toBe(true);
    await sink.publish([apiEvent('r1', 5), domainEvent('r2', 6)], batch());
    const ring = await memory('ring', [apiEvent('m1', 1), apiEvent('m2', 7)]);
    const eventLog = new EventLog([...sink.sources(), ring]);
    expect(ids((await eventLog.page({ limit: 10, filter: {} })).events)).toEqual(['m2', 'r2', 'r1', 'm1']);
    await own.stop();
    await expect.poll(() => sink.healthy, WAIT).toBe(false);
    const page = await eventLog.page({ limit: 10, filter: {} });
    expect(ids(page.events)).toEqual(['m2', 'm1']);
    expect(page.unavailable.sort()).toEqual(['api', 'domain']);
    // Only the api stream is read for api events.
    expect((await eventLog.page({ limit: 10, filter: { kind: 'api' } })).unavailable).toEqual(['api']);
    await sink.close();
  });
});

describe('EventTail', () => {
  it('starts at the heads, then returns new events oldest first across sources, each id once', async () => {
    const sink = await redisSink();
    await sink.publish([apiEvent('old-r', 1)], batch());
    const a = await memory('a', [apiEvent('old-a', 2)]);
    const b = new MemorySink(100, 'b');
    const [api] = sink.sources() as [EventSource];
    const tail = new EventTail([api, a, b]);
    expect(await tail.poll()).toEqual([]);
    expect(await tail.poll()).toEqual([]);

    await a.publish([apiEvent('a1', 100), apiEvent('a2', 130)], batch());
    await sink.publish([apiEvent('r1', 110), apiEvent('r2', 140)], batch());
    await b.publish([domainEvent('b1', 120), domainEvent('b2', 150)], batch());
    expect(ids(await tail.poll())).toEqual(['a1', 'r1', 'b1', 'a2', 'r2', 'b2']);
    expect(await tail.poll()).toEqual([]);

    // A second copy, on the same poll or a later one, is dropped.
    const twice = apiEvent('twice', 200);
    await a.publish([twice], batch());
    await b.publish([twice, domainEvent('b3', 210)], batch());
    expect(ids(await tail.poll())).toEqual(['twice', 'b3']);
    await sink.publish([twice], batch());
    expect(await tail.poll()).toEqual([]);
    await sink.close();
  });

  it('carries on past a source it cannot read, and picks that one up from its head later', async () => {
    const a = new MemorySink(100, 'a');
    const remote = new RemoteRingSource('gone', `http://127.0.0.1:${await freePort()}`, undefined, 500);
    const tail = new EventTail([remote, a]);
    expect(await tail.poll()).toEqual([]);
    await a.publish([apiEvent('a1', 1)], batch());
    expect(ids(await tail.poll())).toEqual(['a1']);
  });
});
