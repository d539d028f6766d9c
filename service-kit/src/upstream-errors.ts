import { errors } from './errors.js';

/**
 * What went wrong talking to an upstream target:
 * - `connection`: it could not be reached or dropped the connection; counts against its health;
 * - `timeout`: it was reached but did not answer in time;
 * - `closed`: this process is shutting its pools down;
 * - `other`: anything else (a malformed answer, a header Node refuses to pass on).
 */
export type UpstreamFailure = 'connection' | 'timeout' | 'closed' | 'other';

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
]);
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
const CLOSED_CODES = new Set(['UND_ERR_DESTROYED', 'UND_ERR_CLOSED']);

type CodedError = Error & { code?: string; errors?: { code?: string }[] };

/** The error's code; for an AggregateError (a name with several addresses) the first one's. */
export function errorCode(err: Error): string {
  const coded = err as CodedError;
  return coded.code ?? coded.errors?.[0]?.code ?? '';
}

export function classifyFailure(err: Error): UpstreamFailure {
  const code = errorCode(err);
  // A connect timeout is both: the target could not be reached (health) and nothing answered in time (504).
  if (CONNECTION_CODES.has(code)) return 'connection';
  if (TIMEOUT_CODES.has(code) || err.name === 'TimeoutError') return 'timeout';
  if (CLOSED_CODES.has(code)) return 'closed';
  return 'other';
}

/** Whether the client should hear "did not answer in time" (504) rather than "unavailable". */
export function isTimeout(err: Error): boolean {
  const code = errorCode(err);
  return TIMEOUT_CODES.has(code) || code === 'UND_ERR_CONNECT_TIMEOUT' || err.name === 'TimeoutError';
}

/** A short reason fit for `/stats` and logs: the error code, never request data. */
export function describeFailure(err: Error): string {
  const code = errorCode(err);
  if (isTimeout(err)) return `no answer within the time limit (${code || err.name})`;
  return code || err.message;
}

/** The kit error a client gets for a failed upstream call: 504 for time, 503 while closing, else 502. */
export function upstreamError(err: Error, upstream: string) {
  if (isTimeout(err)) return new errors.UpstreamTimeout(upstream);
  if (classifyFailure(err) === 'closed') return new errors.NotReady('shutting down');
  return new errors.UpstreamUnavailable(upstream);
}

/** The error for "no target of this upstream can take a request now". */
export function noTargetError(upstream: string) {
  return new errors.UpstreamUnavailable(upstream);
}
