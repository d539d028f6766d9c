import { API_ROUTES, type ApiRouteKey, apiRouteKey, errorBody } from '@titanium/service-kit';
import type { FastifyInstance, RawServerDefault, RouteOptions } from 'fastify';
import type { Config } from './config.js';
import type { LoginFailures } from './login-failures.js';
import { authLimit, writeLimit } from './rate-limits.js';
import type { Upstream } from './upstream.js';

export interface GatewayRouteOptions {
  config: Config;
  upstreams: Record<'auth' | 'user' | 'blog', Upstream>;
  loginFailures: LoginFailures;
}

// The gateway checks only that a body is a JSON object; the service behind owns the field rules.
const OBJECT_BODY = { body: { type: 'object' } } as const;

type Route = Omit<RouteOptions_, 'method' | 'url'>;
type RouteOptions_ = RouteOptions<RawServerDefault>;

/**
 * Everything under /api/ the gateway answers: one handler for each route of the API table
 * (API_ROUTES, shared with the load balancer's per-route figures); the rest gets the kit's 404 JSON.
 */
export async function gatewayRoutes(
  app: FastifyInstance,
  { config, upstreams, loginFailures }: GatewayRouteOptions,
): Promise<void> {
  const { auth, user, blog } = upstreams;
  const { rateLimits } = config;
  const toBlog: Route = { handler: (request, reply) => blog.forward(request, reply, request.url) };
  const writeToBlog: Route = { ...toBlog, config: writeLimit(app, rateLimits) };

  const routes: Record<ApiRouteKey, Route> = {
    'GET /api/health': { handler: async () => ({ status: 'ok' }) },

    // Besides the per-IP limit, failed logins are counted per username, so guessing one user's
    // password from many addresses is limited too. Only a 401 (wrong credentials) counts.
    'POST /api/login': {
      config: authLimit(rateLimits, 'login'),
      schema: OBJECT_BODY,
      handler: async (request, reply) => {
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
      },
    },

    'POST /api/register': {
      config: authLimit(rateLimits, 'register'),
      schema: OBJECT_BODY,
      handler: (request, reply) => user.forward(request, reply, `/users${queryOf(request.url)}`),
    },

    // Reads only: user-service's other routes (credential checks) are for the auth service, not the public.
    'GET /api/users/:username': {
      handler: (request, reply) => user.forward(request, reply, request.url.slice('/api'.length)),
    },

    'GET /api/posts': toBlog,
    'POST /api/posts': { ...writeToBlog, schema: OBJECT_BODY },
    'GET /api/posts/:id': toBlog,
    'PATCH /api/posts/:id': { ...writeToBlog, schema: OBJECT_BODY },
    'DELETE /api/posts/:id': writeToBlog,
  };
  for (const route of API_ROUTES) app.route({ method: route.method, url: route.url, ...routes[apiRouteKey(route)] });
}

function queryOf(url: string): string {
  const index = url.indexOf('?');
  return index === -1 ? '' : url.slice(index);
}
