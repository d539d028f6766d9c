import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WrappedStats } from '@titanium/service-kit';
import { base64url, type RunningService, signToken, startService, stopAllProcesses } from '@titanium/test-support';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Post, PostSummary } from '../src/db.js';

const SECRET = 'blog-test-secret-that-is-long-enough-0123456789';
const alice = signToken({ user_id: 1, username: 'alice' }, { secret: SECRET });
const bob = signToken({ user_id: 2, username: 'bob' }, { secret: SECRET });

type Summary = PostSummary;

let dir: string;
let dbPath: string;
let blog: RunningService;

async function startBlog(): Promise<RunningService> {
  return startService('blog-service', {
    BLOG_DATABASE_PATH: dbPath,
    JWT_SECRET: SECRET,
    BLOG_DB_BUSY_TIMEOUT_MS: '200',
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'titanium-blog-'));
  // A folder that does not exist yet: the service creates it.
  dbPath = join(dir, 'data', 'blog.db');
  blog = await startBlog();
});

afterAll(async () => {
  await stopAllProcesses();
  rmSync(dir, { recursive: true, force: true });
});

function call(
  path: string,
  init: { method?: string; token?: string; body?: unknown; headers?: Record<string, string> } = {},
) {
  const headers: Record<string, string> = { ...init.headers };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
  const body =
    init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
  return fetch(`${blog.url}${path}`, { method: init.method ?? 'GET', headers, body });
}

async function errorOf(res: Response): Promise<{ statusCode: number; error: string; message: string }> {
  return (await res.json()) as { statusCode: number; error: string; message: string };
}

async function create(token: string, title: string, content = `Body of ${title}`): Promise<Post> {
  const res = await call('/api/posts', { method: 'POST', token, body: { title, content } });
  expect(res.status).toBe(201);
  return (await res.json()) as Post;
}

async function list(query = ''): Promise<{ total: number; posts: Summary[] }> {
  const res = await call(`/api/posts${query}`);
  expect(res.status).toBe(200);
  return { total: Number(res.headers.get('x-total-count')), posts: (await res.json()) as Summary[] };
}

describe('a new database', () => {
  it('holds the two sample posts, listed newest first with the total in X-Total-Count', async () => {
    const res = await call('/api/posts');
    expect(res.headers.get('access-control-expose-headers')).toMatch(/X-Total-Count/i);
    const { total, posts } = await list();
    expect(total).toBe(2);
    expect(posts.map((post) => post.id)).toEqual([2, 1]);
    expect(Object.keys(posts[0] ?? {}).sort()).toEqual(['author', 'created_at', 'excerpt', 'id', 'title']);
  });
});

describe('writing posts', () => {
  it('lets a logged-in user create, read, edit and delete a post, and only its author change it', async () => {
    const created = await create(alice, 'First light', 'Hello from alice');
    expect(created).toMatchObject({ title: 'First light', content: 'Hello from alice', author: 'alice' });
    expect(Object.keys(created).sort()).toEqual(['author', 'content', 'created_at', 'id', 'title', 'updated_at']);

    const { posts } = await list();
    expect(posts[0]).toMatchObject({ id: created.id, title: 'First light', excerpt: 'Hello from alice' });

    const detail = await call(`/api/posts/${created.id}`);
    expect(detail.status).toBe(200);
    expect(await detail.json()).toEqual(created);

    const byBob = await call(`/api/posts/${created.id}`, { method: 'PATCH', token: bob, body: { title: 'mine now' } });
    expect(byBob.status).toBe(403);
    expect((await errorOf(byBob)).message).toMatch(/only the author/i);
    expect((await call(`/api/posts/${created.id}`, { method: 'DELETE', token: bob })).status).toBe(403);

    const patched = await call(`/api/posts/${created.id}`, {
      method: 'PATCH',
      token: alice,
      body: { content: 'Edited' },
    });
    expect(patched.status).toBe(200);
    const edited = (await patched.json()) as Post;
    expect(edited).toMatchObject({ id: created.id, title: 'First light', content: 'Edited', author: 'alice' });
    expect(edited.updated_at >= created.updated_at).toBe(true);

    expect((await call(`/api/posts/${created.id}`, { method: 'DELETE', token: alice })).status).toBe(204);
    expect((await call(`/api/posts/${created.id}`)).status).toBe(404);
    expect(
      (await call(`/api/posts/${created.id}`, { method: 'PATCH', token: alice, body: { title: 'x' } })).status,
    ).toBe(404);
    expect((await call(`/api/posts/${created.id}`, { method: 'DELETE', token: alice })).status).toBe(404);
  });

  it('authorises by user id, so another account that takes the same name cannot change the post', async () => {
    const post = await create(alice, 'Owned by id');
    const impostor = signToken({ user_id: 99, username: 'alice' }, { secret: SECRET });
    const res = await call(`/api/posts/${post.id}`, { method: 'DELETE', token: impostor });
    expect(res.status).toBe(403);
  });

  it('lets nobody change the sample posts', async () => {
    const res = await call('/api/posts/1', { method: 'PATCH', token: alice, body: { title: 'hijacked' } });
    expect(res.status).toBe(403);
  });

  it('answers 401 without a valid token, and changes nothing', async () => {
    const before = await list();
    const now = Math.floor(Date.now() / 1000);
    const none = `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url({ user_id: 1, username: 'alice', exp: now + 60 })}.`;
    const cases: Record<string, string | undefined> = {
      missing: undefined,
      'not bearer': `Basic ${Buffer.from('alice:pw').toString('base64')}`,
      malformed: 'Bearer not-a-token',
      'wrong secret': `Bearer ${signToken({ user_id: 1, username: 'alice' }, { secret: 'another-secret' })}`,
      'alg none': `Bearer ${none}`,
      expired: `Bearer ${signToken({ user_id: 1, username: 'alice', exp: now - 10 }, { secret: SECRET })}`,
      'no user': `Bearer ${signToken({ sub: 'x' }, { secret: SECRET })}`,
      'no expiry': `Bearer ${signToken({ user_id: 1, username: 'alice', exp: undefined }, { secret: SECRET })}`,
    };
    for (const [name, authorization] of Object.entries(cases)) {
      const headers: Record<string, string> = authorization ? { authorization } : {};
      const res = await call('/api/posts', { method: 'POST', headers, body: { title: 't', content: 'c' } });
      expect(res.status, name).toBe(401);
      const body = await res.json();
      expect(body).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
      expect(JSON.stringify(body)).not.toMatch(/ at |\.js:/);
      expect((await call('/api/posts/1', { method: 'DELETE', headers })).status, name).toBe(401);
    }
    expect((await list()).total).toBe(before.total);
  });

  it('rejects bad bodies with a 4xx naming the problem', async () => {
    const before = await list();
    const post = (body: unknown, headers?: Record<string, string>) =>
      call('/api/posts', { method: 'POST', token: alice, body, headers });
    const expectations: [Promise<Response>, number, RegExp][] = [
      [post({ title: 'x'.repeat(121), content: 'c' }), 400, /title/],
      [post({ title: '', content: 'c' }), 400, /title/],
      [post({ title: '   ', content: 'c' }), 400, /title/],
      [post({ title: 't', content: 'c'.repeat(20_001) }), 400, /content/],
      [post({ title: 't' }), 400, /content/],
      [post({ title: { text: 't' }, content: 'c' }), 400, /title/],
      [post('{"title": "t", '), 400, /JSON/],
      [post('title=t', { 'content-type': 'application/x-www-form-urlencoded' }), 415, /Unsupported Media Type/],
      [post({ title: 't', content: 'c'.repeat(70 * 1024) }), 413, /too large/i],
    ];
    for (const [pending, status, message] of expectations) {
      const res = await pending;
      expect(res.status, String(message)).toBe(status);
      expect((await errorOf(res)).message).toMatch(message);
    }
    const patch = await call('/api/posts/1', { method: 'PATCH', token: alice, body: {} });
    expect(patch.status).toBe(400);
    expect((await list()).total).toBe(before.total);
  });

  it('accepts the longest title and content allowed', async () => {
    const post = await create(alice, 't'.repeat(120), 'c'.repeat(20_000));
    expect(post.title).toHaveLength(120);
    expect(post.content).toHaveLength(20_000);
  });
});

describe('reading posts', () => {
  it('pages through posts newest first with offset and limit', async () => {
    const made: Post[] = [];
    for (let i = 0; i < 5; i++) made.push(await create(bob, `Page post ${i}`));
    const { total } = await list();
    const first = await list('?offset=0&limit=2');
    const second = await list('?offset=2&limit=2');
    expect(first.total).toBe(total);
    expect(first.posts.map((p) => p.title)).toEqual(['Page post 4', 'Page post 3']);
    expect(second.posts.map((p) => p.title)).toEqual(['Page post 2', 'Page post 1']);
    expect((await list(`?offset=${total}`)).posts).toEqual([]);
    expect((await list('?limit=100')).posts.length).toBe(Math.min(100, total));
    expect((await list()).posts.length).toBe(Math.min(20, total));
  });

  it('lists every change at once, made through the API or by another connection to the file', async () => {
    const post = await create(bob, 'Fresh title');
    expect((await list()).posts[0]?.title).toBe('Fresh title');
    await call(`/api/posts/${post.id}`, { method: 'PATCH', token: bob, body: { title: 'Edited title' } });
    expect((await list()).posts[0]?.title).toBe('Edited title');
    const other = new Database(dbPath);
    try {
      other.prepare("UPDATE posts SET title = 'Edited elsewhere' WHERE id = ?").run(post.id);
    } finally {
      other.close();
    }
    expect((await list()).posts[0]?.title).toBe('Edited elsewhere');
    const before = await list();
    await call(`/api/posts/${post.id}`, { method: 'DELETE', token: bob });
    const after = await list();
    expect(after.total).toBe(before.total - 1);
    expect(after.posts.map((p) => p.id)).not.toContain(post.id);
  });

  it('answers 400 for bad ids, offsets and limits', async () => {
    for (const path of [
      '/api/posts/abc',
      '/api/posts/1.5',
      '/api/posts/-1',
      '/api/posts/0',
      '/api/posts/1e3',
      '/api/posts/99999999999999999999',
      '/api/posts?limit=0',
      '/api/posts?limit=101',
      '/api/posts?limit=abc',
      '/api/posts?offset=-1',
      '/api/posts?offset=1.5',
    ]) {
      const res = await call(path);
      expect(res.status, path).toBe(400);
      expect((await errorOf(res)).statusCode, path).toBe(400);
    }
    expect((await call('/api/posts/abc', { method: 'DELETE', token: alice })).status).toBe(400);
    expect((await call('/api/posts/424242')).status).toBe(404);
  });

  it('shows an excerpt of 120 characters with line breaks flattened and ... when cut', async () => {
    const long = `${'Line one\nline two\r\n\r\nline three '.repeat(10)}`;
    const cut = await create(alice, 'Long one', long);
    const short = await create(alice, 'Short one', 'Short\nand sweet');
    const { posts } = await list('?limit=2');
    const byId = new Map(posts.map((post) => [post.id, post.excerpt]));
    const excerpt = byId.get(cut.id) ?? '';
    expect(excerpt.endsWith('...')).toBe(true);
    expect(excerpt).not.toMatch(/[\r\n]/);
    expect(excerpt.startsWith('Line one line two line three Line one')).toBe(true);
    expect(excerpt.length).toBeLessThanOrEqual(123);
    expect(byId.get(short.id)).toBe('Short and sweet');
  });
});

describe('search', () => {
  it('finds posts by words in the title or the content', async () => {
    const title = await create(alice, 'Zeppelin sighting', 'nothing else');
    const content = await create(bob, 'Another day', 'A zeppelin flew over the harbour');
    await create(bob, 'Unrelated', 'Nothing to see');
    const found = await list('?q=zeppelin');
    expect(found.total).toBe(2);
    expect(found.posts.map((p) => p.id)).toEqual([content.id, title.id]);
    expect((await list('?q=zeppelin%20harbour')).posts.map((p) => p.id)).toEqual([content.id]);
    expect((await list('?q=nosuchwordanywhere')).posts).toEqual([]);
  });

  it('treats quotes and FTS5 operators as plain words, never as query syntax', async () => {
    const odd = await create(alice, 'Operators NEAR quotes', 'OR AND NOT "quoted" title:colon col* ^caret (paren)');
    const hostile = [
      '"',
      "'",
      '""',
      '*',
      'NEAR(',
      'NEAR(a b',
      'a OR',
      'OR',
      'AND NOT',
      'title:',
      'title:zeppelin',
      '^',
      '(((',
      ')',
      '-x',
      '+',
      '{a b}',
      'col*',
      '\\',
      '\u0000',
      '💥',
      '%',
      ' ',
    ];
    for (const q of hostile) {
      const res = await call(`/api/posts?q=${encodeURIComponent(q)}`);
      expect(res.status, q).toBe(200);
      expect(Array.isArray(await res.json()), q).toBe(true);
    }
    expect((await list(`?q=${encodeURIComponent('"quoted')}`)).posts.map((p) => p.id)).toEqual([odd.id]);
    expect((await list(`?q=${encodeURIComponent('NEAR(')}`)).posts.map((p) => p.id)).toEqual([odd.id]);
    expect((await list(`?q=${encodeURIComponent('title:colon')}`)).posts.map((p) => p.id)).toEqual([odd.id]);
    expect((await call(`/api/posts?q=${'a'.repeat(201)}`)).status).toBe(400);
  });
});

describe('user text', () => {
  it('stores and returns script and markup exactly as written, as JSON', async () => {
    const payloads = [
      '<script>alert(1)</script>',
      '<img src=x onerror="alert(document.cookie)">',
      '"><svg/onload=alert(1)>',
      "javascript:alert('x')",
      '{{constructor.constructor("alert(1)")()}}',
      '</textarea><b>bold</b>&amp;&lt;',
    ];
    for (const payload of payloads) {
      const post = await create(alice, payload.slice(0, 120), `before ${payload} after`);
      const res = await call(`/api/posts/${post.id}`);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await res.json()).toMatchObject({ title: payload.slice(0, 120), content: `before ${payload} after` });
    }
  });
});

describe('the blog page', () => {
  it('serves the SPA at /blog/ and its script, built to render user text as text only', async () => {
    const page = await call('/blog/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    const html = await page.text();
    expect(html).toContain('<script type="module" src="app.js">');
    const script = await call('/blog/app.js');
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/javascript/);
    const code = await script.text();
    expect(code).toContain('/api/posts');
    expect(code).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
    expect((await call('/blog/style.css')).status).toBe(200);
  });

  it('serves nothing outside its folders', async () => {
    for (const path of [
      '/blog/../package.json',
      '/blog/%2e%2e/package.json',
      '/blog/..%2fpackage.json',
      '/blog/app.ts',
    ]) {
      const res = await call(path);
      expect([400, 403, 404], path).toContain(res.status);
    }
  });
});

describe('stats and storage faults', () => {
  it('reports post_count from the database', async () => {
    const stats = async () => ((await (await call('/stats')).json()) as WrappedStats<'blog_service'>).blog_service;
    const before = await stats();
    expect(before.service_status).toBe('online');
    const post = await create(alice, 'Counted');
    expect((await stats()).post_count).toBe((before.post_count as number) + 1);
    await call(`/api/posts/${post.id}`, { method: 'DELETE', token: alice });
    const after = await stats();
    expect(after.post_count).toBe(before.post_count);
    const reader = new Database(dbPath, { readonly: true });
    try {
      expect(after.post_count).toBe(reader.prepare<[], { n: number }>('SELECT count(*) AS n FROM posts').get()?.n);
    } finally {
      reader.close();
    }
  });

  it('answers 503 to writes while the database is locked, keeps serving reads, and recovers', async () => {
    const other = new Database(dbPath);
    try {
      other.pragma('busy_timeout = 0');
      other.exec('BEGIN IMMEDIATE');
      const res = await call('/api/posts', { method: 'POST', token: alice, body: { title: 'blocked', content: 'c' } });
      expect(res.status).toBe(503);
      const body = await res.json();
      expect(body).toEqual({
        statusCode: 503,
        error: 'Service Unavailable',
        message: expect.stringMatching(/busy.*Reading still works/),
      });
      expect((await call('/api/posts')).status).toBe(200);
      expect((await call('/api/posts/1')).status).toBe(200);
      const stats = (await (await call('/stats')).json()) as WrappedStats<'blog_service'>;
      expect(stats.blog_service.service_status).toBe('degraded');
      expect((await call('/ready')).status).toBe(200);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    await create(alice, 'after the lock');
    const stats = (await (await call('/stats')).json()) as WrappedStats<'blog_service'>;
    expect(stats.blog_service.service_status).toBe('online');
    expect(blog.process.running).toBe(true);
  });

  it('keeps its posts across a restart and does not add the samples again', async () => {
    // Every page, since by now the samples are far down the list.
    const everyPost = async (): Promise<{ total: number; posts: Summary[] }> => {
      const first = await list('?limit=100');
      const posts = [...first.posts];
      while (posts.length < first.total) posts.push(...(await list(`?offset=${posts.length}&limit=100`)).posts);
      return { total: first.total, posts };
    };
    const samples = (posts: Summary[]) => posts.filter((p) => p.author === 'titanium').map((p) => p.id);
    const before = await everyPost();
    expect(samples(before.posts)).toEqual([2, 1]);
    await blog.stop();
    blog = await startBlog();
    const after = await everyPost();
    expect(after.total).toBe(before.total);
    expect(after.posts.map((p) => p.id)).toEqual(before.posts.map((p) => p.id));
    expect(samples(after.posts)).toEqual([2, 1]);
  });
});

describe('an older database file', () => {
  it('is completed on start, keeping its posts and adding no samples', async () => {
    const olderPath = join(dir, 'older.db');
    const older = new Database(olderPath);
    older.exec(`CREATE TABLE posts (id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL, content TEXT NOT NULL,
      author TEXT NOT NULL, author_id INTEGER, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)`);
    older
      .prepare(
        'INSERT INTO posts (title, content, author, author_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(
        'Kept from before',
        'An old searchable post',
        'erin',
        7,
        '2026-01-01T00:00:00.000Z',
        '2026-01-01T00:00:00.000Z',
      );
    older.pragma('user_version = 1');
    older.close();
    const service = await startService('blog-service', {
      BLOG_DATABASE_PATH: olderPath,
      JWT_SECRET: SECRET,
    });
    const res = await fetch(`${service.url}/api/posts`);
    expect(res.headers.get('x-total-count')).toBe('1');
    expect(((await res.json()) as Summary[]).map((post) => post.title)).toEqual(['Kept from before']);
    const created = await fetch(`${service.url}/api/posts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${alice}` },
      body: JSON.stringify({ title: 'New', content: 'searchable too' }),
    });
    expect(created.status).toBe(201);
    const found = await fetch(`${service.url}/api/posts?q=searchable`);
    expect(found.headers.get('x-total-count')).toBe('2');
    expect((await fetch(`${service.url}/api/posts`)).headers.get('x-total-count')).toBe('2');
    await service.stop();
  });
});
