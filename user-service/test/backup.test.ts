import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type RunningService, startService } from '@titanium/test-support';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { post, tempDir } from './helpers.js';

const run = promisify(execFile);
const BACKUP_CLI = fileURLToPath(new URL('../../service-kit/dist/bin/sqlite-backup.js', import.meta.url));
const PASSWORD = 'backup and restore';

// The backup CronJob's command and the documented restore, run against user-service itself while
// it takes registrations: the copy is intact and holds every acknowledged user, and a service
// started on the restored file logs them in.
describe('backup and restore of the user database', () => {
  const { dir, dbPath, cleanup } = tempDir();
  const backupDir = join(dir, 'backup');
  let service: RunningService | undefined;
  afterAll(async () => {
    await service?.stop();
    cleanup();
  });

  const register = (username: string) =>
    post(service?.url ?? '', '/users', { username, email: `${username}@example.com`, password: PASSWORD });

  it('copies the live database under concurrent writes and restores it into a working service', async () => {
    service = await startService('user-service', { DATABASE_PATH: dbPath });
    for (let i = 0; i < 20; i++) expect((await register(`before_${i}`)).status).toBe(201);
    mkdirSync(backupDir);

    // Registrations keep arriving while the backup runs.
    let writing = true;
    const during: string[] = [];
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        const res = await register(`during_${i}`);
        if (res.status === 201) during.push(`during_${i}`);
      }
    })();
    const backup = await run(process.execPath, [BACKUP_CLI, 'backup', '--db', dbPath, '--out', backupDir]);
    writing = false;
    await writer;
    expect(backup.stdout).toMatch(/^sqlite-backup: wrote .*users\.db\.\d{4}-\d{2}-\d{2}-\d{6} .*integrity ok/);
    expect(during.length).toBeGreaterThan(0);
    expect((await register('after_backup')).status).toBe(201);

    const [copy] = readdirSync(backupDir);
    const file = join(backupDir, copy as string);
    const snapshot = new Database(file, { readonly: true });
    const names = new Set(
      snapshot
        .prepare('SELECT username FROM users')
        .all()
        .map((row) => (row as { username: string }).username),
    );
    expect(snapshot.pragma('integrity_check', { simple: true })).toBe('ok');
    snapshot.close();
    for (let i = 0; i < 20; i++) expect(names.has(`before_${i}`)).toBe(true);
    // A single point in time: the writes it holds are a prefix of those acknowledged during the copy.
    const held = during.filter((name) => names.has(name));
    expect(during.slice(0, held.length)).toEqual(held);
    expect(names.has('after_backup')).toBe(false);

    await service.stop();
    const restored = await run(process.execPath, [BACKUP_CLI, 'restore', '--from', file, '--db', dbPath]);
    expect(restored.stdout).toContain('restored');
    service = await startService('user-service', { DATABASE_PATH: dbPath });
    const login = await post(service.url, '/users/verify-credentials', { username: 'before_7', password: PASSWORD });
    expect(login.status).toBe(200);
    expect((await fetch(`${service.url}/users/before_19`)).status).toBe(200);
    expect((await fetch(`${service.url}/users/after_backup`)).status).toBe(404);
    expect((await register('after_restore')).status).toBe(201);
  });
});
