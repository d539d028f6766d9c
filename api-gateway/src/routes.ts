import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from './config.js';
import { authLimit, writeLimit } from './rate-limits.js';
import type { Upstream } from './upstream.js';

export interface RouteOptions {
  config: Config;
  upstreams: Record<'auth' | 'user' | 'blog', Upstream>;
}

// The gateway checks only that a body is a JSON object; the service behind owns the field rules.
const OBJECT_BODY = { body: { type: 'object' } } as const;

/** Everything under /api/ the gateway answers; the rest gets the kit's 404 JSON. */
export async function gatewayRoutes(app: FastifyInstance, { config, upstreams }: RouteOptions): Promise<void> {
  const { auth, user, blog } = upstreams;
  const { rateLimits } = config;
  const keepPath = (upstream: Upstream) => (request: FastifyRequest, reply: FastifyReply) =>
    upstream.forward(request, reply, request.url);

  app.get('/api/health', async () => ({ status: 'ok' }));

  app.post('/api/login', { config: authLimit(rateLimits, 'login'), schema: OBJECT_BODY }, (request, reply) =>
    auth.forward(request, reply, `/login${queryOf(request.url)}`),
  );

  app.post('/api/register', { config: authLimit(rateLimits, 'register'), schema: OBJECT_BODY }, (request, reply) =>
    user.forward(request, reply, `/users${queryOf(request.url)}`),
  );

  // Reads only: user-service's other routes (credential checks) are for the auth service, not the public.
  app.get('/api/users/*', (request, reply) => user.forward(request, reply, request.url.slice('/api'.length)));

  for (const url of ['/api/posts', '/api/posts/*']) {
    app.get(url, keepPath(blog));
    app.route({
      method: ['POST', 'PATCH'],
      url,
      config: writeLimit(app, rateLimits),
      schema: OBJECT_BODY,
      handler: keepPath(blog),
    });
    app.route({ method: 'DELETE', url, config: writeLimit(app, rateLimits), handler: keepPath(blog) });
  }
}

function queryOf(url: string): string {
  const index = url.indexOf('?');
  return index === -1 ? '' : url.slice(index);
}
