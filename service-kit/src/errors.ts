import { type ServerResponse, STATUS_CODES } from 'node:http';
import createError from '@fastify/error';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { REQUEST_ID_HEADER } from './request-id.js';

/** Errors whose messages are written for clients; their codes start with TI_ERR_. */
export const errors = {
  NotReady: createError('TI_ERR_NOT_READY', 'Service is not ready: %s', 503),
  UpstreamUnavailable: createError('TI_ERR_UPSTREAM_UNAVAILABLE', 'Upstream %s is unavailable', 502),
  UpstreamTimeout: createError('TI_ERR_UPSTREAM_TIMEOUT', 'Upstream %s did not answer in time', 504),
  BadBody: createError('TI_ERR_BAD_BODY', 'The request body %s', 400),
  TooManyClients: createError('TI_ERR_TOO_MANY_CLIENTS', 'Too many %s', 503),
};

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
}

export function errorBody(statusCode: number, message: string): ErrorBody {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message };
}

/**
 * Writes `{statusCode, error, message}` on a raw response, for answers given outside Fastify's
 * routing (the load balancer's fast path, a proxied call, an upgrade refused on its socket).
 * `headers` is a flat name/value list added to the answer.
 */
export function sendErrorJson(
  res: ServerResponse,
  statusCode: number,
  message: string,
  headers: readonly string[] = [],
): void {
  const text = JSON.stringify(errorBody(statusCode, message));
  res.writeHead(statusCode, [
    'content-type',
    'application/json; charset=utf-8',
    'content-length',
    String(Buffer.byteLength(text)),
    ...headers,
  ]);
  res.end(text);
}

function statusOf(err: FastifyError): number {
  const code = err.statusCode;
  return typeof code === 'number' && code >= 400 && code <= 599 ? code : 500;
}

/**
 * Every error becomes `{statusCode, error, message}`. Client errors keep their message; server
 * errors keep it only when it was written for clients, otherwise the client sees the status
 * text and the details go to the log, never a stack trace.
 */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError & { headers?: Record<string, string> }, request, reply) => {
    const statusCode = statusOf(err);
    const ownMessage = typeof err.code === 'string' && err.code.startsWith('TI_ERR_');
    // Our own 5xx errors are expected conditions (a full disk, an upstream down): one line, no stack.
    if (statusCode >= 500 && ownMessage) request.log.warn({ code: err.code, statusCode }, err.message);
    else if (statusCode >= 500) request.log.error({ err }, 'request failed');
    else request.log.debug({ err }, 'request rejected');
    const message = statusCode < 500 || ownMessage ? err.message : (STATUS_CODES[statusCode] ?? 'Server Error');
    if (err.headers) reply.headers(err.headers);
    return reply.code(statusCode).send(errorBody(statusCode, message));
  });
  app.setNotFoundHandler((request, reply) => {
    return reply.code(404).send(errorBody(404, `Route ${request.method} ${request.url.split('?')[0]} not found`));
  });
}

/** What the router's own refusals tell the client, instead of echoing the (maybe huge) URL back. */
const FRAMEWORK_ERRORS: Record<string, [status: number, message: string]> = {
  FST_ERR_BAD_URL: [400, 'The URL is not valid: it has a malformed "%" escape'],
  FST_ERR_MAX_PARAM_LENGTH: [414, 'A segment of the URL path is too long'],
};

/**
 * Fastify's `frameworkErrors`: errors the router raises before a route runs (bad escapes in the
 * URL, over-long path segments) answered like every other error, not in Fastify's own shape.
 */
export function answerFrameworkError(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const [statusCode, message] = FRAMEWORK_ERRORS[err.code] ?? [statusOf(err), STATUS_CODES[statusOf(err)] ?? 'Error'];
  request.log.debug({ code: err.code, statusCode }, 'request rejected by the router');
  void reply.header(REQUEST_ID_HEADER, request.id).code(statusCode).send(errorBody(statusCode, message));
}
