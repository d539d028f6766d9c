import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RedisServer, startRedis, stopAllProcesses } from '@titanium/test-support';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DomainEvent, TitaniumEvent } from '../../src/events-contract.js';
import { MemorySink } from '../../src/messaging/memory-sink.js';
import { OUTBOX_SCHEMA, Outbox } from '../../src/messaging/outbox.js';
import { RedisStreamsSink } from '../../src/messaging/redis-sink.js';

const log = pino({ level: 'silent' });
const WAIT = { timeout: 10_000 };

let dir: string;
let db: Database.Database;
let outbox: Outbox | undefined;
let server: RedisServer | undefined;
let sink: RedisStreamsSink | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'titanium-outbox-'));
  db = new Database(join(dir, 'store.db'));
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT NOT NULL)');
});

afterEach(async () => {
  await outbox?.close();
  await sink?.close();
  await stopAllProcesses();
  db.close();
  rmSync(dir, { recursive: true, force: true });
  outbox = server = sink = undefined;
});

/** What the store does: the change and its event in one transaction, then wake the relay. */
function createPost(box: Outbox, title: string): number {
  const id = db.transaction(() => {
    const { lastInsertRowid } = db.prepare('INSERT INTO posts (title) VALUES (?)').run(title);
    box.add(db, 'post.created', { post_id: Number(lastInsertRowid), author_id: 1, title });
    return Number(lastInsertRowid);
  })();
  box.notify();
  return id;
}

function outboxRows(): number {
  const table = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'outbox'").get();
  if (!table) return 0;
  return (db.prepare('SELECT count(*) AS n FROM outbox').get() as { n: number }).n;
}

async function titles(source: MemorySink): Promise<string[]> {
  return (await source.newer(undefined, 10_000)).map(
    ({ event }) => (event as DomainEvent & { type: 'post.created' }).data.title,
  );
}

describe('Outbox', () => {
  it('writes nothing when the transaction rolls back, and works for the next one', async () => {
    const memory = new MemorySink(1000);
    outbox = new Outbox({ source: 'blog-service', sink: memory, db: () => db, log });
    // The very first event on this connection is in a transaction that fails.
    expect(() =>
      db.transaction(() => {
        outbox?.add(db, 'post.created', { post_id: 1, author_id: 1, title: 'rolled back' });
        throw new Error('the change failed');
      })(),
    ).toThrow('the change failed');
    outbox.notify();
    expect(outboxRows()).toBe(0);
    createPost(outbox, 'kept');
    await expect.poll(() => titles(memory), WAIT).toEqual(['kept']);
    expect(outboxRows()).toBe(0);
  });

  it('relays rows in order, in batches, and deletes them once the sink has them', async () => {
    const memory = new MemorySink(1000);
    db.exec(OUTBOX_SCHEMA);
    outbox = new Outbox({ source: 'blog-service', sink: memory, db: () => db, log, batchSize: 4 });
    const written: string[] = [];
    for (let i = 0; i < 15; i++) {
      written.push(`post ${i}`);
      createPost(outbox, `post ${i}`);
    }
    await expect.poll(() => titles(memory), WAIT).toEqual(written);
    expect(outboxRows()).toBe(0);
    expect(outbox.stats()).toEqual({ pending: 0, oldest_pending_age_s: null });
    const [first] = await memory.newer(undefined, 1);
    expect(first?.event).toMatchObject({ kind: 'domain', type: 'post.created', source: 'blog-service' });
    expect(first?.event.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('keeps rows while Redis is down and delivers them in order once it is back', async () => {
    server = await startRedis();
    sink = new RedisStreamsSink({ url: server.url, prefix: 'outbox', maxEvents: 1000 }, log);
    await expect.poll(() => sink?.healthy, WAIT).toBe(true);
    const warnings: string[] = [];
    const watched = pino({ level: 'warn' }, { write: (line: string) => warnings.push(JSON.parse(line).msg) });
    outbox = new Outbox({ source: 'blog-service', sink, db: () => db, log: watched, maxRetryMs: 200 });
    outbox.start();
    createPost(outbox, 'before');
    await expect.poll(() => outboxRows(), WAIT).toBe(0);

    await server.stop();
    for (const title of ['one', 'two', 'three']) createPost(outbox, title);
    await expect.poll(() => outbox?.stats().pending, WAIT).toBe(3);
    expect(outbox.stats().oldest_pending_age_s).toEqual(expect.any(Number));
    expect(outbox.stats().oldest_pending_age_s).toBeGreaterThanOrEqual(0);
    // Still there once the relay has tried and failed.
    await expect.poll(() => warnings, WAIT).toContain('outbox relay cannot publish; domain events wait in the outbox');
    expect(outboxRows()).toBe(3);

    server = await server.restart();
    const [, domain] = sink.sources();
    const readTitles = async () =>
      (await domain?.newer(undefined, 100).catch(() => []))?.map(
        ({ event }: { event: TitaniumEvent }) => (event as DomainEvent & { type: 'post.created' }).data.title,
      );
    await expect.poll(readTitles, WAIT).toEqual(['one', 'two', 'three']);
    await expect.poll(() => outbox?.stats(), WAIT).toEqual({ pending: 0, oldest_pending_age_s: null });
  });

  it('relays events written after it recovered from a failed delete that left nothing pending', async () => {
    db.pragma('busy_timeout = 20');
    const sink = new MemorySink(1000);
    outbox = new Outbox({ source: 'blog-service', sink, db: () => db, log, maxRetryMs: 200 });
    outbox.start();
    // Right after the commit, before the relay runs, another connection takes the write lock: the
    // first event is published, its row cannot be deleted.
    const other = new Database(join(dir, 'store.db'));
    createPost(outbox, 'first');
    other.exec('BEGIN IMMEDIATE');
    await expect.poll(() => titles(sink), WAIT).toEqual(['first']);
    await new Promise((resolve) => setTimeout(resolve, 100));
    other.exec('COMMIT');
    other.close();
    // The retry deletes the row and finds nothing else; a later event must still be relayed.
    await expect.poll(() => outboxRows(), WAIT).toBe(0);
    createPost(outbox, 'second');
    await expect.poll(() => titles(sink), WAIT).toEqual(['first', 'second']);
    expect(outboxRows()).toBe(0);
  });

  it('writes nothing at all without a sink', async () => {
    outbox = new Outbox({ source: 'blog-service', sink: undefined, db: () => db, log });
    expect(outbox.enabled).toBe(false);
    createPost(outbox, 'no messaging');
    expect(outboxRows()).toBe(0);
    expect((db.prepare('SELECT count(*) AS n FROM posts').get() as { n: number }).n).toBe(1);
  });
});
