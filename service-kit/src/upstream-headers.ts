import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { REQUEST_ID_HEADER } from './request-id.js';

/**
 * Headers that describe one connection, not the message (RFC 9110 §7.6.1): never passed on, in
 * either direction, and neither are the headers a `Connection` header names.
 */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);

/** Also not copied from a request: the proxy writes these itself, or they belong to the client's hop. */
const REQUEST_OWN = new Set([
  ...HOP_BY_HOP,
  'host',
  'expect',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  REQUEST_ID_HEADER,
]);
const RESPONSE_OWN = new Set([...HOP_BY_HOP, REQUEST_ID_HEADER]);

/** How the proxy describes the client's hop to the target. */
export interface Forwarding {
  requestId: string;
  /** `http` or `https`, as this hop (or a proxy this one trusts) saw it. */
  proto: string;
  /** The Host the client asked for, as this hop (or a proxy this one trusts) saw it. */
  host: string | undefined;
  /** The body is sent re-encoded: its Content-Length is the proxy's to set. */
  newBody: boolean;
}

/** The header names a `Connection` value lists, beyond the usual keep-alive and close. */
function connectionNamed(value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined || value === 'keep-alive' || value === 'close') return undefined;
  const joined = Array.isArray(value) ? value.join(',') : value;
  return new Set(joined.split(',').map((token) => token.trim().toLowerCase()));
}

/** `https` when the client's connection to this process is TLS, else `http`. */
export function protoOf(req: IncomingMessage): string {
  return 'encrypted' in req.socket ? 'https' : 'http';
}

/** The peer's address, IPv4-mapped IPv6 written as plain IPv4. */
export function peerAddress(req: IncomingMessage): string {
  const address = req.socket.remoteAddress ?? '';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/**
 * The request headers for a target, as a flat name/value list: the client's end-to-end headers as
 * sent, then X-Forwarded-For (the client's chain plus its peer), X-Forwarded-Proto,
 * X-Forwarded-Host and X-Request-Id.
 */
export function requestHeadersFor(req: IncomingMessage, forwarding: Forwarding): string[] {
  const raw = req.rawHeaders;
  const named = connectionNamed(req.headers.connection);
  const headers: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const lower = name.toLowerCase();
    if (REQUEST_OWN.has(lower) || named?.has(lower)) continue;
    if (forwarding.newBody && lower === 'content-length') continue;
    headers.push(name, raw[i + 1] as string);
  }
  const prior = req.headers['x-forwarded-for'];
  const address = peerAddress(req);
  headers.push(
    'x-forwarded-for',
    prior ? `${prior}, ${address}` : address,
    'x-forwarded-proto',
    forwarding.proto,
    REQUEST_ID_HEADER,
    forwarding.requestId,
  );
  if (forwarding.host) headers.push('x-forwarded-host', forwarding.host);
  return headers;
}

/** A target's response headers for the client, as a flat name/value list, with X-Request-Id. */
export function responseHeadersFor(headers: IncomingHttpHeaders, requestId: string): string[] {
  const named = connectionNamed(headers.connection);
  const flat: string[] = [];
  for (const name in headers) {
    if (RESPONSE_OWN.has(name) || named?.has(name)) continue;
    const value = headers[name];
    if (value === undefined) continue;
    if (typeof value === 'string') flat.push(name, value);
    else for (const item of value) flat.push(name, item);
  }
  flat.push(REQUEST_ID_HEADER, requestId);
  return flat;
}
