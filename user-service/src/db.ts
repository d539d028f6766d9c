import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { type DomainEventData, OUTBOX_SCHEMA, type Outbox, type UserServiceFields } from '@titanium/service-kit';
import Database from 'better-sqlite3';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { DatabaseConfig } from './config.js';
import { userErrors } from './errors.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The SQLite store behind the routes, for maintenance work such as backups. */
    userStore: UserStore;
  }
}

export interface PublicUser {
  id: number;
  username: string;
  email: string;
}

export interface UserRow extends PublicUser {
  password_hash: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS users (
  id INTEGER PRIMARY KEY,
  username TEXT UNIQUE NOT NULL,
  email TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS write_check (
  id INTEGER PRIMARY KEY,
  checked_at TEXT NOT NULL,
  filler BLOB
);
`;

/**
 * Created on its own so that an older file without it, opened read-only, still serves reads: the
 * outbox is only needed to write.
 */
function createOutboxTable(db: Database.Database): void {
  try {
    db.exec(OUTBOX_SCHEMA);
  } catch (err) {
    if (!(err instanceof Database.SqliteError && err.code.startsWith('SQLITE_READONLY'))) throw err;
  }
}

/** How often a failed database is tried again while it is reported unhealthy. */
const RECHECK_INTERVAL_MS = 1000;

const READ_ONLY = 'it is read-only';

/** Why SQLite cannot serve, in words for clients; undefined for errors that are not faults of the store. */
function faultReason(err: unknown): string | undefined {
  if (err instanceof TypeError && /database connection is not open/.test(err.message)) return 'it is closed';
  if (!(err instanceof Database.SqliteError)) return undefined;
  const code = err.code;
  if (code.startsWith('SQLITE_FULL')) return 'the disk is full';
  if (code.startsWith('SQLITE_READONLY')) return READ_ONLY;
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return 'another writer holds its lock';
  if (code.startsWith('SQLITE_IOERR')) return 'of an I/O error';
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') return 'it is damaged';
  if (code.startsWith('SQLITE_CANTOPEN')) return 'it cannot be opened';
  return undefined;
}

interface Statements {
  insert: Database.Statement<[string, string, string, string], { id: number }>;
  byUsername: Database.Statement<[string], UserRow>;
  count: Database.Statement<[], number>;
  dataVersion: Database.Statement<[], number>;
  probeInsert: Database.Statement<[string, number]>;
  probeClear: Database.Statement<[]>;
  rehash: Database.Statement<[string, number, string]>;
}

/** A stored password hash to replace with one made with the current parameters. */
export interface Rehash {
  from: string;
  to: string;
}

interface Connection {
  db: Database.Database;
  statements: Statements;
  probe: Database.Transaction<() => void>;
  /** The INSERT of a user and its `user.created` event, in one transaction. */
  createUser: Database.Transaction<(username: string, email: string, passwordHash: string) => number>;
  /** A `user.login` event, and the user's password hash upgraded on a successful login. */
  recordLogin: Database.Transaction<(data: DomainEventData['user.login'], rehash: Rehash | undefined) => void>;
}

/**
 * The users table in SQLite (WAL, prepared statements). Faults such as a full disk or a lock held
 * too long become 503 errors with a clear message instead of crashes, and mark the store unhealthy
 * until a later operation (or a periodic re-check) succeeds.
 */
export class UserStore {
  readonly #config: DatabaseConfig;
  #db: Database.Database | undefined;
  #statements: Statements | undefined;
  #writeProbe: Database.Transaction<() => void> | undefined;
  #createUser: Connection['createUser'] | undefined;
  #recordLogin: Connection['recordLogin'] | undefined;
  #outbox: Outbox | undefined;
  #writeFault: string | undefined;
  #readFault: string | undefined;
  #lastRecheck = 0;
  #count: number | undefined;
  #countedAtVersion = -1;

  constructor(config: DatabaseConfig) {
    this.#config = config;
  }

  /**
   * Where the store writes its domain events: each in the transaction of the change it describes,
   * the relay woken after the commit. Without one no event is written.
   */
  writeEventsTo(outbox: Outbox): void {
    this.#outbox = outbox;
  }

  open(): void {
    this.#use(this.#connect());
  }

  #use(connection: Connection): void {
    this.#db = connection.db;
    this.#statements = connection.statements;
    this.#writeProbe = connection.probe;
    this.#createUser = connection.createUser;
    this.#recordLogin = connection.recordLogin;
  }

  #connect(): Connection {
    let db: Database.Database;
    try {
      mkdirSync(dirname(this.#config.path), { recursive: true });
      db = new Database(this.#config.path);
    } catch (err) {
      throw new Error(`cannot open the user database at ${this.#config.path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma(`busy_timeout = ${Math.trunc(this.#config.busyTimeoutMs)}`);
      db.exec(SCHEMA);
      createOutboxTable(db);
      const statements = {
        insert: db.prepare<[string, string, string, string], { id: number }>(
          'INSERT INTO users (username, email, password_hash, created_at) VALUES (?, ?, ?, ?) RETURNING id',
        ),
        byUsername: db.prepare<[string], UserRow>(
          'SELECT id, username, email, password_hash FROM users WHERE username = ?',
        ),
        count: db.prepare<[], number>('SELECT count(*) FROM users').pluck(),
        dataVersion: db.prepare<[], number>('PRAGMA data_version').pluck(),
        probeInsert: db.prepare<[string, number]>(
          'INSERT INTO write_check (checked_at, filler) VALUES (?, zeroblob(?))',
        ),
        probeClear: db.prepare<[]>('DELETE FROM write_check'),
        // Only if the hash is still the one that was checked: a newer one is never overwritten.
        rehash: db.prepare<[string, number, string]>(
          'UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?',
        ),
      };
      const pageSize = Number(db.pragma('page_size', { simple: true }));
      // Needs a fresh page like a real insert would, so a full database does not pass it.
      const probe = db.transaction(() => {
        statements.probeInsert.run(new Date().toISOString(), pageSize);
        statements.probeClear.run();
      });
      const createUser = db.transaction((username: string, email: string, passwordHash: string) => {
        // all(), not get(): get() stops after the first row and resets the statement, and
        // better-sqlite3 ignores an error from that reset.
        const [row] = statements.insert.all(username, email, passwordHash, new Date().toISOString());
        const id = Number(row?.id);
        this.#outbox?.add(db, 'user.created', { user_id: id, username });
        return id;
      });
      const recordLogin = db.transaction((data: DomainEventData['user.login'], rehash: Rehash | undefined) => {
        if (rehash && data.user_id !== null) statements.rehash.run(rehash.to, data.user_id, rehash.from);
        this.#outbox?.add(db, 'user.login', data);
      });
      return { db, statements, probe, createUser, recordLogin };
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /**
   * A connection that found its file read-only keeps it read-only even once the file is writable
   * again (SQLite opened it O_RDONLY), so the file is opened anew; the new connection replaces the
   * current one only if it can commit.
   */
  #reopenIfWritable(): void {
    // A connection set to query_only was made read-only on purpose; a new one would not be.
    if (this.#db?.open && this.#db.pragma('query_only', { simple: true }) === 1) return;
    let next: Connection;
    try {
      next = this.#connect();
    } catch {
      return;
    }
    try {
      next.db.pragma('busy_timeout = 0');
      next.probe.immediate();
      next.db.pragma(`busy_timeout = ${Math.trunc(this.#config.busyTimeoutMs)}`);
    } catch {
      next.db.close();
      return;
    }
    const previous = this.#db;
    this.#use(next);
    this.#count = undefined;
    this.#writeFault = undefined;
    previous?.close();
  }

  get isOpen(): boolean {
    return this.#db?.open === true;
  }

  get healthy(): boolean {
    return this.isOpen && this.#writeFault === undefined && this.#readFault === undefined;
  }

  /** The connection while it is open, for the outbox's relay, which follows a reopened file. */
  get openConnection(): Database.Database | undefined {
    return this.#db?.open ? this.#db : undefined;
  }

  /** The underlying connection, for maintenance such as backups. */
  get connection(): Database.Database {
    if (!this.#db) throw new Error('the user database is not open');
    return this.#db;
  }

  get #sql() {
    if (!this.#statements) throw new TypeError('The database connection is not open');
    return this.#statements;
  }

  /**
   * Saves a user and its `user.created` event in one transaction: both or neither. A commit that
   * fails (a full disk, say) throws and rolls both back.
   */
  create(username: string, email: string, passwordHash: string): PublicUser {
    const id = this.#write(() => this.#transactions.createUser.immediate(username, email, passwordHash), username);
    // data_version does not change for this connection's own writes, so the count is kept here.
    if (this.#count !== undefined) this.#count++;
    return { id, username, email };
  }

  /**
   * Saves a `user.login` event: the outcome of a credential check, with the user's id and name
   * when such a user exists (never what was typed for an unknown one), and in the same
   * transaction the user's new password hash after a successful check of an outdated one. Throws
   * the 503 error when SQLite cannot write; the caller decides whether the check's answer depends on it.
   */
  recordLogin(user: { id: number; username: string } | undefined, success: boolean, rehash?: Rehash): void {
    const upgrade = user && success ? rehash : undefined;
    if (!this.#outbox?.enabled && !upgrade) return;
    const data = { user_id: user?.id ?? null, username: user?.username ?? null, success };
    this.#write(() => this.#transactions.recordLogin.immediate(data, upgrade));
  }

  get #transactions() {
    if (!this.#createUser || !this.#recordLogin) throw new TypeError('The database connection is not open');
    return { createUser: this.#createUser, recordLogin: this.#recordLogin };
  }

  /**
   * Runs one write transaction, first opening a read-only file again when it may have become
   * writable (at most once a second). A fault becomes a 503 and marks the store unhealthy until a
   * write succeeds; after the commit the outbox's relay is woken.
   */
  #write<T>(transaction: () => T, username?: string): T {
    if (this.#writeFault === READ_ONLY && Date.now() - this.#lastRecheck >= RECHECK_INTERVAL_MS) {
      this.#lastRecheck = Date.now();
      this.#reopenIfWritable();
    }
    let result: T;
    try {
      result = transaction();
    } catch (err) {
      if (err instanceof Database.SqliteError && err.code === 'SQLITE_CONSTRAINT_UNIQUE' && username !== undefined) {
        throw new userErrors.UserExists(username);
      }
      const reason = faultReason(err);
      if (reason === undefined) throw err;
      this.#writeFault = reason;
      throw new userErrors.DatabaseUnavailable('save changes', reason);
    }
    this.#writeFault = undefined;
    this.#outbox?.notify();
    return result;
  }

  findByUsername(username: string): UserRow | undefined {
    return this.#read(() => this.#sql.byUsername.get(username));
  }

  /**
   * The number of users. Recounted only when this process wrote or another connection changed the
   * file (SQLite's data_version), so frequent /stats calls cost one cheap pragma each.
   */
  countUsers(): number | null {
    try {
      return this.#read(() => {
        const version = this.#sql.dataVersion.get() ?? 0;
        if (this.#count === undefined || version !== this.#countedAtVersion) {
          this.#count = this.#sql.count.get() ?? 0;
          this.#countedAtVersion = version;
        }
        return this.#count;
      });
    } catch {
      return null;
    }
  }

  /**
   * While a fault is reported, tries the failed kind of operation again (at most once a second,
   * without waiting for locks) so the status turns healthy again once the cause is gone. The write
   * check commits a page-sized row and removes it in the same transaction.
   */
  recheck(): void {
    if (!this.isOpen || this.healthy || Date.now() - this.#lastRecheck < RECHECK_INTERVAL_MS) return;
    this.#lastRecheck = Date.now();
    const db = this.connection;
    try {
      if (this.#readFault !== undefined) {
        this.#sql.count.get();
        this.#readFault = undefined;
      }
      if (this.#writeFault === READ_ONLY) {
        this.#reopenIfWritable();
      } else if (this.#writeFault !== undefined) {
        db.pragma('busy_timeout = 0');
        try {
          this.#writeProbe?.immediate();
          this.#writeFault = undefined;
        } finally {
          db.pragma(`busy_timeout = ${Math.trunc(this.#config.busyTimeoutMs)}`);
        }
      }
    } catch {
      // Still failing; the status stays unhealthy.
    }
  }

  close(): void {
    if (this.#db?.open) this.#db.close();
  }

  #read<T>(query: () => T): T {
    try {
      const result = query();
      this.#readFault = undefined;
      return result;
    } catch (err) {
      const reason = faultReason(err);
      if (reason === undefined) throw err;
      this.#readFault = reason;
      throw new userErrors.DatabaseUnavailable('be read', reason);
    }
  }
}

/**
 * The store as a part of the service: opened once the service is ready and closed with it, its
 * `users` and `database` in `/stats`, `service_status` degraded while SQLite fails, and `/ready`'s
 * `database` check; its domain events go to the messaging part's outbox (`outbox` in `/stats`).
 * Decorates `app.userStore`.
 */
export const userStore = fp<DatabaseConfig>(
  async (app: FastifyInstance, config) => {
    if (typeof config.path !== 'string' || config.path === '') {
      throw new Error(`userStore: path must be the database file; got ${JSON.stringify(config.path)}`);
    }
    if (!Number.isFinite(config.busyTimeoutMs) || config.busyTimeoutMs < 0) {
      throw new Error(`userStore: busyTimeoutMs must be a duration in ms; got ${JSON.stringify(config.busyTimeoutMs)}`);
    }
    const store = new UserStore(config);
    // The relay reads the store's current connection, so it follows a file opened again after a fault.
    const outbox = app.messaging.outbox({ db: () => store.openConnection });
    store.writeEventsTo(outbox);
    app.decorate('userStore', store);
    app.kit.stats.add((): Pick<UserServiceFields, 'users' | 'database'> => {
      store.recheck();
      return { users: store.countUsers(), database: { status: store.healthy ? 'healthy' : 'unhealthy' } };
    });
    app.kit.status.dependsOn('database', () => store.healthy);
    app.kit.readiness.add('database', () => store.isOpen);
    app.addHook('onReady', async () => {
      store.open();
      app.log.info({ database: config.path }, 'user database open');
    });
    // onClose hooks run last registered first, so this runs before the messaging part's: the relay
    // stops (after the batch in flight) while the database it deletes from is still open.
    app.addHook('onClose', async () => {
      await outbox.close();
      store.close();
    });
  },
  { name: 'user-store', dependencies: ['messaging'] },
);
