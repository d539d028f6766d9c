import type { ServerResponse } from 'node:http';
import { STATS_STREAM_EVENT } from '@titanium/service-kit';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import { SseClients } from './sse.js';

export const STREAM_PATH = '/stats/stream';

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
 * line every heartbeat (sse.ts). Beyond `maxClients` the answer is 503 JSON.
 */
export class StatsStream {
  readonly #next: () => Promise<unknown>;
  readonly #log: FastifyBaseLogger;
  readonly #clients: SseClients;
  #tick: NodeJS.Timeout | undefined;
  #broadcasting = false;

  constructor(options: StatsStreamOptions, next: () => Promise<unknown>, log: FastifyBaseLogger) {
    this.#next = next;
    this.#log = log;
    const { intervalMs, heartbeatMs, maxClients } = options;
    this.#clients = new SseClients(
      {
        heartbeatMs,
        maxClients,
        retryMs: Math.max(1000, intervalMs),
        name: 'stats stream',
        instead: 'poll /stats instead',
      },
      () => {
        this.#tick = setInterval(() => void this.#broadcast(), intervalMs);
        this.#tick.unref();
      },
      () => {
        clearInterval(this.#tick);
        this.#tick = undefined;
      },
    );
  }

  get clients(): number {
    return this.#clients.size;
  }

  handle(request: FastifyRequest, reply: FastifyReply): FastifyReply | undefined {
    const res = this.#clients.accept(request, reply);
    void this.#send([res]);
    return undefined;
  }

  /** One round for every client; a round still waiting for the services is not doubled up. */
  async #broadcast(): Promise<void> {
    if (this.#broadcasting) return;
    this.#broadcasting = true;
    try {
      await this.#send();
    } finally {
      this.#broadcasting = false;
    }
  }

  async #send(clients?: ServerResponse[]): Promise<void> {
    try {
      this.#clients.send(STATS_STREAM_EVENT, await this.#next(), clients);
    } catch (err) {
      this.#log.warn({ err }, 'stats stream: no /stats answer to send');
    }
  }

  /** Ends every stream and its connection, for shutdown. */
  close(): void {
    clearInterval(this.#tick);
    this.#tick = undefined;
    this.#clients.close();
  }
}
