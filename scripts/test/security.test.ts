import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  artifactPath,
  freePort,
  launchChromium,
  type ManagedProcess,
  type Stack,
  startProcess,
  startStack,
} from '@titanium/test-support';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The whole stack as `npm start` runs it, with a real secret, a Redis that needs a password and
// every request logged: what an attacker or a log reader could get out of it.
const JWT_SECRET = 'stack-security-test-secret-0123456789-abcdefgh';
const REDIS_PASSWORD = 'redis-pass-7f3a9c1e5b';
const PASSWORD = 'Pa55word-for-mallory-91';
const WRONG_PASSWORD = 'Wr0ng-guess-for-mallory-37';
// Nothing in the stack sets cookies, but a browser may still send some (another app on the same host).
const COOKIE_VALUE = 'cookie-for-mallory-4d8b21e0';
const COOKIE = `session=${COOKIE_VALUE}; theme=dark`;
const XSS_TITLE = '<img src=x onerror="window.__xss=1">';
const XSS_CONTENT = '<script>window.__xss=2</script><svg/onload="window.__xss=3"><b>bold</b>';

/** A stack trace or a source location in a response body. */
const STACK_TRACE = /\bat .+\(.*:\d+:\d+\)|\.(?:js|ts|mjs):\d+|node_modules|Error: .*\n\s+at /;

describe('security of the running stack', () => {
  let redisDir: string;
  let redis: ManagedProcess;
  let stack: Stack;
  let browser: Browser;
  let lb: string;
  const secrets = new Set<string>([JWT_SECRET, REDIS_PASSWORD, PASSWORD, WRONG_PASSWORD, COOKIE_VALUE]);
  const answers: { what: string; status: number; headers: Headers; body: string }[] = [];

  beforeAll(async () => {
    redisDir = mkdtempSync(join(tmpdir(), 'titanium-redis-auth-'));
    const port = await freePort();
    redis = startProcess('redis', 'redis-server', [
      ...['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      ...['--dir', redisDir, '--requirepass', REDIS_PASSWORD],
    ]);
    await redis.waitForLine(/Ready to accept connections/);
    [stack, browser] = await Promise.all([
      startStack({
        JWT_SECRET,
        REDIS_URL: `redis://:${REDIS_PASSWORD}@127.0.0.1:${port}`,
        LOG_LEVEL: 'debug',
      }),
      launchChromium(),
    ]);
    lb = stack.url('load-balancer');
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    await redis?.stop();
    if (redisDir) rmSync(redisDir, { recursive: true, force: true });
  });

  /** Sends a request to the load balancer and keeps the answer for the checks below. */
  async function call(what: string, path: string, init: RequestInit = {}, base = lb) {
    const res = await fetch(`${base}${path}`, init);
    const answer = { what, status: res.status, headers: res.headers, body: await res.text() };
    answers.push(answer);
    return answer;
  }

  const json = (body: unknown, extra: Record<string, string> = {}) => ({
    method: 'POST',
    headers: { 'content-type': 'application/json', ...extra },
    body: JSON.stringify(body),
  });

  let token = '';
  let postId = 0;

  it('registers, logs in and writes posts, with bad tokens and wrong passwords along the way', async () => {
    const registered = await call(
      'register',
      '/api/register',
      json({ username: 'mallory', email: 'mallory@example.com', password: PASSWORD }),
    );
    expect(registered.status).toBe(201);
    const failed = await call('wrong password', '/api/login', json({ username: 'mallory', password: WRONG_PASSWORD }));
    expect(failed.status).toBe(401);
    const unknown = await call('unknown user', '/api/login', json({ username: 'nobody', password: WRONG_PASSWORD }));
    expect(unknown.status).toBe(401);
    const login = await call('login', '/api/login', json({ username: 'mallory', password: PASSWORD }));
    expect(login.status).toBe(200);
    token = (JSON.parse(login.body) as { token: string }).token;
    secrets.add(token);
    // The signature alone is what must not leak; the header and payload are not secret.
    secrets.add(token.split('.')[2] as string);
    const auth = { authorization: `Bearer ${token}` };
    const created = await call('create', '/api/posts', json({ title: XSS_TITLE, content: XSS_CONTENT }, auth));
    expect(created.status).toBe(201);
    postId = (JSON.parse(created.body) as { id: number }).id;
    const patched = await call('patch', `/api/posts/${postId}`, {
      ...json({ content: `${XSS_CONTENT} edited` }, auth),
      method: 'PATCH',
    });
    expect(patched.status).toBe(200);
    const forged = `${token.slice(0, -4)}AAAA`;
    secrets.add(forged.split('.')[2] as string);
    const rejected = await call(
      'forged token',
      '/api/posts',
      json({ title: 't', content: 'c' }, { authorization: `Bearer ${forged}`, cookie: COOKIE }),
    );
    expect(rejected.status).toBe(401);
    const verified = await call('verify', '/verify', { headers: auth }, stack.url('auth-service'));
    expect(verified.status).toBe(200);
    const withCookie = await call('read with a cookie', `/api/posts/${postId}`, {
      headers: { ...auth, cookie: COOKIE },
    });
    expect(withCookie.status).toBe(200);
  });

  it('answers every provoked error as JSON without a stack trace', async () => {
    const provoked = [
      await call('malformed JSON login', '/api/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: `{"username":"mallory","password":"${PASSWORD}"`,
      }),
      await call('login as text', '/api/login', {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: PASSWORD,
      }),
      await call('huge body', '/api/register', json({ username: 'x', password: 'y'.repeat(100_000) })),
      await call('bad id', '/api/posts/1e999'),
      await call('bad offset', '/api/posts?offset=-1&limit=abc'),
      await call('no such route', '/api/nothing/here'),
      await call('path traversal', '/blog/..%2f..%2fpackage.json'),
      await call(
        'bad JSON to user-service',
        '/users',
        { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' },
        stack.url('user-service'),
      ),
      await call(
        'bad JSON to blog',
        '/api/posts',
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: '{"title":',
        },
        stack.url('blog-service'),
      ),
      await call(
        'proto pollution',
        '/api/posts',
        json(JSON.parse('{"__proto__":{"x":1},"title":"p","content":"p"}'), { authorization: `Bearer ${token}` }),
        stack.url('blog-service'),
      ),
    ];
    for (const answer of provoked) {
      expect(answer.status, answer.what).toBeGreaterThanOrEqual(400);
      expect(answer.status, answer.what).toBeLessThan(500);
    }
    for (const answer of answers) {
      expect(answer.body, answer.what).not.toMatch(STACK_TRACE);
      if (answer.status >= 400 && answer.what !== 'path traversal') {
        expect(answer.headers.get('content-type'), answer.what).toMatch(/^application\/json/);
      }
    }
  });

  it('sends no CORS headers and honours no preflight, on any service', async () => {
    const origin = { origin: 'https://evil.example' };
    const targets = [
      [lb, '/api/posts'],
      [lb, '/stats'],
      [lb, '/'],
      [lb, '/blog/'],
      [stack.url('api-gateway'), '/api/posts'],
      [stack.url('auth-service'), '/login'],
      [stack.url('user-service'), '/users/mallory'],
      [stack.url('blog-service'), '/api/posts'],
      [stack.url('dashboard-ui'), '/'],
    ] as const;
    for (const [base, path] of targets) {
      const simple = await call(`GET ${path} with Origin`, path, { headers: origin }, base);
      expect(simple.headers.get('access-control-allow-origin'), `${base}${path}`).toBeNull();
      expect(simple.headers.get('access-control-allow-credentials'), `${base}${path}`).toBeNull();
      const preflight = await call(
        `OPTIONS ${path}`,
        path,
        {
          method: 'OPTIONS',
          headers: {
            ...origin,
            'access-control-request-method': 'DELETE',
            'access-control-request-headers': 'authorization, content-type',
          },
        },
        base,
      );
      expect(preflight.headers.get('access-control-allow-origin'), `OPTIONS ${base}${path}`).toBeNull();
      expect(preflight.headers.get('access-control-allow-methods'), `OPTIONS ${base}${path}`).toBeNull();
      expect(preflight.headers.get('access-control-allow-headers'), `OPTIONS ${base}${path}`).toBeNull();
    }
  });

  it('serves the dashboard and the blog page with a same-origin CSP and the usual security headers', async () => {
    for (const path of ['/', '/blog/']) {
      const page = await call(`page ${path}`, path);
      expect(page.status, path).toBe(200);
      expect(page.headers.get('content-type'), path).toMatch(/^text\/html/);
      const csp = page.headers.get('content-security-policy') ?? '';
      expect(csp, path).toContain("default-src 'self'");
      expect(csp, path).toContain("script-src 'self'");
      expect(csp, path).not.toContain('unsafe-inline');
      expect(csp, path).not.toContain('unsafe-eval');
      expect(csp, path).toContain("object-src 'none'");
      expect(csp, path).toContain("frame-ancestors 'none'");
      expect(page.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(page.headers.get('x-frame-options'), path).toBe('DENY');
      expect(page.headers.get('referrer-policy'), path).toBe('no-referrer');
      expect(page.headers.get('cross-origin-opener-policy'), path).toBe('same-origin');
    }
  });

  describe('in Chromium', () => {
    let page: Page;
    const problems: string[] = [];
    const dialogs: string[] = [];

    beforeAll(async () => {
      page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
      page.on('console', (msg) => {
        if (msg.type() === 'error' && !/Failed to load resource/.test(msg.text())) problems.push(msg.text());
      });
      page.on('dialog', (dialog) => {
        dialogs.push(dialog.message());
        void dialog.dismiss();
      });
    });

    const xss = () => page.evaluate('window.__xss ?? 0');

    it('shows script and markup in a post as text in the blog, and runs none of it', async () => {
      await page.goto(`${lb}/blog/`);
      const link = page.locator(`a[href="#/post/${postId}"]`);
      await expect.poll(() => link.textContent(), { timeout: 10_000 }).toBe(XSS_TITLE);
      expect(await page.locator('article.summary img, article.summary script, article.summary svg').count()).toBe(0);
      await link.click();
      await expect.poll(() => page.locator('#view h1').textContent(), { timeout: 10_000 }).toBe(XSS_TITLE);
      expect(await page.locator('#view .content').textContent()).toBe(`${XSS_CONTENT} edited`);
      expect(await page.locator('#view img, #view script, #view svg, #view b').count()).toBe(0);
      // The search box echoes what was typed, also as text.
      await page.goto(`${lb}/blog/#/?q=${encodeURIComponent('<img src=x onerror="window.__xss=4">')}`);
      await expect
        .poll(() => page.locator('#view h1').textContent(), { timeout: 10_000 })
        .toBe('Search: <img src=x onerror="window.__xss=4">');
      await page.screenshot({ path: artifactPath('blog-xss-post.png') });
      expect(await xss()).toBe(0);
      expect(dialogs).toEqual([]);
      expect(problems).toEqual([]);
    });

    it('keeps the payload inert in the editor, and the dashboard works under its policy', async () => {
      await page.goto(`${lb}/blog/#/login`);
      await page.fill('input[name=username]', 'mallory');
      await page.fill('input[name=password]', PASSWORD);
      await page.click('form.login button');
      await expect.poll(() => page.locator('#notice').textContent(), { timeout: 10_000 }).toBe('Welcome, mallory.');
      await page.goto(`${lb}/blog/#/edit/${postId}`);
      await expect.poll(() => page.inputValue('input[name=title]'), { timeout: 10_000 }).toBe(XSS_TITLE);
      expect(await page.inputValue('textarea[name=content]')).toBe(`${XSS_CONTENT} edited`);
      expect(await xss()).toBe(0);

      await page.goto(`${lb}/?poll=500`);
      // Any state read from the load balancer's figures: WARNING too, since the failed requests
      // above may still be in the window.
      await expect
        .poll(() => page.locator('#overall-status').textContent(), { timeout: 10_000 })
        .toMatch(/^(IDLE|HEALTHY|DEGRADED|WARNING)$/);
      expect(await page.locator('#server-list li').count()).toBeGreaterThan(0);
      expect(await xss()).toBe(0);
      expect(dialogs).toEqual([]);
      expect(problems.filter((problem) => !/WebSocket/.test(problem))).toEqual([]);
      await page.close();
    });
  });

  it('writes no secret, password or token to any log', async () => {
    // Stopping flushes every process's last lines into the captured output.
    await stack.stop();
    const lines = [...stack.process.lines, ...redis.lines];
    expect(lines.length).toBeGreaterThan(20);
    // Every request was logged (LOG_LEVEL=debug), so the logins and writes are in there.
    expect(lines.some((line) => line.includes('/api/login'))).toBe(true);
    for (const secret of secrets) {
      const leaks = lines.filter((line) => line.includes(secret));
      expect(leaks, `a log line holds ${secret.slice(0, 6)}…`).toEqual([]);
    }
  });
});
