import Database from 'better-sqlite3';

/**
 * Every row of every table (FTS shadow tables included), rows sorted, ready for `toEqual`; but the
 * outbox, which its relay empties by itself moments after each write (what a request published
 * is checked on the event stream instead).
 */
export type Snapshot = Record<string, string[]>;

export interface SqliteSnapshots {
  take(): Snapshot;
  close(): void;
}

/**
 * A read-only connection to a service's SQLite file that reads all its tables into a snapshot,
 * so a test can tell that a rejected request changed nothing.
 */
export function sqliteSnapshots(path: string): SqliteSnapshots {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  return {
    take() {
      const tables = db
        .prepare(
          `SELECT name FROM sqlite_master
            WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND sql NOT LIKE 'CREATE VIRTUAL%'
              AND name != 'outbox'
            ORDER BY name`,
        )
        .pluck()
        .all() as string[];
      const snapshot: Snapshot = {};
      for (const table of tables) {
        const rows = db
          .prepare(`SELECT * FROM "${table.replaceAll('"', '""')}"`)
          .raw()
          .all() as unknown[][];
        snapshot[table] = rows.map((row) => JSON.stringify(row, blobsAsHex)).sort();
      }
      return snapshot;
    },
    close() {
      db.close();
    },
  };
}

function blobsAsHex(_key: string, value: unknown): unknown {
  // JSON.stringify has already turned a Buffer into {type: 'Buffer', data}; keep it short.
  if (value && typeof value === 'object' && (value as { type?: unknown }).type === 'Buffer') {
    return `x'${Buffer.from((value as { data: number[] }).data).toString('hex')}'`;
  }
  return value;
}
