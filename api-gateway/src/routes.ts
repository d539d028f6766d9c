import { errorBody } from '@titanium/service-kit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from './config.js';
import type { LoginFailures } from './login-failures.js';
import { authLimit, writeLimit } from './rate-limits.js';
import type { Upstream } from './upstream.js';

export interface RouteOptions {
  config: Config;
  upstreams: Record<'auth' | 'user' | 'blog', Upstream>;
  loginFailures: LoginFailures;
}

// The gateway checks only that a body is a JSON object; the service behind owns the field rules.
const OBJECT_BODY = { body: { type: 'object' } } as const;

/** Everything under /api/ the gateway answers; the rest gets the kit's 404 JSON. */
export async function gatewayRoutes(
  app: FastifyInstance,
  { config, upstreams, loginFailures }: RouteOptions,
): Promise<void> {
  const { auth, user, blog } = upstreams;
  const { rateLimits } = config;
  const keepPath = (upstream: Upstream) => (request: FastifyRequest, reply: FastifyReply) =>
    upstream.forward(request, reply, request.url);

  app.get('/api/health', async () => ({ status: 'ok' }));

  // Besides the per-IP limit, failed logins are counted per username, so guessing one user's
  // password from many addresses is limited too. Only a 401 (wrong credentials) counts.
  app.post('/api/login', { config: authLimit(rateLimits, 'login'), schema: OBJECT_BODY }, async (request, reply) => {
    const username = (request.body as { username?: unknown }).username;
    if (typeof username !== 'string') return auth.forward(request, reply, `/login${queryOf(request.url)}`);
    const admission = await loginFailures.admit(username);
    if (!admission.allowed) {
      const seconds = Math.ceil(admission.retryAfterMs / 1000);
      const message = `Too many failed logins for this username; try again in ${seconds} s`;
      return reply.code(429).header('retry-after', String(seconds)).send(errorBody(429, message));
    }
    let failed = false;
    try {
      await auth.forward(request, reply, `/login${queryOf(request.url)}`);
      failed = reply.raw.statusCode === 401;
    } finally {
      await admission.settle(failed);
    }
  });

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
