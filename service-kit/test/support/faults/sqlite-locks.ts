import { fileURLToPath } from 'node:url';
import { type ManagedProcess, startProcess } from '../processes.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

// Runs in its own process, so waiting for a lock never stalls the test's event loop: it takes the
// write lock of the database, holds it, commits one row of its own, lets go, and starts again.
const HOLDER = `
const Database = require('better-sqlite3');
const [path, holdMs, pauseMs] = process.argv.slice(1);
const db = new Database(path);
db.pragma('busy_timeout = 5000');
db.exec('CREATE TABLE IF NOT EXISTS lock_holder (id INTEGER PRIMARY KEY, at TEXT NOT NULL)');
const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
let rounds = 0;
process.on('SIGTERM', () => { db.close(); console.log('rounds ' + rounds); process.exit(0); });
console.log('holding');
const loop = () => {
  db.exec('BEGIN IMMEDIATE');
  db.prepare('INSERT INTO lock_holder (at) VALUES (?)').run(new Date().toISOString());
  sleep(Number(holdMs));
  db.exec('COMMIT');
  rounds++;
  setTimeout(loop, Number(pauseMs));
};
loop();
`;

/**
 * Another process that keeps taking the database's write lock for `holdMs` at a time, with `pauseMs`
 * between, so writers in the services hit SQLITE_BUSY for real. Stop it with `stop()`.
 */
export async function holdWriteLocks(path: string, { holdMs = 150, pauseMs = 50 } = {}): Promise<ManagedProcess> {
  const holder = startProcess(
    'sqlite-lock-holder',
    process.execPath,
    ['-e', HOLDER, path, String(holdMs), String(pauseMs)],
    {},
    ROOT,
  );
  await holder.waitForLine(/^holding$/);
  return holder;
}
