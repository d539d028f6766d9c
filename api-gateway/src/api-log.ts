import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import {
  API_ROUTES,
  type ApiCallEvent,
  apiRouteKey,
  type FinishedResponse,
  isoTimestamp,
  isSuccess,
} from '@titanium/service-kit';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { type TokenUser, tokenUser } from './token-user.js';

/** Longest endpoint kept in an event; a longer path is cut here, marked with `…`. */
const MAX_ENDPOINT = 512;
const KNOWN_ROUTES: ReadonlySet<string> = new Set(API_ROUTES.map(apiRouteKey));

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
    app.kit.responses.add((response) => {
      if (response.request.raw.url?.startsWith('/api/')) {
        publisher.offer(apiCallEvent(response, tokenUser(app, response.request)));
      }
    });
  },
  { name: 'api-call-log', dependencies: ['messaging', 'gateway-rate-limits'] },
);

function apiCallEvent(
  { request, route: template, statusCode: status, elapsedMs, aborted }: FinishedResponse,
  user: TokenUser | null,
): ApiCallEvent {
  const { method } = request;
  const url = request.raw.url ?? '/';
  const query = url.indexOf('?');
  let endpoint = query === -1 ? url : url.slice(0, query);
  if (endpoint.length > MAX_ENDPOINT) endpoint = `${endpoint.slice(0, MAX_ENDPOINT)}…`;
  const key = `${method} ${template}`;
  return {
    kind: 'api',
    id: randomUUID(),
    timestamp: isoTimestamp(),
    request_id: request.id,
    method,
    endpoint,
    route: KNOWN_ROUTES.has(key) ? key : 'other',
    status,
    outcome: isSuccess(status, aborted) ? 'success' : 'failure',
    latency_ms: Math.round(elapsedMs * 100) / 100,
    user_id: user?.user_id ?? null,
    username: user?.username ?? null,
    message: aborted
      ? `${method} ${endpoint}: the client left before the answer`
      : `${method} ${endpoint} ${status} ${STATUS_CODES[status] ?? ''}`.trimEnd(),
  };
}
