import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { sendErrorJson } from './errors.js';
import { ClientGone, HeadersDeadline, headersTimeout } from './headers-deadline.js';
import { requestIdFor } from './request-id.js';
import { hasBody } from './socket-response.js';
import { discardUnreadBody } from './unread-body.js';
import { classifyFailure, noTargetError, upstreamError } from './upstream-errors.js';
import { type Forwarding, protoOf, requestHeadersFor, responseHeadersFor } from './upstream-headers.js';
import type { UpstreamPool, UpstreamTarget } from './upstream-pool.js';

/** How a proxied request ended, for whoever counts: handed to `ProxyObserver.onFinished` once. */
export interface ProxyOutcome {
  readonly method: string;
  /** The request-target as the client sent it (path and query). */
  readonly url: string;
  /** The status the client got; meaningless when `aborted`. */
  readonly statusCode: number;
  /** The client went away before the whole answer was sent. */
  readonly aborted: boolean;
  readonly elapsedMs: number;
  /** The target that answered (or was last tried), if any was picked. */
  readonly target: UpstreamTarget | undefined;
}

export interface ProxyObserver {
  onFinished(outcome: ProxyOutcome): void;
}

/** Where a class of requests goes, and who hears how each ended. One per route, not per request. */
export interface ProxyRoute {
  pool: UpstreamPool;
  observer?: ProxyObserver;
  /** True once this process drains: answers then close their connection. */
  closing: () => boolean;
}

/** What a caller changes about one request on its way: another path, a body already read, its own forwarding view. */
export interface ProxyCall {
  path?: string;
  /** The body, already read (and maybe re-encoded): sent instead of the client's stream. */
  body?: string | Buffer;
  requestId?: string;
  proto?: string;
  host?: string;
}

/** Request bodies up to this size are read whole before sending, so the request can be sent again. */
const REPLAYABLE_BODY_BYTES = 64 * 1024;

/**
 * One proxied request: an undici dispatch handler that streams the target's answer to the
 * client with back-pressure, retries another target when the first could not be reached and
 * that is safe, and aborts the upstream request when the client goes away. The deadline for
 * response headers runs from the dispatch (HeadersDeadline).
 */
class ProxyExchange implements Dispatcher.DispatchHandler, ProxyOutcome {
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly #route: ProxyRoute;
  readonly #pool: UpstreamPool;
  readonly #path: string;
  readonly #requestId: string;
  readonly #headers: string[];
  readonly #started = performance.now();
  /** The body read whole (replayable), undefined while it is streamed from the client, null for none. */
  #body: string | Buffer | null | undefined = null;
  /** What undici reads a streamed body from. */
  #stream: Readable | undefined;
  #target: UpstreamTarget | undefined;
  #controller: Dispatcher.DispatchController | undefined;
  #attempts = 0;
  #settled = true;
  #clientGone = false;
  #deadline: HeadersDeadline | undefined;
  /** True once the client got a failure answer of the proxy's own. */
  #answered = false;
  elapsedMs = 0;

  constructor(req: IncomingMessage, res: ServerResponse, route: ProxyRoute, call: ProxyCall | undefined) {
    this.#req = req;
    this.#res = res;
    this.#route = route;
    this.#pool = route.pool;
    this.#path = call?.path ?? req.url ?? '/';
    this.#requestId = call?.requestId ?? requestIdFor(req);
    const forwarding: Forwarding = {
      requestId: this.#requestId,
      proto: call?.proto ?? protoOf(req),
      host: call?.host ?? req.headers.host,
      newBody: call?.body !== undefined,
    };
    this.#headers = requestHeadersFor(req, forwarding);
    if (call?.body !== undefined) this.#body = call.body;
    res.on('close', () => this.#closed());
  }

  get method(): string {
    return this.#req.method ?? 'GET';
  }

  get url(): string {
    return this.#req.url ?? '/';
  }

  get statusCode(): number {
    return this.#res.statusCode;
  }

  get aborted(): boolean {
    return !this.#res.writableFinished;
  }

  get target(): UpstreamTarget | undefined {
    return this.#target;
  }

  start(): void {
    const req = this.#req;
    if (this.#body !== null || !hasBody(req)) {
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
    const target = this.#pool.pick();
    if (!target) {
      this.#fail(noTargetError(this.#pool.name));
      return;
    }
    this.#deadline = new HeadersDeadline(this.#pool.options.headersTimeoutMs, () => this.#expire());
    this.#send(target);
  }

  #send(target: UpstreamTarget): void {
    this.#target = target;
    this.#controller = undefined;
    this.#attempts++;
    this.#settled = false;
    this.#pool.begin(target);
    target.dispatcher.dispatch(
      {
        path: this.#path,
        method: this.#req.method as Dispatcher.HttpMethod,
        headers: this.#headers,
        body: this.#body === undefined ? this.#stream : this.#body,
      },
      this,
    );
  }

  #expire(): void {
    if (this.#res.headersSent || this.#clientGone) return;
    if (this.#controller) {
      this.#controller.abort(headersTimeout());
      return;
    }
    // Still queued for a connection: answer now; the request is dropped when its turn comes.
    const err = headersTimeout();
    if (this.#target) this.#pool.failed(this.#target, err);
    this.#settle();
    this.#fail(upstreamError(err, this.#pool.name));
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#clientGone) controller.abort(new ClientGone());
    else if (this.#deadline?.expired) controller.abort(headersTimeout());
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    this.#deadline?.clear();
    if (this.#clientGone) return;
    const flat = responseHeadersFor(headers, this.#requestId);
    if (this.#route.closing()) flat.push('connection', 'close');
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
    const target = this.#target as UpstreamTarget;
    this.#settle();
    this.#pool.succeeded(target);
    if (!this.#clientGone) this.#res.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    const target = this.#target as UpstreamTarget;
    const wasSettled = this.#settled;
    this.#settle();
    if (err instanceof ClientGone || this.#clientGone) return;
    if (!wasSettled) this.#pool.failed(target, err);
    if (this.#answered) return;
    // Nothing of an answer was read and the whole body is at hand: another target can take it.
    if (
      classifyFailure(err) === 'connection' &&
      !this.#res.headersSent &&
      !this.#deadline?.expired &&
      this.#body !== undefined &&
      this.#attempts < this.#pool.targets.length
    ) {
      const other = this.#pool.pick(target);
      if (other) {
        this.#send(other);
        return;
      }
    }
    if (this.#res.headersSent) {
      this.#res.destroy(err);
      return;
    }
    this.#fail(upstreamError(err, this.#pool.name));
  }

  #settle(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#pool.release(this.#target as UpstreamTarget);
  }

  #fail(err: { statusCode: number; message: string }): void {
    this.#deadline?.clear();
    this.#answered = true;
    const headers = ['x-request-id', this.#requestId];
    if (this.#route.closing()) headers.push('connection', 'close');
    sendErrorJson(this.#res, err.statusCode, err.message, headers);
  }

  #closed(): void {
    this.#deadline?.clear();
    const aborted = !this.#res.writableFinished;
    if (aborted) {
      this.#clientGone = true;
      if (!this.#settled) this.#controller?.abort(new ClientGone());
    } else {
      // Answered before the client finished sending (an early 413, a 502): read the rest, so the
      // client gets the answer and keeps its connection.
      discardUnreadBody(this.#req);
    }
    this.elapsedMs = performance.now() - this.#started;
    this.#route.observer?.onFinished(this);
  }
}

/** Proxies `req` to a target of `route.pool`, answering on `res`; 502/503/504 JSON when that fails. */
export function proxyRequest(req: IncomingMessage, res: ServerResponse, route: ProxyRoute, call?: ProxyCall): void {
  new ProxyExchange(req, res, route, call).start();
}
