import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { errors, responseOnSocket, sendErrorJson } from '@titanium/service-kit';
import { type WebSocket, WebSocketServer } from 'ws';

export const HEARTBEAT_PATH = '/api/ws-heartbeat';

export interface HeartbeatOptions {
  pingIntervalMs: number;
  maxConnections: number;
  maxMessageBytes: number;
  /** Called for every message and every pong. */
  onActivity: () => void;
}

/**
 * The dashboard's WebSocket heartbeat, served by the load balancer itself: it pings every
 * peer each interval and terminates one that has missed two pongs; every message and pong is
 * activity. Messages over the size limit close the connection (1009); beyond the connection
 * cap an upgrade is refused with 503.
 */
export class Heartbeat {
  readonly #server: WebSocketServer;
  readonly #options: HeartbeatOptions;
  readonly #missed = new WeakMap<WebSocket, number>();
  readonly #timer: NodeJS.Timeout;
  #pending = 0;

  constructor(options: HeartbeatOptions) {
    this.#options = options;
    this.#server = new WebSocketServer({ noServer: true, maxPayload: options.maxMessageBytes });
    this.#timer = setInterval(() => this.#tick(), options.pingIntervalMs);
    this.#timer.unref();
  }

  get connections(): number {
    return this.#server.clients.size;
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.#server.clients.size + this.#pending >= this.#options.maxConnections) {
      const refusal = new errors.TooManyClients('heartbeat connections');
      sendErrorJson(responseOnSocket(req, socket), refusal.statusCode, refusal.message);
      return;
    }
    this.#pending++;
    let counted = true;
    const settle = () => {
      if (counted) this.#pending--;
      counted = false;
    };
    socket.once('close', settle);
    this.#server.handleUpgrade(req, socket, head, (ws) => {
      settle();
      this.#accept(ws);
    });
  }

  #accept(ws: WebSocket): void {
    this.#missed.set(ws, 0);
    const { onActivity } = this.#options;
    ws.on('pong', () => {
      this.#missed.set(ws, 0);
      onActivity();
    });
    ws.on('message', () => onActivity());
    // Oversized messages and protocol errors end up here; ws closes the connection itself.
    ws.on('error', () => undefined);
  }

  #tick(): void {
    for (const ws of this.#server.clients) {
      const missed = this.#missed.get(ws) ?? 0;
      if (missed >= 2) {
        ws.terminate();
        continue;
      }
      this.#missed.set(ws, missed + 1);
      ws.ping();
    }
  }

  close(): void {
    clearInterval(this.#timer);
    for (const ws of this.#server.clients) ws.terminate();
    this.#server.close();
  }
}
