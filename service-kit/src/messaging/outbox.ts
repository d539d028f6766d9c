import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { FastifyBaseLogger } from 'fastify';
import type { DomainEvent, DomainEventData, DomainEventType, OutboxFields } from '../events-contract.js';
import { isoTimestamp } from '../iso-time.js';
import type { MessagingSink } from './sink.js';

/** The table domain events wait in; part of each store's schema. */
export const OUTBOX_SCHEMA = `
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  event TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
`;

interface Statements {
  insert: Database.Statement<[string, number]>;
  pending: Database.Statement<[number], { seq: number; event: string }>;
  pendingUpTo: Database.Statement<[number, number], { seq: number; event: string }>;
  remove: Database.Statement<[number]>;
  summary: Database.Statement<[], { pending: number; oldest: number | null }>;
}

export interface OutboxOptions {
  /** The service writing the events, their `source`. */
  source: string;
  /** Where the relay publishes; undefined with `MESSAGING_TYPE=none`, when nothing is written. */
  sink: MessagingSink | undefined;
  /** The store's current connection (it may open a new one after a fault), or undefined while closed. */
  db: () => Database.Database | undefined;
  log: FastifyBaseLogger;
  /** Rows published at once. */
  batchSize?: number;
  /** Longest pause between attempts while the sink or the database fails. */
  maxRetryMs?: number;
}

/**
 * A transactional outbox. A store calls `add` inside the transaction of the change an event
 * describes, so the event is saved if and only if the change is; `notify` after the commit wakes
 * the relay, which publishes pending rows in order, one batch at a time, and deletes them once the
 * sink has taken them. A crash between publish and delete publishes them again after the restart
 * (readers drop the second copy by id); nothing is lost while the sink is down, only delayed.
 */
export class Outbox {
  readonly #options: OutboxOptions;
  readonly #statements = new WeakMap<Database.Database, Statements>();
  readonly #batchSize: number;
  readonly #maxRetryMs: number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #retryMs = 0;
  /** The last row of the batch that failed: it is sent again exactly, before anything newer. */
  #retryUpTo: number | undefined;
  /** The last row published but not yet deleted. */
  #publishedUpTo: number | undefined;
  #failing = false;
  #closed = false;

  constructor(options: OutboxOptions) {
    this.#options = options;
    this.#batchSize = options.batchSize ?? 200;
    this.#maxRetryMs = options.maxRetryMs ?? 2000;
  }

  get enabled(): boolean {
    return this.#options.sink !== undefined;
  }

  /** Writes `type` with `data` on `db`; call it inside the transaction that makes the change. */
  add<T extends DomainEventType>(db: Database.Database, type: T, data: DomainEventData[T]): void {
    if (!this.enabled) return;
    const now = Date.now();
    const event = {
      kind: 'domain',
      type,
      id: randomUUID(),
      timestamp: isoTimestamp(now),
      source: this.#options.source,
      data,
    } as DomainEvent;
    this.#sql(db).insert.run(JSON.stringify(event), now);
  }

  /** After a commit that may have added events: publish soon. */
  notify(): void {
    if (this.enabled && this.#retryMs === 0) this.#schedule(0);
  }

  /** Starts relaying what is pending (left from before a restart, say). */
  start(): void {
    this.#closed = false;
    this.#retryMs = 0;
    this.notify();
  }

  stats(): OutboxFields['outbox'] {
    const db = this.#db();
    if (!db) return { pending: 0, oldest_pending_age_s: null };
    try {
      const { pending, oldest } = this.#sql(db).summary.get() ?? { pending: 0, oldest: null };
      return {
        pending,
        oldest_pending_age_s: oldest === null ? null : Math.max(0, Math.round((Date.now() - oldest) / 1000)),
      };
    } catch {
      return { pending: 0, oldest_pending_age_s: null };
    }
  }

  /** Stops relaying after the batch in flight; what is pending stays for the next start. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  #db(): Database.Database | undefined {
    const db = this.#options.db();
    return db?.open ? db : undefined;
  }

  #sql(db: Database.Database): Statements {
    let statements = this.#statements.get(db);
    if (!statements) {
      db.exec(OUTBOX_SCHEMA);
      statements = {
        insert: db.prepare('INSERT INTO outbox (event, created_at) VALUES (?, ?)'),
        pending: db.prepare('SELECT seq, event FROM outbox ORDER BY seq LIMIT ?'),
        pendingUpTo: db.prepare('SELECT seq, event FROM outbox WHERE seq <= ? ORDER BY seq LIMIT ?'),
        remove: db.prepare('DELETE FROM outbox WHERE seq <= ?'),
        summary: db.prepare('SELECT count(*) AS pending, min(created_at) AS oldest FROM outbox'),
      };
      // Made inside a transaction, the table they need goes if it rolls back: make them again then.
      if (!db.inTransaction) this.#statements.set(db, statements);
    }
    return statements;
  }

  #schedule(delayMs: number): void {
    if (this.#timer || this.#running || this.#closed || !this.enabled) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#running = this.#relay().then((next) => {
        this.#running = undefined;
        if (next !== undefined) this.#schedule(next);
      });
    }, delayMs);
    this.#timer.unref();
  }

  #recovered(): void {
    if (this.#failing) this.#options.log.info({ source: this.#options.source }, 'outbox relay publishing again');
    this.#failing = false;
    this.#retryMs = 0;
  }

  /** Publishes one batch; returns when to look again (undefined: nothing pending, wait for notify). */
  async #relay(): Promise<number | undefined> {
    const sink = this.#options.sink;
    try {
      const db = this.#db();
      if (!db || !sink) throw new Error('the database is not open');
      const sql = this.#sql(db);
      // Rows published whose deletion failed (a full disk, say) are deleted first, never sent again.
      if (this.#publishedUpTo !== undefined) {
        sql.remove.run(this.#publishedUpTo);
        this.#publishedUpTo = undefined;
      }
      // After a failure, the same rows again (more may have come since), under the same batch id.
      const rows =
        this.#retryUpTo === undefined
          ? sql.pending.all(this.#batchSize)
          : sql.pendingUpTo.all(this.#retryUpTo, this.#batchSize);
      if (rows.length === 0) {
        // Healthy again even with nothing to send (the retry of a failed delete, say): a failure
        // left behind would make notify() wait for a retry that is never scheduled.
        this.#recovered();
        return undefined;
      }
      const last = rows[rows.length - 1] as { seq: number };
      this.#retryUpTo = last.seq;
      const events = rows.map((row) => JSON.parse(row.event) as DomainEvent);
      await sink.publish(events, `${events[0]?.id}:${events[events.length - 1]?.id}`);
      this.#retryUpTo = undefined;
      this.#publishedUpTo = last.seq;
      // On the store's current connection: it may have opened a new one meanwhile.
      const current = this.#db();
      if (current) {
        this.#sql(current).remove.run(last.seq);
        this.#publishedUpTo = undefined;
      }
      this.#recovered();
      // Rows committed while this batch was out found the relay busy; look again at once.
      return 0;
    } catch (err) {
      this.#retryMs = Math.min(this.#maxRetryMs, Math.max(100, this.#retryMs * 2));
      if (!this.#failing) {
        this.#options.log.warn(
          { err: (err as Error).message },
          'outbox relay cannot publish; domain events wait in the outbox',
        );
      }
      this.#failing = true;
      return this.#retryMs;
    }
  }
}
