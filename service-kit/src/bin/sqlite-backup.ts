#!/usr/bin/env node
import { existsSync } from 'node:fs';
import { join } from 'node:path';
/**
 * sqlite-backup backup --db /data/users.db --out /backup [--keep 7] [--name users.db]
 * sqlite-backup restore --from /backup/users.db.2026-11-22-000000 --db /data/users.db [--force]
 * sqlite-backup list --out /backup --name users.db
 *
 * Prints one line saying what it did; on any failure one line on stderr and a non-zero exit.
 */
import { parseArgs } from 'node:util';
import { BackupError, backupDatabase, listBackups, restoreDatabase } from '../sqlite-backup.js';

const USAGE = `usage:
  sqlite-backup backup --db <database> --out <directory> [--keep 7] [--name <base name>]
  sqlite-backup restore --from <backup file> --db <database> [--force]
  sqlite-backup list --out <directory> --name <base name>`;

const EXIT_USAGE = 64;

function fail(message: string, code = 1): never {
  process.stderr.write(`sqlite-backup: ${message}\n`);
  process.exit(code);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        db: { type: 'string' },
        out: { type: 'string' },
        keep: { type: 'string', default: '7' },
        name: { type: 'string' },
        from: { type: 'string' },
        force: { type: 'boolean', default: false },
      },
      strict: true,
    }));
  } catch (err) {
    fail(`${(err as Error).message}\n${USAGE}`, EXIT_USAGE);
  }
  const db = values.db as string | undefined;

  if (command === 'backup') {
    const out = values.out as string | undefined;
    const keep = Number(values.keep);
    if (!db || !out) fail(`backup needs --db and --out\n${USAGE}`, EXIT_USAGE);
    if (!Number.isInteger(keep) || keep < 1) fail(`--keep must be a whole number of at least 1`, EXIT_USAGE);
    const name = values.name as string | undefined;
    const result = await backupDatabase({ db, outDir: out, keep, ...(name ? { name } : {}) });
    const pruned = result.pruned.length > 0 ? `; pruned ${result.pruned.join(', ')}` : '';
    process.stdout.write(
      `sqlite-backup: wrote ${result.file} (${result.pages} pages, ${result.bytes} bytes, integrity ok)${pruned}\n`,
    );
    return;
  }
  if (command === 'restore') {
    const from = values.from as string | undefined;
    if (!db || !from) fail(`restore needs --from and --db\n${USAGE}`, EXIT_USAGE);
    const result = restoreDatabase({ from, db, force: values.force === true });
    const kept = result.previous ? `; the replaced database is kept as ${result.previous}` : '';
    process.stdout.write(`sqlite-backup: restored ${db} from ${from} (integrity ok)${kept}\n`);
    return;
  }
  if (command === 'list') {
    const out = values.out as string | undefined;
    const name = values.name as string | undefined;
    if (!out || !name) fail(`list needs --out and --name\n${USAGE}`, EXIT_USAGE);
    if (!existsSync(out)) throw new BackupError(`backup directory ${out} does not exist`);
    const copies = listBackups(out, name).reverse();
    process.stdout.write(copies.map((file) => `${join(out, file)}\n`).join(''));
    if (copies.length === 0) process.stderr.write(`sqlite-backup: no copies of ${name} in ${out}\n`);
    return;
  }
  fail(`unknown command ${JSON.stringify(command ?? '')}\n${USAGE}`, EXIT_USAGE);
}

try {
  await main(process.argv.slice(2));
} catch (err) {
  if (err instanceof BackupError) fail(err.message);
  fail(`unexpected failure: ${(err as Error).message}`);
}
