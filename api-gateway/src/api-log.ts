import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { API_ROUTES, type ApiCallEvent, apiRouteKey, isSuccess } from '@titanium/service-kit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

/** Longest endpoint kept in an event; a longer path is cut here, marked with `…`. */
const MAX_ENDPOINT = 512;
const KNOWN_ROUTES: ReadonlySet<string> = new Set(API_ROUTES.map(apiRouteKey));

interface Claims {
  user_id?: unknown;
  username?: unknown;
}

/**
 * The API-call log: one event for every request under /api/ the gateway answers, offered to the
 * messaging publisher once the answer has gone (or the client has), so no answer waits for it.
 * The event holds the path without its query, the route template, status, outcome, latency and
 * the user of a verified token; never a body, a query string, a header value or an e-mail.
 */
export const apiCallLog = fp(
  async (app: FastifyInstance) => {
    const publisher = app.messaging.publisher();
    if (!publisher.enabled) return;
    const userOf = (request: FastifyRequest): Pick<ApiCallEvent, 'user_id' | 'username'> => {
      const header = request.headers.authorization;
      if (header?.startsWith('Bearer ')) {
        try {
          const claims = app.jwt.verify<Claims>(header.slice('Bearer '.length));
          if (Number.isSafeInteger(claims.user_id) && typeof claims.username === 'string') {
            return { user_id: claims.user_id as number, username: claims.username };
          }
        } catch {
          // Not a token of ours, or expired: the call is anonymous.
        }
      }
      return { user_id: null, username: null };
    };
    app.addHook('onRequest', (request, reply, done) => {
      if (request.raw.url?.startsWith('/api/')) {
        reply.raw.once('close', () => publisher.offer(apiCallEvent(request, reply, userOf(request))));
      }
      done();
    });
  },
  { name: 'api-call-log', dependencies: ['messaging', 'gateway-rate-limits'] },
);

function apiCallEvent(
  request: FastifyRequest,
  reply: FastifyReply,
  user: Pick<ApiCallEvent, 'user_id' | 'username'>,
): ApiCallEvent {
  const res = reply.raw;
  const aborted = !res.writableEnded;
  const status = aborted ? 499 : res.statusCode;
  const url = request.raw.url ?? '/';
  const query = url.indexOf('?');
  let endpoint = query === -1 ? url : url.slice(0, query);
  if (endpoint.length > MAX_ENDPOINT) endpoint = `${endpoint.slice(0, MAX_ENDPOINT)}…`;
  const key = `${request.method} ${request.routeOptions.url}`;
  const route = KNOWN_ROUTES.has(key) ? key : 'other';
  const success = isSuccess(status, aborted);
  return {
    kind: 'api',
    id: randomUUID(),
    timestamp: new Date().toISOString(),
    request_id: request.id,
    method: request.method,
    endpoint,
    route,
    status,
    outcome: success ? 'success' : 'failure',
    latency_ms: Math.round(reply.elapsedTime * 100) / 100,
    ...user,
    message: aborted
      ? `${request.method} ${endpoint}: the client left before the answer`
      : `${request.method} ${endpoint} ${status} ${STATUS_CODES[status] ?? ''}`.trimEnd(),
  };
}
