/**
 * Online backups and restores of a service's SQLite database.
 *
 * A backup copies every page inside one read transaction through SQLite's backup API, so it is a
 * consistent snapshot even while the service keeps writing (WAL readers never block the writer).
 * The copy is written under a temporary name, switched to a single-file rollback journal, checked
 * with `PRAGMA integrity_check`, flushed to disk and only then renamed to `<name>.YYYY-mm-dd-HHMMSS`.
 */
import { closeSync, existsSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import Database from 'better-sqlite3';

export class BackupError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'BackupError';
  }
}

export interface BackupOptions {
  /** The live database file. */
  db: string;
  /** Directory the copies are kept in. */
  outDir: string;
  /** How many copies to keep (the newest); older ones matching the naming pattern are removed. */
  keep: number;
  /** Base name of the copies; defaults to the database file's name. */
  name?: string;
  /** The time stamped into the copy's name (UTC). */
  now?: Date;
}

export interface BackupResult {
  file: string;
  bytes: number;
  pages: number;
  pruned: string[];
}

export interface RestoreOptions {
  /** The backup file to restore. */
  from: string;
  /** The database file to replace. */
  db: string;
  /** Restore even when another connection has the database open. */
  force?: boolean;
  now?: Date;
}

export interface RestoreResult {
  db: string;
  /** Where the replaced database (and its WAL, if any) was moved, if there was one. */
  previous?: string;
}

const BACKUP_SUFFIX = /\.(\d{4}-\d{2}-\d{2}-\d{6})$/;
/**
 * After better-sqlite3's first step (100 pages), all remaining pages in one. A write by another
 * connection between steps makes SQLite start the copy again, so it is one point in time either way.
 */
const ALL_PAGES = 0x7fffffff;

/** `2026-11-22-000000` for midnight UTC. */
export function backupStamp(date: Date): string {
  const iso = date.toISOString();
  return `${iso.slice(0, 10)}-${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}`;
}

/** The copies of `name` in `dir`, oldest first (the stamp sorts chronologically). */
export function listBackups(dir: string, name: string): string[] {
  return readdirSync(dir)
    .filter((file) => file.startsWith(`${name}.`) && BACKUP_SUFFIX.test(file) && file.length === name.length + 18)
    .sort();
}

function describe(err: unknown): string {
  const error = err as NodeJS.ErrnoException & { code?: string };
  if (error.code === 'SQLITE_FULL' || error.code === 'ENOSPC') return 'no space left on the backup volume';
  return error.message ?? String(err);
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Throws unless `file` is a SQLite database whose integrity check says "ok". */
export function checkIntegrity(file: string): void {
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    const rows = db.pragma('integrity_check') as { integrity_check: string }[];
    const verdict = rows.map((row) => row.integrity_check).join('; ');
    if (verdict !== 'ok') throw new BackupError(`integrity check of ${file} failed: ${verdict}`);
  } catch (err) {
    if (err instanceof BackupError) throw err;
    throw new BackupError(`${file} is not a readable SQLite database: ${describe(err)}`, { cause: err });
  } finally {
    db?.close();
  }
}

export async function backupDatabase(options: BackupOptions): Promise<BackupResult> {
  const { db: source, outDir, keep } = options;
  const name = options.name ?? basename(source);
  if (!Number.isInteger(keep) || keep < 1) throw new BackupError(`--keep must be a whole number of at least 1`);
  if (!existsSync(source)) throw new BackupError(`database ${source} does not exist`);
  if (!existsSync(outDir) || !statSync(outDir).isDirectory()) {
    throw new BackupError(`backup directory ${outDir} does not exist`);
  }
  const file = join(outDir, `${name}.${backupStamp(options.now ?? new Date())}`);
  if (existsSync(file)) throw new BackupError(`${file} already exists; not overwriting it`);
  const temp = join(outDir, `.${basename(file)}.partial`);

  let live: Database.Database | undefined;
  let pages = 0;
  try {
    rmSync(temp, { force: true });
    // Read-only, yet through the shared WAL index, so it sees every transaction committed so far.
    live = new Database(source, { readonly: true, fileMustExist: true, timeout: 5_000 });
    const progress = await live.backup(temp, { progress: () => ALL_PAGES });
    pages = progress.totalPages;
  } catch (err) {
    rmSync(temp, { force: true });
    throw new BackupError(`backup of ${source} failed: ${describe(err)}`, { cause: err });
  } finally {
    live?.close();
  }

  try {
    const copy = new Database(temp, { fileMustExist: true });
    try {
      copy.pragma('journal_mode = DELETE');
    } finally {
      copy.close();
    }
    checkIntegrity(temp);
    fsyncPath(temp);
    renameSync(temp, file);
    fsyncPath(outDir);
  } catch (err) {
    rmSync(temp, { force: true });
    if (err instanceof BackupError) throw err;
    throw new BackupError(`writing ${file} failed: ${describe(err)}`, { cause: err });
  }

  const copies = listBackups(outDir, name);
  const pruned = copies.slice(0, Math.max(0, copies.length - keep));
  for (const old of pruned) rmSync(join(outDir, old), { force: true });
  return { file, bytes: statSync(file).size, pages, pruned };
}

/** True when some other connection has the database open (an exclusive lock cannot be had). */
export function databaseInUse(file: string): boolean {
  if (!existsSync(file)) return false;
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { fileMustExist: true, timeout: 0 });
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE; COMMIT');
    return false;
  } catch (err) {
    if ((err as { code?: string }).code === 'SQLITE_BUSY') return true;
    throw new BackupError(`cannot open ${file}: ${describe(err)}`, { cause: err });
  } finally {
    db?.close();
  }
}

/**
 * Replaces `db` with the backup `from`: the backup is checked first, the current database and its
 * WAL are kept beside it as `<db>.before-restore-<stamp>` (so nothing is lost), stale `-wal`/`-shm`
 * files are removed (an old WAL replayed onto the restored file would corrupt it), and the new file
 * appears under its name in one rename.
 */
export function restoreDatabase(options: RestoreOptions): RestoreResult {
  const { from, db } = options;
  if (!existsSync(from)) throw new BackupError(`backup ${from} does not exist`);
  checkIntegrity(from);
  if (!existsSync(dirname(db))) throw new BackupError(`directory ${dirname(db)} does not exist`);
  if (!options.force && databaseInUse(db)) {
    throw new BackupError(
      `${db} is in use by another process; stop the service first (kubectl scale deployment --replicas=0) or pass --force`,
    );
  }

  const temp = `${db}.restoring`;
  let previous: string | undefined;
  try {
    rmSync(temp, { force: true });
    const source = new Database(from, { readonly: true, fileMustExist: true });
    try {
      source.exec(`VACUUM INTO '${temp.replaceAll("'", "''")}'`);
    } finally {
      source.close();
    }
    checkIntegrity(temp);
    fsyncPath(temp);
    if (existsSync(db)) {
      previous = `${db}.before-restore-${backupStamp(options.now ?? new Date())}`;
      renameSync(db, previous);
      if (existsSync(`${db}-wal`)) renameSync(`${db}-wal`, `${previous}-wal`);
    }
    rmSync(`${db}-wal`, { force: true });
    rmSync(`${db}-shm`, { force: true });
    renameSync(temp, db);
    fsyncPath(dirname(db));
  } catch (err) {
    rmSync(temp, { force: true });
    if (err instanceof BackupError) throw err;
    throw new BackupError(`restore of ${db} failed: ${describe(err)}`, { cause: err });
  }
  return previous ? { db, previous } : { db };
}
