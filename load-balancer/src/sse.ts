import type { ServerResponse } from 'node:http';
import { errors, REQUEST_ID_HEADER } from '@titanium/service-kit';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** What a refused client is told to wait before it tries the stream again. */
const RETRY_AFTER_S = 5;

export interface SseOptions {
  /** How often a comment line is sent, so proxies and browsers see a live connection. */
  heartbeatMs: number;
  /** Clients served at once; the next is refused with 503. */
  maxClients: number;
  /** How long a browser waits before reconnecting after the connection drops. */
  retryMs: number;
  /** What a refused client is told to do instead, e.g. "poll /stats instead". */
  instead: string;
  /** Names the stream in the refusal, e.g. "stats stream". */
  name: string;
}

/**
 * The clients of one Server-Sent Events stream: a bounded set (503 JSON with Retry-After past
 * it), each answer's headers and `retry:` line, a comment line every heartbeat, and writes that
 * skip a client that does not read until it drains, so a slow one never makes the load balancer
 * buffer for it. `onFirst`/`onEmpty` let the stream's owner work only while someone listens.
 */
export class SseClients {
  readonly #options: SseOptions;
  readonly #clients = new Set<ServerResponse>();
  readonly #onFirst: () => void;
  readonly #onEmpty: () => void;
  #heartbeat: NodeJS.Timeout | undefined;

  constructor(options: SseOptions, onFirst: () => void, onEmpty: () => void) {
    this.#options = options;
    this.#onFirst = onFirst;
    this.#onEmpty = onEmpty;
  }

  get size(): number {
    return this.#clients.size;
  }

  /** Takes `request` as a client (hijacking its reply), or throws the 503 when the set is full. */
  accept(request: FastifyRequest, reply: FastifyReply): ServerResponse {
    const { maxClients, name, instead, retryMs, heartbeatMs } = this.#options;
    if (this.#clients.size >= maxClients) {
      reply.header('retry-after', String(RETRY_AFTER_S));
      throw new errors.TooManyClients(`${name} clients (${maxClients}); ${instead}`);
    }
    reply.hijack();
    const res = reply.raw;
    // A stream ends only when its client leaves or the load balancer stops: its connection goes with it.
    res.shouldKeepAlive = false;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
      [REQUEST_ID_HEADER]: request.id,
    });
    res.socket?.setNoDelay(true);
    res.write(`retry: ${retryMs}\n\n`);
    this.#clients.add(res);
    res.once('close', () => {
      this.#clients.delete(res);
      if (this.#clients.size === 0) {
        clearInterval(this.#heartbeat);
        this.#heartbeat = undefined;
        this.#onEmpty();
      }
    });
    if (this.#clients.size === 1) {
      this.#heartbeat = setInterval(() => this.write(': keep-alive\n\n'), heartbeatMs);
      this.#heartbeat.unref();
      this.#onFirst();
    }
    return res;
  }

  /** An event for `clients` (all by default). */
  send(event: string, data: unknown, clients?: Iterable<ServerResponse>): void {
    this.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`, clients);
  }

  write(text: string, clients: Iterable<ServerResponse> = this.#clients): void {
    for (const res of clients) {
      if (res.destroyed || res.writableEnded || res.writableNeedDrain) continue;
      res.write(text);
    }
  }

  /** Ends every stream and its connection, for shutdown; EventSource clients reconnect, to another instance. */
  close(): void {
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    for (const res of this.#clients) {
      res.end();
      res.socket?.destroySoon();
    }
    this.#clients.clear();
  }
}
