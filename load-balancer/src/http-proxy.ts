import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';
import { discardUnreadBody, requestIdFor } from '@titanium/service-kit';
import type { Dispatcher } from 'undici';
import type { StatsWindow } from './stats-window.js';
import type { Target, UpstreamGroup } from './upstream-group.js';

/** Headers that describe one connection, not the message, plus the ones the proxy sets itself. */
const REQUEST_SKIP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'expect',
  'host',
  'http2-settings',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-request-id',
]);
const RESPONSE_SKIP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'x-request-id',
]);

/** Errors meaning the target could not be reached or dropped the connection: they count against its health. */
const CONNECTION_ERRORS = new Set([
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
const TIMEOUT_ERRORS = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);
/** Request bodies up to this size are read whole before sending, so the request can be sent again. */
const REPLAYABLE_BODY_BYTES = 64 * 1024;

export interface ProxyContext {
  window: StatsWindow;
  /** True once shutdown has begun: answers then close their connection. */
  draining: () => boolean;
  /** Every proxied request, counted or not, for `/metrics`; aborted ones as status 499. */
  observe: (route: string, method: string, statusCode: number, seconds: number) => void;
}

class ClientGone extends Error {
  constructor() {
    super('client closed the connection');
    this.name = 'ClientGone';
  }
}

function errorCode(err: Error & { code?: string; errors?: { code?: string }[] }): string {
  return err.code ?? err.errors?.[0]?.code ?? '';
}

function clientAddress(req: IncomingMessage): string {
  const address = req.socket.remoteAddress ?? '';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/** The request headers for the target: end-to-end ones as sent, plus X-Forwarded-* and X-Request-Id. */
function upstreamHeaders(req: IncomingMessage, requestId: string): string[] {
  const raw = req.rawHeaders;
  const connection = req.headers.connection;
  const named =
    connection === undefined || connection === 'keep-alive' || connection === 'close'
      ? undefined
      : connectionTokens(connection);
  const headers: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const lower = name.toLowerCase();
    if (REQUEST_SKIP.has(lower) || named?.has(lower)) continue;
    headers.push(name, raw[i + 1] as string);
  }
  const forwardedFor = req.headers['x-forwarded-for'];
  const address = clientAddress(req);
  headers.push(
    'x-forwarded-for',
    forwardedFor ? `${forwardedFor}, ${address}` : address,
    'x-forwarded-proto',
    'encrypted' in req.socket ? 'https' : 'http',
    'x-request-id',
    requestId,
  );
  if (req.headers.host) headers.push('x-forwarded-host', req.headers.host);
  return headers;
}

function connectionTokens(value: string): Set<string> {
  return new Set(value.split(',').map((token) => token.trim().toLowerCase()));
}

export function sendJson(res: ServerResponse, statusCode: number, body: unknown, extra: string[] = []): void {
  const text = JSON.stringify(body);
  res.writeHead(statusCode, [
    'content-type',
    'application/json; charset=utf-8',
    'content-length',
    String(Buffer.byteLength(text)),
    ...extra,
  ]);
  res.end(text);
}

function timeoutError(): Error {
  return Object.assign(new Error('no response headers in time'), { code: 'UND_ERR_HEADERS_TIMEOUT' });
}

function errorJson(statusCode: number, message: string) {
  return { statusCode, error: statusCode === 504 ? 'Gateway Timeout' : 'Bad Gateway', message };
}

/**
 * One proxied request: an undici dispatch handler that streams the target's answer to the
 * client with back-pressure, records the request in the stats window when it counts, retries
 * another target when the first could not be reached and that is safe, and aborts the upstream
 * request when the client goes away.
 */
class Exchange implements Dispatcher.DispatchHandler {
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly #group: UpstreamGroup;
  readonly #context: ProxyContext;
  readonly #counted: boolean;
  /** The route pattern `/metrics` files the request under. */
  readonly #route: string;
  readonly #hasBody: boolean;
  readonly #requestId: string;
  readonly #headers: string[];
  readonly #started = performance.now();
  /** The body read whole (replayable), or undefined while it is streamed from the client. */
  #body: Buffer | null | undefined = null;
  /** What undici reads a streamed body from. */
  #stream: Readable | undefined;
  #target: Target | undefined;
  #controller: Dispatcher.DispatchController | undefined;
  #attempts = 0;
  #settled = false;
  #clientGone = false;
  #deadline: NodeJS.Timeout | undefined;
  #timedOut = false;
  /** True once the client got a failure answer of the load balancer's own. */
  #answered = false;

  constructor(
    req: IncomingMessage,
    res: ServerResponse,
    group: UpstreamGroup,
    context: ProxyContext,
    counted: boolean,
    route: string,
  ) {
    this.#req = req;
    this.#res = res;
    this.#group = group;
    this.#context = context;
    this.#counted = counted;
    this.#route = route;
    const { headers } = req;
    this.#hasBody = headers['transfer-encoding'] !== undefined || (headers['content-length'] ?? '0') !== '0';
    this.#requestId = requestIdFor(req);
    this.#headers = upstreamHeaders(req, this.#requestId);
    res.on('close', () => this.#closed());
  }

  start(): void {
    const req = this.#req;
    if (!this.#hasBody) {
      this.#dispatch();
      return;
    }
    const length = Number(req.headers['content-length']);
    if (req.headers['transfer-encoding'] !== undefined || !(length <= REPLAYABLE_BODY_BYTES)) {
      this.#body = undefined;
      // undici destroys the body it was handed when the target answers early or fails, and a
      // destroyed request stops Node reading the client's connection, which then hangs until
      // the request timeout. Behind a pipe the client's request stays the proxy's to finish.
      this.#stream = req.pipe(new PassThrough());
      this.#dispatch();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('end', () => {
      if (this.#clientGone) return;
      this.#body = Buffer.concat(chunks);
      this.#dispatch();
    });
  }

  #dispatch(): void {
    const target = this.#group.pick();
    if (!target) {
      this.#fail(502, `Upstream ${this.#group.name} is unavailable`);
      return;
    }
    // One deadline for the response headers, from now: time queued for a pooled connection,
    // connecting and any retry count too, not only the wait on an open connection.
    this.#deadline = setTimeout(() => this.#expire(), this.#group.headersTimeoutMs);
    this.#send(target);
  }

  #send(target: Target): void {
    this.#target = target;
    this.#controller = undefined;
    this.#attempts++;
    target.outstanding++;
    const req = this.#req;
    target.pool.dispatch(
      {
        path: req.url ?? '/',
        method: req.method as Dispatcher.HttpMethod,
        headers: this.#headers,
        body: this.#body === undefined ? this.#stream : this.#body,
      },
      this,
    );
  }

  #expire(): void {
    if (this.#res.headersSent || this.#clientGone) return;
    this.#timedOut = true;
    if (this.#controller) {
      this.#controller.abort(timeoutError());
      return;
    }
    // Still queued for a connection: answer now; the request is dropped when its turn comes.
    this.#settle();
    this.#fail(504, `Upstream ${this.#group.name} did not answer in time`);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#clientGone) controller.abort(new ClientGone());
    else if (this.#timedOut) controller.abort(timeoutError());
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    clearTimeout(this.#deadline);
    if (this.#clientGone) return;
    const flat: string[] = [];
    for (const name in headers) {
      if (RESPONSE_SKIP.has(name)) continue;
      const value = headers[name];
      if (value === undefined) continue;
      if (typeof value === 'string') flat.push(name, value);
      else for (const item of value) flat.push(name, item);
    }
    flat.push('x-request-id', this.#requestId);
    if (this.#context.draining()) flat.push('connection', 'close');
    try {
      this.#res.writeHead(statusCode, flat);
    } catch (err) {
      // A header Node refuses to send: the client gets a 502 instead of a half answer.
      controller.abort(err as Error);
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#clientGone) return;
    if (!this.#res.write(chunk)) {
      controller.pause();
      this.#res.once('drain', () => controller.resume());
    }
  }

  onResponseEnd(): void {
    this.#settle();
    if (this.#target) this.#group.succeeded(this.#target);
    if (!this.#clientGone) this.#res.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    const target = this.#target;
    this.#settle();
    if (this.#clientGone || this.#answered || err instanceof ClientGone) return;
    const code = errorCode(err);
    if (target && CONNECTION_ERRORS.has(code)) {
      this.#group.failed(target, err);
      // Nothing of an answer was read and the whole body is at hand: another target can take it.
      const retry =
        !this.#res.headersSent &&
        !this.#timedOut &&
        this.#body !== undefined &&
        this.#attempts < this.#group.targets.length;
      const other = retry ? this.#group.pick(target) : undefined;
      if (other) {
        this.#settled = false;
        this.#send(other);
        return;
      }
    }
    if (this.#res.headersSent) {
      this.#res.destroy(err);
      return;
    }
    if (TIMEOUT_ERRORS.has(code)) this.#fail(504, `Upstream ${this.#group.name} did not answer in time`);
    else this.#fail(502, `Upstream ${this.#group.name} is unavailable`);
  }

  #settle(): void {
    if (this.#settled) return;
    this.#settled = true;
    if (this.#target) this.#target.outstanding--;
  }

  #fail(statusCode: number, message: string): void {
    clearTimeout(this.#deadline);
    this.#answered = true;
    const extra = ['x-request-id', this.#requestId];
    if (this.#context.draining()) extra.push('connection', 'close');
    sendJson(this.#res, statusCode, errorJson(statusCode, message), extra);
  }

  #closed(): void {
    clearTimeout(this.#deadline);
    const res = this.#res;
    const aborted = !res.writableFinished;
    if (aborted) {
      this.#clientGone = true;
      if (!this.#settled) this.#controller?.abort(new ClientGone());
    } else {
      // Answered before the client finished sending (an early 413, a 502): read the rest, so the
      // client gets the answer and keeps its connection.
      discardUnreadBody(this.#req);
    }
    const elapsedMs = performance.now() - this.#started;
    if (this.#counted) this.#context.window.record(res.statusCode, elapsedMs, aborted);
    this.#context.observe(this.#route, this.#req.method ?? 'GET', aborted ? 499 : res.statusCode, elapsedMs / 1000);
  }
}

export function proxyRequest(
  req: IncomingMessage,
  res: ServerResponse,
  group: UpstreamGroup,
  context: ProxyContext,
  counted: boolean,
  route: string,
): void {
  new Exchange(req, res, group, context, counted, route).start();
}
