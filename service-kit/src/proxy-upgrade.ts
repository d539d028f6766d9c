import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import { sendErrorJson } from './errors.js';
import { ClientGone, HeadersDeadline, headersTimeout } from './headers-deadline.js';
import type { ProxyRoute } from './proxy-request.js';
import { REQUEST_ID_HEADER, requestIdFor } from './request-id.js';
import { responseOnSocket } from './socket-response.js';
import { noTargetError, upstreamError } from './upstream-errors.js';
import { protoOf, requestHeadersFor, responseHeadersFor } from './upstream-headers.js';
import type { UpstreamTarget } from './upstream-pool.js';

/**
 * One WebSocket upgrade sent on to a target of the route's pool, with the same header policy,
 * response-header deadline and health accounting as any proxied request. A 101 from the target
 * becomes a tunnel between the two sockets; any other answer is passed on as an ordinary
 * response, and a target that cannot be reached gets the client a JSON 502 or 504.
 */
class UpgradeExchange implements Dispatcher.DispatchHandler {
  readonly #req: IncomingMessage;
  readonly #socket: Duplex;
  readonly #head: Buffer;
  readonly #route: ProxyRoute;
  readonly #tunnels: Set<Duplex>;
  readonly #requestId: string;
  #target: UpstreamTarget | undefined;
  #controller: Dispatcher.DispatchController | undefined;
  #deadline: HeadersDeadline | undefined;
  #settled = true;
  #clientGone = false;
  /** The answer being passed on when the target did not switch protocols. */
  #res: ServerResponse | undefined;

  constructor(req: IncomingMessage, socket: Duplex, head: Buffer, route: ProxyRoute, tunnels: Set<Duplex>) {
    this.#req = req;
    this.#socket = socket;
    this.#head = head;
    this.#route = route;
    this.#tunnels = tunnels;
    this.#requestId = requestIdFor(req);
  }

  start(): void {
    const pool = this.#route.pool;
    const target = pool.pick();
    if (!target) {
      this.#fail(noTargetError(pool.name));
      return;
    }
    this.#target = target;
    this.#settled = false;
    pool.begin(target);
    this.#socket.once('close', () => {
      if (this.#settled) return;
      this.#clientGone = true;
      this.#controller?.abort(new ClientGone());
    });
    this.#deadline = new HeadersDeadline(pool.options.headersTimeoutMs, () => {
      if (this.#controller) this.#controller.abort(headersTimeout());
      else this.onResponseError(undefined, headersTimeout());
    });
    const req = this.#req;
    target.dispatcher.dispatch(
      {
        path: req.url ?? '/',
        method: 'GET',
        headers: requestHeadersFor(req, {
          requestId: this.#requestId,
          proto: protoOf(req),
          host: req.headers.host,
          newBody: false,
        }),
        upgrade: 'websocket',
      },
      this,
    );
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    // Given up on while still queued for a connection: never sent.
    if (this.#clientGone || this.#deadline?.expired) controller.abort(new ClientGone());
  }

  onRequestUpgrade(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    upstream: Duplex,
  ): void {
    this.#settle();
    const client = this.#socket;
    if (this.#clientGone || client.destroyed) {
      upstream.destroy();
      return;
    }
    this.#route.pool.succeeded(this.#target as UpstreamTarget);
    const res = responseOnSocket(this.#req, client);
    res.writeHead(statusCode, [
      ...responseHeadersFor(headers, this.#requestId),
      'connection',
      'upgrade',
      'upgrade',
      String(headers.upgrade ?? 'websocket'),
    ]);
    res.flushHeaders();
    res.detachSocket(client as Socket);
    for (const socket of [client, upstream] as Socket[]) {
      socket.setTimeout(0);
      socket.setNoDelay(true);
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
      socket.once('close', () => {
        this.#tunnels.delete(socket);
        client.destroy();
        upstream.destroy();
      });
      this.#tunnels.add(socket);
    }
    if (this.#head.length > 0) upstream.write(this.#head);
    upstream.pipe(client);
    client.pipe(upstream);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    this.#deadline?.clear();
    if (this.#clientGone) return;
    this.#res = responseOnSocket(this.#req, this.#socket);
    try {
      this.#res.writeHead(statusCode, responseHeadersFor(headers, this.#requestId));
    } catch (err) {
      controller.abort(err as Error);
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const res = this.#res;
    if (!res || this.#clientGone) return;
    if (!res.write(chunk)) {
      controller.pause();
      res.once('drain', () => controller.resume());
    }
  }

  onResponseEnd(): void {
    this.#settle();
    this.#route.pool.succeeded(this.#target as UpstreamTarget);
    this.#res?.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    const wasSettled = this.#settled;
    this.#settle();
    if (err instanceof ClientGone || this.#clientGone) return;
    if (!wasSettled) this.#route.pool.failed(this.#target as UpstreamTarget, err);
    if (this.#res?.headersSent) this.#socket.destroy();
    else if (!wasSettled) this.#fail(upstreamError(err, this.#route.pool.name));
  }

  #settle(): void {
    this.#deadline?.clear();
    if (this.#settled) return;
    this.#settled = true;
    this.#route.pool.release(this.#target as UpstreamTarget);
  }

  #fail(err: { statusCode: number; message: string }): void {
    const headers = [REQUEST_ID_HEADER, this.#requestId, 'connection', 'close'];
    sendErrorJson(responseOnSocket(this.#req, this.#socket), err.statusCode, err.message, headers);
  }
}

/** WebSocket upgrades tunnelled to upstream targets; `close` ends every open tunnel. */
export class UpgradeProxy {
  readonly #tunnels = new Set<Duplex>();

  tunnel(req: IncomingMessage, socket: Duplex, head: Buffer, route: ProxyRoute): void {
    new UpgradeExchange(req, socket, head, route, this.#tunnels).start();
  }

  /** Open tunnels, counting both ends. */
  get sockets(): number {
    return this.#tunnels.size;
  }

  close(): void {
    for (const socket of this.#tunnels) socket.destroy();
  }
}
