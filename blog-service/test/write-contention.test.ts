import { join } from 'node:path';
import {
  cleanupDisks,
  holdWriteLocks,
  scratchDir,
  signToken,
  startService,
  stopAllProcesses,
} from '@titanium/test-support';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';

const SECRET = 'blog-busy-test-secret-that-is-long-enough-0123';
const token = signToken({ user_id: 9, username: 'busy' }, { secret: SECRET });

afterAll(async () => {
  await stopAllProcesses();
  cleanupDisks();
});

async function write(base: string, title: string) {
  const res = await fetch(`${base}/api/posts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ title, content: `Written under contention: ${title}` }),
  });
  return { title, status: res.status, body: (await res.json()) as { message?: string } };
}

describe('concurrent writers on one database file', () => {
  it('two service processes and a lock holder: every 201 is stored, every 503 is not, no other answer', async () => {
    const dbPath = join(scratchDir('titanium-blog-busy-'), 'blog.db');
    const env = { BLOG_DATABASE_PATH: dbPath, JWT_SECRET: SECRET, BLOG_DB_BUSY_TIMEOUT_MS: '100' };
    // One after the other: the first creates the schema, the second finds it.
    const services = [await startService('blog-service', env), await startService('blog-service', env)];
    const holder = await holdWriteLocks(dbPath, { holdMs: 300, pauseMs: 100 });

    const during = await Promise.all(
      Array.from({ length: 60 }, (_, i) => write(services[i % 2]?.url ?? '', `during ${i}`)),
    );
    await holder.stop();
    const after = await Promise.all(
      Array.from({ length: 6 }, (_, i) => write(services[i % 2]?.url ?? '', `after ${i}`)),
    );
    const answers = [...during, ...after];

    const acknowledged = answers.filter((answer) => answer.status === 201).map((answer) => answer.title);
    const refused = answers.filter((answer) => answer.status !== 201);
    for (const answer of refused) {
      expect(answer).toMatchObject({
        status: 503,
        body: {
          message: 'Posts cannot be changed right now: the database is busy. Reading still works; try again later.',
        },
      });
    }
    expect(refused.length).toBeGreaterThan(0);
    for (const answer of after) expect(answer.status).toBe(201);
    for (const service of services) expect(service.process.running).toBe(true);

    await Promise.all(services.map((service) => service.stop()));
    const db = new Database(dbPath, { readonly: true });
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      const stored = db.prepare<[], string>('SELECT title FROM posts WHERE author_id = 9').pluck().all();
      expect(stored.sort()).toEqual(acknowledged.sort());
      // The count kept by triggers and the search index agree with the table.
      expect(db.prepare('SELECT n FROM post_count').pluck().get()).toBe(
        db.prepare('SELECT count(*) FROM posts').pluck().get(),
      );
      expect(db.prepare("SELECT count(*) FROM posts_fts WHERE posts_fts MATCH 'contention'").pluck().get()).toBe(
        acknowledged.length,
      );
    } finally {
      db.close();
    }
    process.stdout.write(
      `blog-service under lock contention: ${acknowledged.length} stored, ${refused.length} refused with 503\n`,
    );
  });
});
