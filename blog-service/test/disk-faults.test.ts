import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BlogServiceBlock, WrappedStats } from '@titanium/service-kit';
import {
  cleanupDisks,
  describeMounting,
  itMounting,
  makeReadOnly,
  mountExt4Disk,
  mountSmallDisk,
  type RunningService,
  scratchDir,
  signToken,
  startService,
  stopAllProcesses,
} from '@titanium/test-support';
import Database from 'better-sqlite3';
import { afterEach, expect, it } from 'vitest';

const SECRET = 'blog-disk-test-secret-that-is-long-enough-0123';
const token = signToken({ user_id: 7, username: 'writer' }, { secret: SECRET });

function startBlog(dbPath: string): Promise<RunningService> {
  return startService('blog-service', { BLOG_DATABASE_PATH: dbPath, JWT_SECRET: SECRET });
}

interface Answer {
  status: number;
  body: { id?: number; title?: string; message?: string };
}

async function write(base: string, title: string): Promise<Answer> {
  const res = await fetch(`${base}/api/posts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ title, content: `The body of ${title}. `.repeat(20) }),
  });
  return { status: res.status, body: (await res.json()) as Answer['body'] };
}

async function titles(base: string): Promise<string[]> {
  const res = await fetch(`${base}/api/posts?limit=100`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { title: string }[]).map((post) => post.title);
}

async function status(base: string): Promise<BlogServiceBlock> {
  const res = await fetch(`${base}/stats`);
  return ((await res.json()) as WrappedStats<'blog_service'>).blog_service;
}

async function retryUntil<T>(probe: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = 8_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (accept(value) || Date.now() > deadline) return value;
    await sleep(100);
  }
}

function inspect(path: string): { integrity: string; titles: string[] } {
  const db = new Database(path, { readonly: true });
  try {
    return {
      integrity: String(db.pragma('integrity_check', { simple: true })),
      titles: db.prepare<[], string>('SELECT title FROM posts ORDER BY id').pluck().all(),
    };
  } finally {
    db.close();
  }
}

describeMounting('tmpfs', 'blog-service on a real disk that fills up or is read-only', () => {
  afterEach(async () => {
    await stopAllProcesses();
    cleanupDisks();
  });

  it('answers 503 on a full disk, keeps serving posts, loses no acknowledged post and writes again once space returns', async () => {
    const disk = mountSmallDisk(4 * 1024 * 1024);
    const dbPath = join(disk.dir, 'blog.db');
    const blog = await startBlog(dbPath);
    expect((await write(blog.url, 'first')).status).toBe(201);

    disk.fill(48 * 1024);
    const acknowledged = ['first'];
    let refused: Answer | undefined;
    for (let i = 0; i < 200 && !refused; i++) {
      const answer = await write(blog.url, `post ${i}`);
      if (answer.status === 201) acknowledged.push(`post ${i}`);
      else refused = answer;
    }
    expect(refused).toEqual({
      status: 503,
      body: {
        statusCode: 503,
        error: 'Service Unavailable',
        message: 'Posts cannot be changed right now: the disk is full. Reading still works; try again later.',
      },
    });
    const listed = await titles(blog.url);
    for (const title of acknowledged) expect(listed).toContain(title);
    expect(await status(blog.url)).toMatchObject({ service_status: 'degraded', database: { status: 'unhealthy' } });

    disk.free();
    const after = await retryUntil(
      () => write(blog.url, 'after'),
      (answer) => answer.status === 201,
    );
    expect(after.status).toBe(201);
    acknowledged.push('after');
    expect((await status(blog.url)).service_status).toBe('online');
    expect(blog.process.running).toBe(true);

    await blog.stop();
    const stored = inspect(dbPath);
    expect(stored.integrity).toBe('ok');
    for (const title of acknowledged) expect(stored.titles).toContain(title);
  });

  it('starts on a read-only database file, serves reads, answers writes 503 and writes once it is writable again', async () => {
    const dir = scratchDir('titanium-blog-ro-');
    const dbPath = join(dir, 'blog.db');
    let blog = await startBlog(dbPath);
    expect((await write(blog.url, 'kept')).status).toBe(201);
    await blog.stop();

    // The file itself read-only (its folder stays writable for SQLite's -wal and -shm files).
    const readOnly = makeReadOnly(dbPath);
    blog = await startBlog(dbPath);
    expect(await titles(blog.url)).toContain('kept');
    expect((await fetch(`${blog.url}/ready`)).status).toBe(200);
    const refused = await write(blog.url, 'refused');
    expect(refused).toEqual({
      status: 503,
      body: {
        statusCode: 503,
        error: 'Service Unavailable',
        message: 'Posts cannot be changed right now: the database is read-only. Reading still works; try again later.',
      },
    });
    expect((await status(blog.url)).service_status).toBe('degraded');

    readOnly.restore();
    const after = await retryUntil(
      () => write(blog.url, 'after'),
      (answer) => answer.status === 201,
    );
    expect(after.status).toBe(201);
    expect(await titles(blog.url)).toEqual(expect.arrayContaining(['kept', 'after']));
    expect(blog.process.running).toBe(true);

    await blog.stop();
    const stored = inspect(dbPath);
    expect(stored.integrity).toBe('ok');
    expect(stored.titles).toEqual(expect.arrayContaining(['kept', 'after']));
    expect(stored.titles).not.toContain('refused');
  });

  itMounting(
    'ext4',
    'notices a file system that turns read-only under it: writes 503, reads go on, the process stays up',
    async () => {
      // An aborted ext4, as after a fatal disk error: read-only even for files already open for writing.
      const disk = mountExt4Disk(16 * 1024 * 1024);
      const blog = await startBlog(join(disk.dir, 'blog.db'));
      expect((await write(blog.url, 'before')).status).toBe(201);
      disk.abort();
      expect(await write(blog.url, 'refused')).toEqual({
        status: 503,
        body: {
          statusCode: 503,
          error: 'Service Unavailable',
          message:
            'Posts cannot be changed right now: the disk reported an I/O error. Reading still works; try again later.',
        },
      });
      const listed = await titles(blog.url);
      expect(listed).toContain('before');
      expect(listed).not.toContain('refused');
      expect(await status(blog.url)).toMatchObject({ service_status: 'degraded', database: { status: 'unhealthy' } });
      expect(blog.process.running).toBe(true);
      expect(await blog.process.stop()).toEqual({ code: 0, signal: null });
    },
  );
});
