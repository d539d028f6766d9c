// The blog SPA. It talks to the public API with relative /api/... URLs and renders every piece of
// user text with text nodes, never as HTML.

interface Summary {
  id: number;
  title: string;
  author: string;
  created_at: string;
  excerpt: string;
}

interface Post {
  id: number;
  title: string;
  content: string;
  author: string;
  created_at: string;
  updated_at: string;
}

interface Session {
  token: string;
  username: string;
  expiresAt: number;
}

const PAGE_SIZE = 10;
const TOKEN_KEY = 'titanium-blog-token';

const view = document.getElementById('view') as HTMLElement;
const notice = document.getElementById('notice') as HTMLElement;
const account = document.getElementById('account') as HTMLElement;
const searchForm = document.getElementById('search') as HTMLFormElement;
const searchInput = document.getElementById('search-input') as HTMLInputElement;

type Child = Node | string | null | undefined | false;

/** Creates an element; string children become text nodes, so user text is never parsed as HTML. */
function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<Record<string, string>> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) if (value !== undefined) node.setAttribute(name, value);
  for (const child of children) if (child) node.append(child);
  return node;
}

function show(...children: Child[]): void {
  view.replaceChildren(...children.filter((child): child is Node | string => Boolean(child)));
}

/** Puts a view on the page, unless a later navigation has started since this one did. */
type Render = (...children: Child[]) => void;

// Views wait for the API; without this, a slow answer for the page just left would replace the
// page the user has since moved to (a list arriving over the editor opened meanwhile).
let navigation = 0;

// A notice set just before a navigation survives that one navigation.
let keepNotice = false;

function say(message: string, kind: 'info' | 'error' = 'info'): void {
  keepNotice = message !== '';
  notice.textContent = message;
  notice.className = kind;
  notice.hidden = message === '';
}

function session(): Session | undefined {
  const token = localStorage.getItem(TOKEN_KEY);
  if (!token) return undefined;
  try {
    const payload = token.split('.')[1] ?? '';
    const claims = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))) as {
      username?: unknown;
      exp?: unknown;
    };
    const expiresAt = typeof claims.exp === 'number' ? claims.exp * 1000 : 0;
    if (typeof claims.username !== 'string' || expiresAt <= Date.now()) throw new Error('expired');
    return { token, username: claims.username, expiresAt };
  } catch {
    localStorage.removeItem(TOKEN_KEY);
    return undefined;
  }
}

class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

async function api(path: string, init: { method?: string; body?: unknown; auth?: boolean } = {}): Promise<Response> {
  const headers: Record<string, string> = {};
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const current = session();
  if (init.auth && current) headers.authorization = `Bearer ${current.token}`;
  const res = await fetch(path, {
    method: init.method ?? 'GET',
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      const body = (await res.json()) as { message?: unknown };
      if (typeof body.message === 'string') message = body.message;
    } catch {
      // not JSON; the status line says enough
    }
    if (res.status === 401 && init.auth) localStorage.removeItem(TOKEN_KEY);
    throw new ApiError(res.status, message);
  }
  return res;
}

function formatDate(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

function renderAccount(): void {
  const current = session();
  if (!current) {
    account.replaceChildren(el('a', { class: 'button', href: '#/login' }, 'Log in'));
    return;
  }
  const logout = el('button', { class: 'secondary', type: 'button' }, 'Log out');
  logout.addEventListener('click', () => {
    localStorage.removeItem(TOKEN_KEY);
    say('Logged out.');
    void route();
  });
  account.replaceChildren(
    el('span', { class: 'meta' }, 'Signed in as ', el('strong', {}, current.username)),
    el('a', { class: 'button', href: '#/new' }, 'Write'),
    logout,
  );
}

async function listView(show: Render, params: URLSearchParams): Promise<void> {
  const q = params.get('q') ?? '';
  const offset = Math.max(0, Number.parseInt(params.get('offset') ?? '0', 10) || 0);
  searchInput.value = q;
  const query = new URLSearchParams({ offset: String(offset), limit: String(PAGE_SIZE) });
  if (q) query.set('q', q);
  const res = await api(`/api/posts?${query}`);
  const posts = (await res.json()) as Summary[];
  const total = Number(res.headers.get('x-total-count') ?? posts.length);
  const heading = q ? `Search: ${q}` : 'Latest posts';
  const items = posts.map((post) =>
    el(
      'article',
      { class: 'summary' },
      el('h2', {}, el('a', { href: `#/post/${post.id}` }, post.title)),
      el('div', { class: 'meta' }, `${post.author} · ${formatDate(post.created_at)}`),
      el('p', {}, post.excerpt),
    ),
  );
  const pageLink = (to: number, label: string) => {
    const next = new URLSearchParams({ offset: String(to) });
    if (q) next.set('q', q);
    return el('a', { href: `#/?${next}` }, label);
  };
  const pager = el(
    'div',
    { class: 'pager' },
    offset > 0 && pageLink(Math.max(0, offset - PAGE_SIZE), '← Newer'),
    el('span', { class: 'meta' }, total === 0 ? 'No posts' : `${offset + 1}–${offset + posts.length} of ${total}`),
    offset + PAGE_SIZE < total && pageLink(offset + PAGE_SIZE, 'Older →'),
  );
  show(el('h1', {}, heading), ...items, pager);
}

async function postView(show: Render, id: string): Promise<void> {
  const post = (await (await api(`/api/posts/${encodeURIComponent(id)}`)).json()) as Post;
  const current = session();
  let actions: HTMLElement | undefined;
  if (current && current.username === post.author) {
    const remove = el('button', { class: 'danger', type: 'button' }, 'Delete');
    remove.addEventListener('click', () => void deletePost(post));
    actions = el('div', { class: 'actions' }, el('a', { class: 'button', href: `#/edit/${post.id}` }, 'Edit'), remove);
  }
  const edited = post.updated_at !== post.created_at ? ` · edited ${formatDate(post.updated_at)}` : '';
  show(
    el(
      'article',
      {},
      el('h1', {}, post.title),
      el('div', { class: 'meta' }, `${post.author} · ${formatDate(post.created_at)}${edited}`),
    ),
    el('div', { class: 'content' }, post.content),
    actions,
    el('p', {}, el('a', { href: '#/' }, '← All posts')),
  );
}

async function deletePost(post: Post): Promise<void> {
  if (!window.confirm(`Delete “${post.title}”?`)) return;
  try {
    await api(`/api/posts/${post.id}`, { method: 'DELETE', auth: true });
    say('Post deleted.');
    location.hash = '#/';
  } catch (err) {
    say((err as Error).message, 'error');
  }
}

function loginView(show: Render): void {
  const username = el('input', { name: 'username', autocomplete: 'username', required: '', 'aria-label': 'Username' });
  const password = el('input', {
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    required: '',
    'aria-label': 'Password',
  });
  const form = el(
    'form',
    { class: 'login' },
    el('label', {}, 'Username', username),
    el('label', {}, 'Password', password),
    el('button', { type: 'submit' }, 'Log in'),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const res = await api('/api/login', {
        method: 'POST',
        body: { username: username.value, password: password.value },
      });
      const body = (await res.json()) as { token?: unknown };
      if (typeof body.token !== 'string') throw new Error('The login answer held no token');
      localStorage.setItem(TOKEN_KEY, body.token);
      say(`Welcome, ${username.value}.`);
      location.hash = '#/';
    } catch (err) {
      say((err as Error).message, 'error');
    }
  });
  show(el('h1', {}, 'Log in'), form);
}

async function editorView(show: Render, id?: string): Promise<void> {
  if (!session()) {
    say('Log in to write.', 'error');
    location.hash = '#/login';
    return;
  }
  const existing = id ? ((await (await api(`/api/posts/${encodeURIComponent(id)}`)).json()) as Post) : undefined;
  const title = el('input', { name: 'title', maxlength: '120', required: '', 'aria-label': 'Title' });
  const content = el('textarea', { name: 'content', maxlength: '20000', required: '', 'aria-label': 'Content' });
  title.value = existing?.title ?? '';
  content.value = existing?.content ?? '';
  const form = el(
    'form',
    { class: 'editor' },
    title,
    content,
    el('button', { type: 'submit' }, existing ? 'Save changes' : 'Publish'),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const body = { title: title.value, content: content.value };
      const res = existing
        ? await api(`/api/posts/${existing.id}`, { method: 'PATCH', body, auth: true })
        : await api('/api/posts', { method: 'POST', body, auth: true });
      const saved = (await res.json()) as Post;
      say(existing ? 'Changes saved.' : 'Post published.');
      location.hash = `#/post/${saved.id}`;
    } catch (err) {
      say((err as Error).message, 'error');
      if (err instanceof ApiError && err.status === 401) renderAccount();
    }
  });
  show(el('h1', {}, existing ? 'Edit post' : 'New post'), form);
}

async function route(): Promise<void> {
  const ticket = ++navigation;
  const render: Render = (...children) => {
    if (ticket === navigation) show(...children);
  };
  renderAccount();
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path = '/', search = ''] = hash.split('?');
  const params = new URLSearchParams(search);
  const parts = path.split('/').filter(Boolean);
  try {
    if (parts[0] === 'post' && parts[1]) await postView(render, parts[1]);
    else if (parts[0] === 'edit' && parts[1]) await editorView(render, parts[1]);
    else if (parts[0] === 'new') await editorView(render);
    else if (parts[0] === 'login') loginView(render);
    else await listView(render, params);
  } catch (err) {
    render(
      el('h1', {}, 'Something went wrong'),
      el('p', {}, (err as Error).message),
      el('a', { href: '#/' }, 'All posts'),
    );
  }
}

searchForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const q = searchInput.value.trim();
  location.hash = q ? `#/?${new URLSearchParams({ q })}` : '#/';
});
window.addEventListener('hashchange', () => {
  if (keepNotice) keepNotice = false;
  else say('');
  void route();
});
void route();
