import type { FastifyInstance } from 'fastify';
import type { PostStore } from '../db.js';
import { blogErrors, storageFault } from '../errors.js';
import { PageCache } from '../page-cache.js';
import { ftsQuery, MAX_QUERY_LENGTH } from '../search-query.js';
import type { StorageHealth } from '../storage-health.js';

const TITLE = { type: 'string', minLength: 1, maxLength: 120, pattern: '\\S' } as const;
const CONTENT = { type: 'string', minLength: 1, maxLength: 20_000, pattern: '\\S' } as const;
// Digits only: no signs, exponents or fractions that a numeric coercion would accept.
const ID_PARAMS = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: '^[1-9][0-9]{0,14}$' } },
} as const;

const WRITES = new Set(['create', 'update', 'delete']);

interface ListQuery {
  offset: number;
  limit: number;
  q?: string;
}

export interface PostRoutesOptions {
  store: PostStore;
  health: StorageHealth;
}

/** The posts API under /api/posts, the path the gateway keeps. */
export async function postRoutes(app: FastifyInstance, { store, health }: PostRoutesOptions): Promise<void> {
  const pages = new PageCache();

  /** Runs a database call; a storage fault becomes a 503 that says what is wrong, anything else a 500. */
  function withStorage<T>(action: string, work: () => T): T {
    try {
      const result = work();
      if (WRITES.has(action)) health.succeeded();
      return result;
    } catch (err) {
      const reason = storageFault(err);
      if (!reason) throw err;
      health.failed(action, err as Error);
      throw new blogErrors.StorageUnavailable(reason);
    }
  }

  app.get<{ Querystring: ListQuery }>(
    '/api/posts',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            offset: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 0 },
            limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 },
            q: { type: 'string', maxLength: MAX_QUERY_LENGTH },
          },
        },
      },
    },
    async (request, reply) => {
      const { offset, limit, q } = request.query;
      const text = q?.trim() ?? '';
      const page = withStorage('list', () => {
        if (text === '') {
          return pages.get(store.version(), `${offset}:${limit}`, () => {
            const { total, posts } = store.list(offset, limit);
            return { total, json: JSON.stringify(posts) };
          });
        }
        const match = ftsQuery(text);
        const found = match ? store.search(match, offset, limit) : { total: 0, posts: [] };
        return { total: found.total, json: JSON.stringify(found.posts) };
      });
      reply.header('x-total-count', String(page.total));
      reply.header('access-control-expose-headers', 'X-Total-Count');
      return reply.type('application/json; charset=utf-8').send(page.json);
    },
  );

  app.get<{ Params: { id: string } }>('/api/posts/:id', { schema: { params: ID_PARAMS } }, async (request) => {
    const id = Number(request.params.id);
    const found = withStorage('read', () => store.get(id));
    if (!found) throw new blogErrors.PostNotFound(id);
    return found.post;
  });

  app.post<{ Body: { title: string; content: string } }>(
    '/api/posts',
    {
      onRequest: app.authenticate,
      schema: {
        body: {
          type: 'object',
          required: ['title', 'content'],
          additionalProperties: false,
          properties: { title: TITLE, content: CONTENT },
        },
      },
    },
    async (request, reply) => {
      const author = request.author;
      if (!author) throw new blogErrors.Unauthorized('Log in first');
      const { title, content } = request.body;
      const post = withStorage('create', () => store.create(title, content, author));
      reply.code(201).header('location', `/api/posts/${post.id}`);
      return post;
    },
  );

  /** The post, when the request's author may change it; 404 or 403 otherwise. */
  function ownPost(id: number, authorId: number | undefined) {
    const found = withStorage('read', () => store.get(id));
    if (!found) throw new blogErrors.PostNotFound(id);
    if (found.authorId === null || found.authorId !== authorId) throw new blogErrors.Forbidden(id);
    return found.post;
  }

  app.patch<{ Params: { id: string }; Body: { title?: string; content?: string } }>(
    '/api/posts/:id',
    {
      onRequest: app.authenticate,
      schema: {
        params: ID_PARAMS,
        body: {
          type: 'object',
          minProperties: 1,
          additionalProperties: false,
          properties: { title: TITLE, content: CONTENT },
        },
      },
    },
    async (request) => {
      const id = Number(request.params.id);
      ownPost(id, request.author?.id);
      const post = withStorage('update', () => store.update(id, request.body));
      if (!post) throw new blogErrors.PostNotFound(id);
      return post;
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/api/posts/:id',
    { onRequest: app.authenticate, schema: { params: ID_PARAMS } },
    async (request, reply) => {
      const id = Number(request.params.id);
      ownPost(id, request.author?.id);
      withStorage('delete', () => store.delete(id));
      return reply.code(204).send();
    },
  );
}
