import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import httpProxy from 'http-proxy';
import type { UpstreamGroup } from './upstream-group.js';

function refuse(socket: Duplex, statusCode: number, reason: string): void {
  if (socket.destroyed) return;
  const body = JSON.stringify({ statusCode, error: reason, message: `Upgrade failed: ${reason}` });
  socket.end(
    `HTTP/1.1 ${statusCode} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/** Proxies WebSocket (and other) upgrades to a healthy target; tracks the tunnels so shutdown can end them. */
export class UpgradeProxy {
  readonly #proxy = httpProxy.createProxyServer({ ws: true, xfwd: true });
  readonly #sockets = new Set<Duplex>();

  constructor() {
    this.#proxy.on('error', (_err, _req, target) => {
      const socket = target as Socket;
      // Nothing sent yet: the client can still get an HTTP answer; after the 101 only a close.
      if (socket.bytesWritten === 0) refuse(socket, 502, 'Bad Gateway');
      else socket.destroy();
    });
  }

  handle(req: IncomingMessage, socket: Duplex, head: Buffer, group: UpstreamGroup): void {
    const target = group.pick();
    if (!target) {
      refuse(socket, 502, 'Bad Gateway');
      return;
    }
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    this.#proxy.ws(req, socket, head, { target: target.url });
  }

  close(): void {
    for (const socket of this.#sockets) socket.destroy();
    this.#proxy.close();
  }
}
