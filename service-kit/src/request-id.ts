import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyRequest } from 'fastify';

export const REQUEST_ID_HEADER = 'x-request-id';

// Anything else (too long, spaces, control characters) is replaced, so ids are safe in logs.
const ACCEPTABLE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Keeps a caller's well-formed X-Request-Id, otherwise makes a new one. */
export function requestIdFor(req: IncomingMessage): string {
  const incoming = req.headers[REQUEST_ID_HEADER];
  if (typeof incoming === 'string' && ACCEPTABLE_ID.test(incoming)) return incoming;
  return randomUUID();
}

/** Headers to add to a call made on behalf of `request`, so the request id follows it upstream. */
export function propagationHeaders(request: FastifyRequest): Record<string, string> {
  return { [REQUEST_ID_HEADER]: request.id };
}
