import { join } from 'node:path';
import { cleanupDisks, holdWriteLocks, scratchDir, startService, stopAllProcesses } from '@titanium/test-support';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { post } from './helpers.js';

afterAll(async () => {
  await stopAllProcesses();
  cleanupDisks();
});

describe('concurrent writers on one database file', () => {
  it('two service processes and a lock holder: every 201 is stored, every 503 is not, no other answer', async () => {
    const dbPath = join(scratchDir('titanium-users-busy-'), 'users.db');
    const env = { DATABASE_PATH: dbPath, DATABASE_BUSY_TIMEOUT_MS: '100' };
    const services = await Promise.all([startService('user-service', env), startService('user-service', env)]);
    const started = Date.now();
    const holder = await holdWriteLocks(dbPath, { holdMs: 400, pauseMs: 100 });

    const register = async (username: string, base: string) => {
      const res = await post(base, '/users', { username, email: `${username}@example.com`, password: 'long enough' });
      return { username, status: res.status, body: (await res.json()) as { message?: string } };
    };
    // Password hashing makes each registration costly, so a few suffice: the lock is held most of the time.
    const during = await Promise.all(
      Array.from({ length: 16 }, (_, i) => register(`during${i}`, services[i % 2]?.url ?? '')),
    );
    const writeMs = Date.now() - started;
    await holder.stop();
    const after = await Promise.all(
      Array.from({ length: 4 }, (_, i) => register(`after${i}`, services[i % 2]?.url ?? '')),
    );
    const answers = [...during, ...after];

    const acknowledged = answers.filter((answer) => answer.status === 201).map((answer) => answer.username);
    const refused = answers.filter((answer) => answer.status !== 201);
    for (const answer of refused) {
      expect(answer.status).toBe(503);
      expect(answer.body.message).toBe(
        'The user database cannot save changes right now because another writer holds its lock; try again later',
      );
    }
    // The lock holder was really in the way, and once it has gone every write gets through.
    expect(refused.length).toBeGreaterThan(0);
    for (const answer of after) expect(answer.status).toBe(201);
    for (const service of services) expect(service.process.running).toBe(true);

    await Promise.all(services.map((service) => service.stop()));
    const db = new Database(dbPath, { readonly: true });
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      const stored = db.prepare<[], string>('SELECT username FROM users').pluck().all();
      expect(stored.sort()).toEqual(acknowledged.sort());
    } finally {
      db.close();
    }
    process.stdout.write(
      `user-service under lock contention: ${acknowledged.length} stored, ${refused.length} refused with 503 in ${writeMs} ms\n`,
    );
  });
});
