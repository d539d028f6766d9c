import { type RedisServer, startRedis, stopAllProcesses } from '@titanium/test-support';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { MessagingSink, TitaniumEvent } from '../../src/index.js';
import { EventLog } from '../../src/messaging/event-log.js';
import { EventPublisher, type PublisherOptions } from '../../src/messaging/publisher.js';
import { RedisStreamsSink } from '../../src/messaging/redis-sink.js';
import { apiEvent, GatedSink, ids } from './events.js';

const log = pino({ level: 'silent' });
/** Long enough for a command to time out on a frozen Redis (1 s) and for a reconnect. */
const WAIT = { timeout: 10_000 };

/** The real Redis sink, noting the size of each batch it is handed. */
class CountingSink implements MessagingSink {
  readonly type = 'redis';
  readonly batches: number[] = [];
  constructor(readonly inner: RedisStreamsSink) {}
  get healthy(): boolean {
    return this.inner.healthy;
  }
  publish(events: readonly TitaniumEvent[], batchId: string): Promise<void> {
    this.batches.push(events.length);
    return this.inner.publish(events, batchId);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

let server: RedisServer | undefined;
let client: Redis | undefined;
let sink: RedisStreamsSink | undefined;
let publisher: EventPublisher | undefined;

afterEach(async () => {
  server?.resume();
  await publisher?.close(100);
  await sink?.close();
  client?.disconnect();
  await stopAllProcesses();
  server = client = sink = publisher = undefined;
});

async function setUp(options: PublisherOptions): Promise<{ counting: CountingSink; publisher: EventPublisher }> {
  server = await startRedis();
  client = new Redis(server.url);
  client.on('error', () => {});
  sink = new RedisStreamsSink({ url: server.url, prefix: 'pub', maxEvents: 100_000 }, log);
  await expect.poll(() => sink?.healthy, WAIT).toBe(true);
  const counting = new CountingSink(sink);
  publisher = new EventPublisher(counting, 'redis', options, log);
  return { counting, publisher };
}

/** Ids in the api stream, in stream order (a retry after a timeout may have written some twice). */
async function streamIds(): Promise<string[]> {
  const entries = (await client?.xrange('pub:api', '-', '+')) ?? [];
  return entries.map(([, fields]) => (JSON.parse(fields[1] as string) as TitaniumEvent).id);
}

function offerAll(publisher: EventPublisher, from: number, to: number): unknown[] {
  const returned: unknown[] = [];
  for (let i = from; i < to; i++) returned.push(publisher.offer(apiEvent(`e${i}`, i)));
  return returned;
}

function range(from: number, to: number): string[] {
  return Array.from({ length: to - from }, (_, i) => `e${from + i}`);
}

describe('EventPublisher', () => {
  it('takes events without waiting and delivers them to Redis in order, in batches', async () => {
    const { counting, publisher } = await setUp({ capacity: 1000, batchSize: 25, flushIntervalMs: 10 });
    const returned = offerAll(publisher, 0, 120);
    expect(returned.every((value) => value === undefined)).toBe(true);
    expect(publisher.stats().buffered).toBe(120);
    await expect.poll(() => publisher.stats().published, WAIT).toBe(120);
    expect(await streamIds()).toEqual(range(0, 120));
    expect(counting.batches.length).toBeGreaterThanOrEqual(5);
    expect(Math.max(...counting.batches)).toBeLessThanOrEqual(25);
    expect(counting.batches.reduce((a, b) => a + b, 0)).toBe(120);
    expect(publisher.stats()).toEqual({
      type: 'redis',
      status: 'healthy',
      published: 120,
      dropped: 0,
      buffered: 0,
      last_error: null,
    });
  });

  it('keeps taking events while Redis is frozen and delivers every buffered one once it is back', async () => {
    const { publisher } = await setUp({ capacity: 10_000, batchSize: 50, flushIntervalMs: 10, maxRetryMs: 200 });
    offerAll(publisher, 0, 30);
    await expect.poll(() => publisher.stats().published, WAIT).toBe(30);

    server?.freeze();
    expect(offerAll(publisher, 30, 80).every((value) => value === undefined)).toBe(true);
    await expect.poll(() => publisher.stats().status, WAIT).toBe('failing');
    expect(publisher.stats().last_error).toEqual(expect.any(String));
    expect(publisher.stats().buffered).toBe(50);
    // Still taken at once while failing; the buffer grows.
    expect(offerAll(publisher, 80, 130).every((value) => value === undefined)).toBe(true);
    expect(publisher.stats().buffered).toBe(100);
    expect(publisher.stats().published).toBe(30);

    server?.resume();
    await expect.poll(() => publisher.stats().status, WAIT).toBe('healthy');
    await expect.poll(() => publisher.stats().buffered, WAIT).toBe(0);
    expect(publisher.stats()).toMatchObject({ published: 130, dropped: 0 });
    // Every event is in the stream once, in the order offered: the batch that timed out was still
    // in the frozen server's socket and is written when it wakes, and its retries, under the same
    // batch id, are not.
    expect(await streamIds()).toEqual(range(0, 130));
    // A reader of the log sees each exactly once, newest first.
    const page = await new EventLog(sink?.sources() ?? []).page({ limit: 1000, filter: {} });
    expect(ids(page.events)).toEqual(range(0, 130).reverse());
    expect(page.next).toBeNull();
  });

  it('drops the oldest when its buffer is full and counts exactly how many', async () => {
    const { publisher } = await setUp({ capacity: 20, batchSize: 50, flushIntervalMs: 10, maxRetryMs: 200 });
    offerAll(publisher, 0, 5);
    await expect.poll(() => publisher.stats().published, WAIT).toBe(5);

    await server?.stop();
    offerAll(publisher, 5, 55);
    expect(publisher.stats()).toMatchObject({ dropped: 30, buffered: 20 });
    await expect.poll(() => publisher.stats().status, WAIT).toBe('failing');
    // The failed batch waits whole for its retry; the buffer takes new events beside it.
    offerAll(publisher, 55, 65);
    expect(publisher.stats()).toMatchObject({ dropped: 30, buffered: 30 });

    server = await server?.restart();
    await expect.poll(() => publisher.stats().status, WAIT).toBe('healthy');
    await expect.poll(() => publisher.stats().buffered, WAIT).toBe(0);
    // 60 offered while Redis was away, room for 20 waiting: the 30 oldest went before the first
    // attempt, the 20 of that attempt and the 10 after it arrived.
    expect(publisher.stats()).toMatchObject({ published: 35, dropped: 30 });
    expect(await streamIds()).toEqual(range(35, 65));
  });

  it('sends what is buffered when closed, and takes nothing after', async () => {
    const { publisher } = await setUp({ capacity: 1000, batchSize: 10, flushIntervalMs: 60_000 });
    offerAll(publisher, 0, 35);
    expect(await streamIds()).toEqual([]);
    await publisher.close();
    expect(await streamIds()).toEqual(range(0, 35));
    expect(publisher.stats()).toMatchObject({ published: 35, buffered: 0 });
    publisher.offer(apiEvent('late', 99));
    expect(publisher.stats().buffered).toBe(0);
  });

  it('makes one more attempt when closed while the sink was failing', async () => {
    const gated = new GatedSink();
    gated.down = true;
    const publisher = new EventPublisher(
      gated,
      'memory',
      { capacity: 100, flushIntervalMs: 10, maxRetryMs: 60_000 },
      log,
    );
    offerAll(publisher, 0, 5);
    await expect.poll(() => publisher.stats().status, WAIT).toBe('failing');
    // The system is back, but the next retry is a while off: closing must not lose the five.
    gated.down = false;
    await publisher.close();
    expect(await gated.received()).toEqual(range(0, 5));
    expect(publisher.stats()).toMatchObject({ published: 5, buffered: 0 });
  });

  it('is off without a sink: nothing is buffered or counted', () => {
    const publisher = new EventPublisher(undefined, 'none', { capacity: 10 }, log);
    expect(publisher.enabled).toBe(false);
    publisher.offer(apiEvent('x', 0));
    expect(publisher.stats()).toEqual({
      type: 'none',
      status: 'off',
      published: 0,
      dropped: 0,
      buffered: 0,
      last_error: null,
    });
  });
});
