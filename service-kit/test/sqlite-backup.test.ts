import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  cleanupDisks,
  describeMounting,
  freePort,
  mountSmallDisk,
  startProcess,
  stopAllProcesses,
  waitForHttp,
} from '@titanium/test-support';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

const CLI = fileURLToPath(new URL('../dist/bin/sqlite-backup.js', import.meta.url));
const WRITER = fileURLToPath(new URL('./fixtures/sqlite-writer.mjs', import.meta.url));
const SERVICE = fileURLToPath(new URL('./fixtures/sqlite-service.mjs', import.meta.url));
const STAMPED = /^users\.db\.\d{4}-\d{2}-\d{2}-\d{6}$/;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sqlite-backup-'));
  mkdirSync(join(dir, 'backup'));
});
afterEach(async () => {
  await stopAllProcesses();
  rmSync(dir, { recursive: true, force: true });
});

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function backups(): string[] {
  return readdirSync(join(dir, 'backup'))
    .filter((file) => STAMPED.test(file))
    .sort();
}

function query<T>(file: string, sql: string): T {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).get() as T;
  } finally {
    db.close();
  }
}

function makeDatabase(file: string, rows: number): void {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)');
  const insert = db.prepare('INSERT INTO items (name) VALUES (?)');
  for (let i = 0; i < rows; i++) insert.run(`item-${i}`);
  db.close();
}

describe('sqlite-backup backup', () => {
  it('copies a database that another process keeps writing into a consistent, intact snapshot', async () => {
    const db = join(dir, 'users.db');
    const writer = startProcess('writer', process.execPath, [WRITER, db, '20000']);
    await writer.waitForLine(/^seeded 20000$/, 60_000);
    // Let the writer get going, then note the last row committed before the backup starts.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const before = query<{ n: number }>(db, 'SELECT max(id) AS n FROM users').n;

    const result = cli('backup', '--db', db, '--out', join(dir, 'backup'));
    const afterBackup = query<{ n: number }>(db, 'SELECT max(id) AS n FROM users').n;
    await writer.stop();

    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const [copy] = backups();
    expect(copy).toBeDefined();
    const file = join(dir, 'backup', copy as string);
    expect(result.stdout).toBe(`${result.stdout.split('\n')[0]}\n`);
    expect(result.stdout).toContain(`wrote ${file}`);
    expect(query<{ integrity_check: string }>(file, 'PRAGMA integrity_check').integrity_check).toBe('ok');
    const users = query<{ n: number; max: number }>(file, 'SELECT count(*) AS n, max(id) AS max FROM users');
    const audit = query<{ n: number }>(file, 'SELECT count(*) AS n FROM audit');
    // Every row committed before the backup started is there ...
    expect(users.max).toBeGreaterThanOrEqual(before);
    // ... with no gaps and both tables from the same instant (one transaction writes one row to each).
    expect(users.n).toBe(users.max);
    expect(audit.n).toBe(users.n);
    // The writer really was writing while the copy was taken.
    expect(afterBackup).toBeGreaterThan(before);
    // The copy is one self-contained file (rollback journal), not a WAL database needing its -wal.
    expect(query<{ journal_mode: string }>(file, 'PRAGMA journal_mode').journal_mode).toBe('delete');
    expect(readdirSync(join(dir, 'backup'))).toEqual([copy]);
  }, 90_000);

  it('keeps exactly the newest N copies and leaves files it did not name alone', () => {
    const db = join(dir, 'users.db');
    makeDatabase(db, 10);
    const old = ['2020-01-01-000000', '2020-01-02-000000', '2020-01-03-000000', '2020-01-04-000000'].map(
      (stamp) => `users.db.${stamp}`,
    );
    const strangers = ['users.db.notes', 'users.db.2020-01-01-000000.old', 'blog.db.2020-01-01-000000'];
    for (const file of [...old, ...strangers]) writeFileSync(join(dir, 'backup', file), 'old');

    const result = cli('backup', '--db', db, '--out', join(dir, 'backup'), '--keep', '3');

    expect(result.status).toBe(0);
    const kept = backups();
    expect(kept).toHaveLength(3);
    expect(kept.slice(0, 2)).toEqual(old.slice(2));
    expect(result.stdout).toContain(`pruned ${old.slice(0, 2).join(', ')}`);
    const listed = cli('list', '--out', join(dir, 'backup'), '--name', 'users.db');
    expect(listed.stdout.trim().split('\n')).toEqual(kept.reverse().map((file) => join(dir, 'backup', file)));
    for (const file of strangers) expect(existsSync(join(dir, 'backup', file))).toBe(true);
  });

  it('names the copy with --name and the UTC time', () => {
    const db = join(dir, 'data.sqlite');
    makeDatabase(db, 1);
    const started = new Date();
    const result = cli('backup', '--db', db, '--out', join(dir, 'backup'), '--name', 'users.db');
    expect(result.status).toBe(0);
    const [copy] = backups();
    const stamp = (copy as string).slice('users.db.'.length);
    const [date, time] = [stamp.slice(0, 10), stamp.slice(11)];
    const when = new Date(`${date}T${time.slice(0, 2)}:${time.slice(2, 4)}:${time.slice(4, 6)}Z`);
    expect(Math.abs(when.getTime() - started.getTime())).toBeLessThan(5_000);
  });

  it('fails with one clear line and leaves nothing behind when the database is missing or not SQLite', () => {
    const missing = cli('backup', '--db', join(dir, 'none.db'), '--out', join(dir, 'backup'));
    expect(missing.status).toBe(1);
    expect(missing.stderr).toBe(`sqlite-backup: database ${join(dir, 'none.db')} does not exist\n`);

    writeFileSync(join(dir, 'users.db'), 'this is not a database'.repeat(100));
    const garbage = cli('backup', '--db', join(dir, 'users.db'), '--out', join(dir, 'backup'));
    expect(garbage.status).toBe(1);
    expect(garbage.stderr).toMatch(/^sqlite-backup: backup of .* failed: file is not a database\n$/);
    expect(readdirSync(join(dir, 'backup'))).toEqual([]);
  });

  it('fails when the backup directory is missing or the arguments are wrong', () => {
    makeDatabase(join(dir, 'users.db'), 1);
    const noDir = cli('backup', '--db', join(dir, 'users.db'), '--out', join(dir, 'nowhere'));
    expect(noDir.status).toBe(1);
    expect(noDir.stderr).toContain('backup directory');
    expect(cli('backup', '--db', join(dir, 'users.db')).status).toBe(64);
    expect(cli('backup', '--db', join(dir, 'users.db'), '--out', dir, '--keep', '0').status).toBe(64);
    expect(cli('frobnicate').status).toBe(64);
  });
});

describeMounting('tmpfs', 'sqlite-backup on a full disk', () => {
  let small: string;
  beforeAll(() => {
    small = mountSmallDisk(256 * 1024).dir;
  });
  afterAll(() => cleanupDisks());

  it('exits non-zero saying the disk is full and removes the partial copy', () => {
    const db = join(dir, 'users.db');
    const big = new Database(db);
    big.pragma('journal_mode = WAL');
    big.exec('CREATE TABLE blobs (data BLOB)');
    big.prepare('INSERT INTO blobs VALUES (randomblob(1048576))').run();
    big.close();

    const result = cli('backup', '--db', db, '--out', small);

    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^sqlite-backup: backup of .* failed: no space left on the backup volume\n$/);
    expect(readdirSync(small)).toEqual([]);
  });
});

describe('sqlite-backup restore', () => {
  it('brings a service back with the data of the backup', async () => {
    const db = join(dir, 'users.db');
    const port = await freePort();
    const env = { HOST: '127.0.0.1', PORT: String(port), DATABASE_PATH: db, LOG_LEVEL: 'warn' };
    const base = `http://127.0.0.1:${port}`;
    const post = (name: string) =>
      fetch(`${base}/items`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name }),
      });

    let service = startProcess('sqlite-service', process.execPath, [SERVICE], env);
    await waitForHttp(`${base}/ready`);
    for (const name of ['ada', 'grace', 'linus']) expect((await post(name)).status).toBe(201);
    expect(cli('backup', '--db', db, '--out', join(dir, 'backup')).status).toBe(0);
    expect((await post('written-after-the-backup')).status).toBe(201);

    const [copy] = backups();
    const from = join(dir, 'backup', copy as string);
    const refused = cli('restore', '--from', from, '--db', db);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('is in use by another process; stop the service first');

    await service.stop();
    const restored = cli('restore', '--from', from, '--db', db);
    expect(restored.stderr).toBe('');
    expect(restored.status).toBe(0);
    expect(existsSync(`${db}-wal`)).toBe(false);
    expect(existsSync(`${db}-shm`)).toBe(false);

    service = startProcess('sqlite-service', process.execPath, [SERVICE], env);
    await waitForHttp(`${base}/ready`);
    const items = (await (await fetch(`${base}/items`)).json()) as { name: string }[];
    expect(items.map((item) => item.name)).toEqual(['ada', 'grace', 'linus']);
    // The replaced database is kept, with the row written after the backup.
    const previous = readdirSync(dir).find((file) => file.startsWith('users.db.before-restore-'));
    expect(previous).toBeDefined();
    expect(query<{ n: number }>(join(dir, previous as string), 'SELECT count(*) AS n FROM items').n).toBe(4);
  });

  it('refuses a damaged backup and leaves the database untouched', () => {
    const db = join(dir, 'users.db');
    makeDatabase(db, 5);
    const bad = join(dir, 'backup', 'users.db.2020-01-01-000000');
    writeFileSync(bad, 'SQLite format 3\0 but then nothing useful'.repeat(200));

    const result = cli('restore', '--from', bad, '--db', db);

    expect(result.status).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(bad);
    expect(query<{ n: number }>(db, 'SELECT count(*) AS n FROM items').n).toBe(5);
    expect(readdirSync(dir).filter((file) => /restor/.test(file))).toEqual([]);
  });
});
