import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { OUTBOX_SCHEMA, type Outbox } from '@titanium/service-kit';
import Database from 'better-sqlite3';
import { EXCERPT_LENGTH, excerpt } from './excerpt.js';

export interface Post {
  id: number;
  title: string;
  content: string;
  author: string;
  created_at: string;
  updated_at: string;
}

export interface PostSummary {
  id: number;
  title: string;
  author: string;
  created_at: string;
  excerpt: string;
}

export interface Author {
  id: number;
  username: string;
}

interface PostRow extends Post {
  author_id: number | null;
}

interface SummaryRow {
  id: number;
  title: string;
  author: string;
  created_at: string;
  head: string;
  cut: number;
}

const SCHEMA_VERSION = 1;

// author_id is what authorises a change: it comes from the token's user_id, which stays the same
// for a user's life, while `author` is the name shown to readers. The sample posts have no
// author_id, so nobody can change them through the API.
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS posts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    content TEXT NOT NULL,
    author TEXT NOT NULL,
    author_id INTEGER,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS posts_author_id ON posts (author_id);
  -- The number of posts, kept by triggers: every list answer needs it, and count(*) reads the whole table.
  CREATE TABLE IF NOT EXISTS post_count (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL);
  INSERT OR IGNORE INTO post_count (id, n) SELECT 1, count(*) FROM posts;
  CREATE TRIGGER IF NOT EXISTS post_count_insert AFTER INSERT ON posts BEGIN
    UPDATE post_count SET n = n + 1 WHERE id = 1;
  END;
  CREATE TRIGGER IF NOT EXISTS post_count_delete AFTER DELETE ON posts BEGIN
    UPDATE post_count SET n = n - 1 WHERE id = 1;
  END;
  CREATE VIRTUAL TABLE IF NOT EXISTS posts_fts USING fts5(
    title, content, content='posts', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
  );
  CREATE TRIGGER IF NOT EXISTS posts_fts_insert AFTER INSERT ON posts BEGIN
    INSERT INTO posts_fts (rowid, title, content) VALUES (new.id, new.title, new.content);
  END;
  CREATE TRIGGER IF NOT EXISTS posts_fts_delete AFTER DELETE ON posts BEGIN
    INSERT INTO posts_fts (posts_fts, rowid, title, content) VALUES ('delete', old.id, old.title, old.content);
  END;
  CREATE TRIGGER IF NOT EXISTS posts_fts_update AFTER UPDATE OF title, content ON posts BEGIN
    INSERT INTO posts_fts (posts_fts, rowid, title, content) VALUES ('delete', old.id, old.title, old.content);
    INSERT INTO posts_fts (rowid, title, content) VALUES (new.id, new.title, new.content);
  END;
  -- Domain events written with the change they describe, until the relay has published them.
  ${OUTBOX_SCHEMA}
`;

/** The fields of a post an edit can change, as a post.updated event names them. */
const EDITABLE = ['title', 'content'] as const;

const SAMPLE_POSTS = [
  {
    title: 'Welcome to the Titanium blog',
    content:
      'This blog runs on the blog service of the Titanium stack. Every request you make here goes through the load balancer and the API gateway, and shows up on the dashboard.\n\nLog in to write, edit and delete your own posts.',
  },
  {
    title: 'How the dashboard counts traffic',
    content:
      'Only real API traffic counts: requests under /api/, not HEAD, and not marked as heartbeats. The load balancer keeps a 10-second window of time buckets, so requests per second and latency follow the traffic closely while memory stays fixed.',
  },
];

const SUMMARY_COLUMNS = `p.id, p.title, p.author, p.created_at,
  substr(p.content, 1, ${EXCERPT_LENGTH}) AS head, length(p.content) > ${EXCERPT_LENGTH} AS cut`;

/** How often a database opened read-only is opened again to see whether it has become writable. */
const REOPEN_INTERVAL_MS = 1000;

function isReadOnlyError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_READONLY');
}

function prepareStatements(db: Database.Database) {
  return {
    count: db.prepare<[], { n: number }>('SELECT n FROM post_count WHERE id = 1'),
    page: db.prepare<[number, number], SummaryRow>(
      `SELECT ${SUMMARY_COLUMNS} FROM posts p ORDER BY p.id DESC LIMIT ? OFFSET ?`,
    ),
    searchCount: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM posts_fts WHERE posts_fts MATCH ?'),
    searchPage: db.prepare<[string, number, number], SummaryRow>(
      `SELECT ${SUMMARY_COLUMNS} FROM posts_fts f JOIN posts p ON p.id = f.rowid
       WHERE posts_fts MATCH ? ORDER BY p.id DESC LIMIT ? OFFSET ?`,
    ),
    get: db.prepare<[number], PostRow>(
      'SELECT id, title, content, author, author_id, created_at, updated_at FROM posts WHERE id = ?',
    ),
    insert: db.prepare<[string, string, string, number | null, string, string], PostRow>(
      `INSERT INTO posts (title, content, author, author_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
       RETURNING id, title, content, author, author_id, created_at, updated_at`,
    ),
    update: db.prepare<[string | null, string | null, string, number], PostRow>(
      `UPDATE posts SET title = coalesce(?, title), content = coalesce(?, content), updated_at = ? WHERE id = ?
       RETURNING id, title, content, author, author_id, created_at, updated_at`,
    ),
    remove: db.prepare<[number], Pick<PostRow, 'id' | 'author_id'>>(
      'DELETE FROM posts WHERE id = ? RETURNING id, author_id',
    ),
    ping: db.prepare<[], { ok: number }>('SELECT 1 AS ok'),
    dataVersion: db.prepare<[], number>('PRAGMA data_version').pluck(),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

/**
 * The writes, each one transaction holding the change and its domain event (a post without an
 * author, as the samples are, has no events: nobody can change it through the API). INSERT, UPDATE
 * and DELETE ... RETURNING are read with all(), not get(): get() resets the statement after the
 * first row and better-sqlite3 ignores an error from that reset.
 */
function prepareWrites(db: Database.Database, sql: Statements, outbox: () => Outbox | undefined) {
  return {
    create: db.transaction((title: string, content: string, author: Author, now: string) => {
      const [row] = sql.insert.all(title, content, author.username, author.id, now, now);
      if (!row) throw new Error('insert returned no row');
      outbox()?.add(db, 'post.created', { post_id: row.id, author_id: author.id, title: row.title });
      return row;
    }),
    update: db.transaction((id: number, changes: { title?: string; content?: string }, now: string) => {
      const before = sql.get.get(id);
      if (!before) return undefined;
      const [row] = sql.update.all(changes.title ?? null, changes.content ?? null, now, id);
      if (!row) return undefined;
      if (row.author_id !== null) {
        const fields = EDITABLE.filter((field) => row[field] !== before[field]);
        outbox()?.add(db, 'post.updated', { post_id: row.id, author_id: row.author_id, title: row.title, fields });
      }
      return row;
    }),
    remove: db.transaction((id: number) => {
      const [row] = sql.remove.all(id);
      if (row?.author_id != null) outbox()?.add(db, 'post.deleted', { post_id: row.id, author_id: row.author_id });
      return row !== undefined;
    }),
  };
}

/**
 * Posts in SQLite: WAL, a busy timeout, prepared statements only, full-text search through FTS5.
 * A database file that cannot be written (a read-only mount, say) is served read-only when its schema
 * is current: reads work, writes fail with SQLITE_READONLY, and the file is opened again (at most once
 * a second, on the next write) until the new connection can write.
 */
export class PostStore {
  readonly #path: string;
  readonly #busyTimeoutMs: number;
  #db: Database.Database;
  #statements: Statements;
  #transactions: ReturnType<typeof prepareWrites>;
  #outbox: Outbox | undefined;
  #readOnly = false;
  #lastReopen = 0;
  /** Writes through this connection; `PRAGMA data_version` counts only other connections' commits. */
  #writes = 0;

  constructor(path: string, { busyTimeoutMs = 2000 } = {}) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.#path = path;
    this.#busyTimeoutMs = busyTimeoutMs;
    const { db, readOnly } = this.#connect();
    this.#db = db;
    this.#readOnly = readOnly;
    this.#statements = prepareStatements(db);
    this.#transactions = prepareWrites(db, this.#statements, () => this.#outbox);
  }

  /**
   * Where the store writes its domain events: each in the transaction of the change it describes,
   * the relay woken after the commit. Without one no event is written.
   */
  writeEventsTo(outbox: Outbox): void {
    this.#outbox = outbox;
  }

  get isOpen(): boolean {
    return this.#db.open;
  }

  /** The current connection (a new one after a read-only file was opened again), for the outbox's relay. */
  get connection(): Database.Database {
    return this.#db;
  }

  /** True while the database is served read-only because the file could not be written. */
  get readOnly(): boolean {
    return this.#readOnly;
  }

  #connect(): { db: Database.Database; readOnly: boolean } {
    const db = new Database(this.#path);
    try {
      db.pragma(`busy_timeout = ${Math.trunc(this.#busyTimeoutMs)}`);
      try {
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = NORMAL');
        this.#migrate(db);
        return { db, readOnly: false };
      } catch (err) {
        // A file that cannot be written is still served when its schema is complete.
        if (!isReadOnlyError(err) || (db.pragma('user_version', { simple: true }) as number) < SCHEMA_VERSION)
          throw err;
        return { db, readOnly: true };
      }
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /** Opens the file again when it was read-only; keeps the current connection unless the new one can write. */
  #reopenIfWritable(): void {
    if (!this.#readOnly || Date.now() - this.#lastReopen < REOPEN_INTERVAL_MS) return;
    this.#lastReopen = Date.now();
    let next: { db: Database.Database; readOnly: boolean };
    try {
      next = this.#connect();
    } catch {
      return;
    }
    if (next.readOnly) {
      next.db.close();
      return;
    }
    const previous = this.#db;
    this.#db = next.db;
    this.#statements = prepareStatements(next.db);
    this.#transactions = prepareWrites(next.db, this.#statements, () => this.#outbox);
    this.#readOnly = false;
    this.#writes++;
    previous.close();
  }

  /**
   * Runs a write transaction (BEGIN IMMEDIATE: a busy file is waited for at the start, up to the
   * busy timeout), first reopening a read-only database that may have become writable; wakes the
   * outbox's relay after the commit.
   */
  #write<T>(work: (writes: ReturnType<typeof prepareWrites>) => T): T {
    this.#reopenIfWritable();
    this.#writes++;
    let result: T;
    try {
      result = work(this.#transactions);
    } catch (err) {
      if (isReadOnlyError(err)) this.#readOnly = true;
      throw err;
    }
    this.#outbox?.notify();
    return result;
  }

  #migrate(db: Database.Database): void {
    const version = db.pragma('user_version', { simple: true }) as number;
    // Every statement of the schema is idempotent, so it runs on each start and completes older files.
    const hadIndex = db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'posts_fts'").get() !== undefined;
    db.transaction(() => {
      db.exec(SCHEMA);
      // Posts written before the search index existed are indexed once, when it is created.
      if (!hadIndex) db.exec("INSERT INTO posts_fts (posts_fts) VALUES ('rebuild')");
      // Sample posts only when the database is new, never again after their deletion.
      if (version === 0) {
        const insert = db.prepare(
          'INSERT INTO posts (title, content, author, author_id, created_at, updated_at) VALUES (?, ?, ?, NULL, ?, ?)',
        );
        const now = new Date().toISOString();
        for (const sample of SAMPLE_POSTS) insert.run(sample.title, sample.content, 'titanium', now, now);
      }
      if (version < SCHEMA_VERSION) db.pragma(`user_version = ${SCHEMA_VERSION}`);
    })();
  }

  /** Changes whenever the posts may have changed, whichever connection or process wrote them. */
  version(): string {
    return `${this.#writes}:${this.#statements.dataVersion.get()}`;
  }

  count(): number {
    return this.#statements.count.get()?.n ?? 0;
  }

  /** A page of posts, newest first, and how many there are in all. */
  list(offset: number, limit: number): { total: number; posts: PostSummary[] } {
    const total = this.count();
    const posts = total > offset ? this.#statements.page.all(limit, offset).map(toSummary) : [];
    return { total, posts };
  }

  /** Like list, but only posts whose title or content matches the FTS5 query `match`. */
  search(match: string, offset: number, limit: number): { total: number; posts: PostSummary[] } {
    const total = this.#statements.searchCount.get(match)?.n ?? 0;
    const posts = total > offset ? this.#statements.searchPage.all(match, limit, offset).map(toSummary) : [];
    return { total, posts };
  }

  get(id: number): { post: Post; authorId: number | null } | undefined {
    const row = this.#statements.get.get(id);
    return row && { post: withoutAuthorId(row), authorId: row.author_id };
  }

  // Each write and its event are one transaction: a commit that fails (a full disk, say) throws and
  // saves neither.
  create(title: string, content: string, author: Author): Post {
    const now = new Date().toISOString();
    return withoutAuthorId(this.#write((writes) => writes.create.immediate(title, content, author, now)));
  }

  update(id: number, changes: { title?: string; content?: string }): Post | undefined {
    const row = this.#write((writes) => writes.update.immediate(id, changes, new Date().toISOString()));
    return row && withoutAuthorId(row);
  }

  delete(id: number): boolean {
    return this.#write((writes) => writes.remove.immediate(id));
  }

  /** True when the database answers a query. */
  ping(): boolean {
    return this.#statements.ping.get()?.ok === 1;
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}

function toSummary(row: SummaryRow): PostSummary {
  return {
    id: row.id,
    title: row.title,
    author: row.author,
    created_at: row.created_at,
    excerpt: excerpt(row.head, row.cut === 1),
  };
}

function withoutAuthorId(row: PostRow): Post {
  const { author_id: _, ...post } = row;
  return post;
}
