import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  artifactPath,
  type Backends,
  launchChromium,
  type RunningService,
  startBackends,
  startService,
  stopAllProcesses,
} from '@titanium/test-support';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The blog SPA in a real Chromium, served through the load balancer in front of real gateway,
// auth, user and blog processes: a user writes, edits and deletes a post with the page alone.
const SECRET = 'blog-spa-browser-secret-long-enough-0123456789';
const CAROL = { username: 'carol', email: 'carol@example.com', password: 'carol writes posts 42' };
const suffix = Date.now().toString(36);
const TITLE = `A post from the browser ${suffix}`;
const CONTENT = 'Written in the editor, line one.\nAnd line two.';
const NEW_TITLE = `Edited in the browser ${suffix}`;
const NEW_CONTENT = 'Saved again with other words.';

// Marks on the window when the page has read an answer the test held back (one with `x-held`).
// The code awaiting that JSON runs on in the same microtask checkpoint, so any later check from
// the test sees whatever it did with the answer, to the end.
const WATCH_HELD_READS = `(() => {
  window.__heldRead = false;
  const json = Response.prototype.json;
  window.__unwatchHeldReads = () => { Response.prototype.json = json; };
  Response.prototype.json = function () {
    const read = json.call(this);
    if (this.headers.get('x-held') === 'yes') read.then(() => { window.__heldRead = true; }, () => {});
    return read;
  };
})()`;

interface Post {
  id: number;
  title: string;
  content: string;
  author: string;
}

describe('the blog page, writing through the UI', () => {
  let dir: string;
  let browser: Browser;
  let page: Page;
  let lb: RunningService;
  let postId = 0;
  const problems: string[] = [];
  const dialogs: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'titanium-blog-spa-'));
    let backends: Backends;
    [backends, browser] = await Promise.all([startBackends(dir, SECRET), launchChromium()]);
    lb = await startService('load-balancer', {
      API_GATEWAY_URL: backends.gateway.url,
      BLOG_SERVICE_URL: backends.blog.url,
      AUTH_SERVICE_URL: backends.auth.url,
      USER_SERVICE_URL: backends.users.url,
      // No dashboard: this page is the blog's.
      DASHBOARD_UI_URL: 'http://127.0.0.1:9',
    });
    const registered = await fetch(`${lb.url}/api/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(CAROL),
    });
    expect(registered.status).toBe(201);
    page = await browser.newPage();
    page.setDefaultTimeout(10_000);
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (message) => {
      // The browser's own favicon request (not the page's) fails here: no page request does, below.
      if (message.type() === 'error' && !/Failed to load resource/.test(message.text()))
        problems.push(`console: ${message.text()}`);
    });
    page.on('response', (res) => {
      if (res.status() >= 400) problems.push(`${res.status()} from ${res.url()}`);
    });
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.accept();
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await stopAllProcesses();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const notice = () => page.locator('#notice').textContent();
  const apiPost = (id: number) => fetch(`${lb.url}/api/posts/${id}`);

  it('logs in with the form', async () => {
    await page.goto(`${lb.url}/blog/#/login`);
    await page.fill('input[name=username]', CAROL.username);
    await page.fill('input[name=password]', CAROL.password);
    await page.click('form.login button');
    await expect.poll(notice, { timeout: 10_000 }).toBe(`Welcome, ${CAROL.username}.`);
    await expect.poll(() => page.locator('#account strong').textContent(), { timeout: 10_000 }).toBe(CAROL.username);
  });

  it('keeps the editor open when the list it came from answers late', async () => {
    // A slow network, held by hand: the list is asked for, the user opens the editor meanwhile.
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const LIST = /\/api\/posts\?/;
    await page.route(LIST, async (route) => {
      await held;
      // Marked, so the page's reading of this very answer can be told from that of any other.
      const response = await route.fetch();
      await route.fulfill({ response, headers: { ...response.headers(), 'x-held': 'yes' } });
    });
    await page.evaluate(WATCH_HELD_READS);
    try {
      const asked = page.waitForRequest(LIST);
      await page.evaluate("location.hash = '#/?offset=0'");
      await asked;
      await page.click('#account a[href="#/new"]');
      await expect.poll(() => page.locator('#view h1').textContent()).toBe('New post');
      release();
      // The page has read the late answer and done all it does with it; it must not replace the editor.
      await expect.poll(() => page.evaluate('window.__heldRead')).toBe(true);
      expect(await page.locator('#view h1').textContent()).toBe('New post');
      expect(await page.locator('form.editor').count()).toBe(1);
    } finally {
      release();
      await page.unroute(LIST);
      await page.evaluate('window.__unwatchHeldReads?.()');
    }
  });

  it('publishes a post from the editor and shows it in the list', async () => {
    await page.click('a.brand');
    await page.click('#account a[href="#/new"]');
    await page.locator('form.editor').waitFor();
    await page.fill('input[name=title]', TITLE);
    await page.fill('textarea[name=content]', CONTENT);
    await page.click('form.editor button[type=submit]');
    await expect.poll(notice, { timeout: 10_000 }).toBe('Post published.');
    await expect.poll(() => page.locator('#view h1').textContent(), { timeout: 10_000 }).toBe(TITLE);
    expect(await page.locator('#view .content').textContent()).toBe(CONTENT);
    postId = Number(/^#\/post\/(\d+)$/.exec(new URL(page.url()).hash)?.[1]);
    expect(postId).toBeGreaterThan(0);
    expect(await ((await apiPost(postId)).json() as Promise<Post>)).toMatchObject({
      title: TITLE,
      content: CONTENT,
      author: CAROL.username,
    });

    await page.click('a[href="#/"]');
    const link = page.locator(`article.summary a[href="#/post/${postId}"]`);
    await expect.poll(() => link.textContent(), { timeout: 10_000 }).toBe(TITLE);
  });

  it('edits the post and saves it', async () => {
    await page.click(`article.summary a[href="#/post/${postId}"]`);
    await page.click(`.actions a[href="#/edit/${postId}"]`);
    await expect.poll(() => page.inputValue('input[name=title]'), { timeout: 10_000 }).toBe(TITLE);
    expect(await page.inputValue('textarea[name=content]')).toBe(CONTENT);
    await page.fill('input[name=title]', NEW_TITLE);
    await page.fill('textarea[name=content]', NEW_CONTENT);
    await page.click('form.editor button[type=submit]');
    await expect.poll(notice, { timeout: 10_000 }).toBe('Changes saved.');
    await expect.poll(() => page.locator('#view h1').textContent(), { timeout: 10_000 }).toBe(NEW_TITLE);
    expect(await ((await apiPost(postId)).json() as Promise<Post>)).toMatchObject({
      id: postId,
      title: NEW_TITLE,
      content: NEW_CONTENT,
      author: CAROL.username,
    });
  });

  it('deletes the post once the confirmation is accepted', async () => {
    await page.click('.actions button.danger');
    await expect.poll(notice, { timeout: 10_000 }).toBe('Post deleted.');
    expect(dialogs).toEqual([`Delete “${NEW_TITLE}”?`]);
    expect((await apiPost(postId)).status).toBe(404);
    await expect.poll(() => page.locator('#view h1').textContent(), { timeout: 10_000 }).toBe('Latest posts');
    expect(await page.locator(`article.summary a[href="#/post/${postId}"]`).count()).toBe(0);
    await page.screenshot({ path: artifactPath('blog-spa-after-delete.png') });
    expect(problems).toEqual([]);
  });
});
