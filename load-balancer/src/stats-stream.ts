import type { ServerResponse } from 'node:http';
import { errors, REQUEST_ID_HEADER, STATS_STREAM_EVENT } from '@titanium/service-kit';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';

export const STREAM_PATH = '/stats/stream';

/** What a refused client is told to wait before it tries the stream again. */
const RETRY_AFTER_S = 5;

export interface StatsStreamOptions {
  /** How often each client gets the `/stats` answer. */
  intervalMs: number;
  /** How often a comment line is sent, so proxies and browsers see a live connection. */
  heartbeatMs: number;
  /** Clients served at once; the next is refused with 503. */
  maxClients: number;
}

/**
 * `GET /stats/stream`: Server-Sent Events, an event `stats` with the `/stats` answer every
 * interval, to every client from one computation (`next`, the shared snapshot), and a comment
 * line every heartbeat. A client that does not read is skipped until it drains, so a slow one
 * never makes the load balancer buffer for it. Beyond `maxClients` the answer is 503 JSON.
 */
export class StatsStream {
  readonly #options: StatsStreamOptions;
  readonly #next: () => Promise<unknown>;
  readonly #log: FastifyBaseLogger;
  readonly #clients = new Set<ServerResponse>();
  #timers: NodeJS.Timeout[] = [];
  #broadcasting = false;

  constructor(options: StatsStreamOptions, next: () => Promise<unknown>, log: FastifyBaseLogger) {
    this.#options = options;
    this.#next = next;
    this.#log = log;
  }

  get clients(): number {
    return this.#clients.size;
  }

  handle(request: FastifyRequest, reply: FastifyReply): FastifyReply | undefined {
    if (this.#clients.size >= this.#options.maxClients) {
      reply.header('retry-after', String(RETRY_AFTER_S));
      throw new errors.TooManyClients(`stats stream clients (${this.#options.maxClients}); poll /stats instead`);
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
    // Browsers reconnect after this long when the connection drops.
    res.write(`retry: ${Math.max(1000, this.#options.intervalMs)}\n\n`);
    this.#clients.add(res);
    res.once('close', () => {
      this.#clients.delete(res);
      if (this.#clients.size === 0) this.#stop();
    });
    if (this.#timers.length === 0) this.#start();
    void this.#send([res]);
    return undefined;
  }

  #start(): void {
    const tick = setInterval(() => void this.#broadcast(), this.#options.intervalMs);
    const beat = setInterval(() => this.#write([...this.#clients], ': keep-alive\n\n'), this.#options.heartbeatMs);
    tick.unref();
    beat.unref();
    this.#timers = [tick, beat];
  }

  #stop(): void {
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers = [];
  }

  /** One round for every client; a round still waiting for the services is not doubled up. */
  async #broadcast(): Promise<void> {
    if (this.#broadcasting) return;
    this.#broadcasting = true;
    try {
      await this.#send([...this.#clients]);
    } finally {
      this.#broadcasting = false;
    }
  }

  async #send(clients: ServerResponse[]): Promise<void> {
    try {
      const stats = await this.#next();
      this.#write(clients, `event: ${STATS_STREAM_EVENT}\ndata: ${JSON.stringify(stats)}\n\n`);
    } catch (err) {
      this.#log.warn({ err }, 'stats stream: no /stats answer to send');
    }
  }

  #write(clients: ServerResponse[], text: string): void {
    for (const res of clients) {
      if (res.destroyed || res.writableEnded || res.writableNeedDrain) continue;
      res.write(text);
    }
  }

  /** Ends every stream and its connection, for shutdown; EventSource clients reconnect, to another instance. */
  close(): void {
    this.#stop();
    for (const res of this.#clients) {
      res.end();
      res.socket?.destroySoon();
    }
    this.#clients.clear();
  }
}
