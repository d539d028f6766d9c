import { join } from 'node:path';
import {
  cleanupDisks,
  describeMounting,
  itMounting,
  makeReadOnly,
  mountExt4Disk,
  mountSmallDisk,
  type RunningService,
  scratchDir,
  startService,
  stopAllProcesses,
} from '@titanium/test-support';
import Database from 'better-sqlite3';
import { afterEach, expect, it } from 'vitest';
import { post, statsOf, until } from './helpers.js';

const user = (username: string) => ({ username, email: `${username}@example.com`, password: 'long enough' });

interface Answer {
  status: number;
  body: { message?: string; username?: string };
}

async function register(base: string, username: string): Promise<Answer> {
  const res = await post(base, '/users', user(username));
  return { status: res.status, body: (await res.json()) as Answer['body'] };
}

/** Opens the file after the service has stopped: the integrity check and the stored names. */
function inspect(path: string): { integrity: string; names: string[] } {
  const db = new Database(path, { readonly: true });
  try {
    const integrity = String(db.pragma('integrity_check', { simple: true }));
    const names = db.prepare<[], string>('SELECT username FROM users ORDER BY id').pluck().all();
    return { integrity, names };
  } finally {
    db.close();
  }
}

describeMounting('tmpfs', 'user-service on a real disk that fills up or turns read-only', () => {
  afterEach(async () => {
    await stopAllProcesses();
    cleanupDisks();
  });

  it('answers 503 on a full disk, keeps reading, loses no acknowledged user and writes again once space returns', async () => {
    const disk = mountSmallDisk(4 * 1024 * 1024);
    const dbPath = join(disk.dir, 'users.db');
    const service: RunningService = await startService('user-service', { DATABASE_PATH: dbPath });
    expect((await register(service.url, 'alice')).status).toBe(201);

    disk.fill(48 * 1024);
    const acknowledged = ['alice'];
    let refused: Answer | undefined;
    for (let i = 0; i < 200 && !refused; i++) {
      const answer = await register(service.url, `user${i}`);
      if (answer.status === 201) acknowledged.push(`user${i}`);
      else refused = answer;
    }
    expect(refused).toEqual({
      status: 503,
      body: {
        statusCode: 503,
        error: 'Service Unavailable',
        message: 'The user database cannot save changes right now because the disk is full; try again later',
      },
    });
    // Reads go on, including users written just before the disk filled.
    for (const name of [acknowledged[0], acknowledged.at(-1)]) {
      expect((await fetch(`${service.url}/users/${name}`)).status).toBe(200);
    }
    expect((await statsOf(service.url)).database.status).toBe('unhealthy');

    disk.free();
    // No restart: the next write succeeds by itself.
    await until(
      () => register(service.url, 'after'),
      (answer) => answer.status === 201,
    );
    acknowledged.push('after');
    await until(
      () => statsOf(service.url),
      (stats) => stats.database.status === 'healthy',
    );
    expect(service.process.running).toBe(true);

    await service.stop();
    const { integrity, names } = inspect(dbPath);
    expect(integrity).toBe('ok');
    for (const name of acknowledged) expect(names).toContain(name);
  });

  it('starts on a read-only database file, serves reads, answers writes 503 and writes once it is writable again', async () => {
    const dbPath = join(scratchDir('titanium-users-ro-'), 'users.db');
    let service = await startService('user-service', { DATABASE_PATH: dbPath });
    expect((await register(service.url, 'alice')).status).toBe(201);
    await service.stop();

    // The file itself read-only; its folder stays writable for SQLite's -wal and -shm files.
    const readOnly = makeReadOnly(dbPath);
    service = await startService('user-service', { DATABASE_PATH: dbPath });
    expect((await fetch(`${service.url}/users/alice`)).status).toBe(200);
    expect((await fetch(`${service.url}/ready`)).status).toBe(200);
    expect(await register(service.url, 'bob')).toEqual({
      status: 503,
      body: {
        statusCode: 503,
        error: 'Service Unavailable',
        message: 'The user database cannot save changes right now because it is read-only; try again later',
      },
    });
    expect((await statsOf(service.url)).database.status).toBe('unhealthy');

    readOnly.restore();
    // No restart: the service opens the file again by itself.
    await until(
      () => statsOf(service.url),
      (stats) => stats.database.status === 'healthy',
    );
    expect((await register(service.url, 'bob')).status).toBe(201);
    expect(service.process.running).toBe(true);

    await service.stop();
    const { integrity, names } = inspect(dbPath);
    expect(integrity).toBe('ok');
    expect(names).toEqual(['alice', 'bob']);
  });

  itMounting(
    'ext4',
    'notices a file system that turns read-only under it: writes 503, reads go on, the process stays up',
    async () => {
      // An aborted ext4, as after a fatal disk error: read-only for files already open for writing,
      // which a read-only remount refuses to do.
      const disk = mountExt4Disk(16 * 1024 * 1024);
      const service = await startService('user-service', { DATABASE_PATH: join(disk.dir, 'users.db') });
      expect((await register(service.url, 'alice')).status).toBe(201);
      disk.abort();
      for (const name of ['bob', 'carol']) {
        expect(await register(service.url, name)).toEqual({
          status: 503,
          body: {
            statusCode: 503,
            error: 'Service Unavailable',
            message: 'The user database cannot save changes right now because of an I/O error; try again later',
          },
        });
      }
      expect((await fetch(`${service.url}/users/alice`)).status).toBe(200);
      expect((await fetch(`${service.url}/users/bob`)).status).toBe(404);
      expect((await statsOf(service.url)).database.status).toBe('unhealthy');
      expect(service.process.running).toBe(true);
      expect(await service.process.stop()).toEqual({ code: 0, signal: null });
    },
  );
});
