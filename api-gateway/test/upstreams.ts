import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type Socket, type Server as TcpServer } from 'node:net';

export interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface EchoServer {
  url: string;
  port: number;
  seen: Seen[];
  /** Times (ms since epoch) at which a request to a slow path was abandoned by the gateway. */
  abandoned: number[];
  /** TCP connections accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

/**
 * A real HTTP server standing in for an upstream: it answers every request with what it received
 * as JSON. Paths containing /slow answer after 5 s, and note when the caller gives up first.
 * Paths containing /big answer BIG_BODY_BYTES of text: with a Content-Length, or in chunks of
 * unknown total length when the query has `chunked`.
 */
export async function startEcho(port = 0): Promise<EchoServer> {
  const seen: Seen[] = [];
  const abandoned: number[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      const entry = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      seen.push(entry);
      const answer = () => {
        res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': 'echo' });
        res.end(JSON.stringify(entry));
      };
      if (req.url?.includes('/big')) return answerBig(res, req.url.includes('chunked'));
      if (!req.url?.includes('/slow')) return answer();
      const timer = setTimeout(answer, 5_000);
      res.once('close', () => {
        clearTimeout(timer);
        if (!res.writableFinished) abandoned.push(Date.now());
      });
    });
  });
  let connections = 0;
  server.on('connection', () => {
    connections++;
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const actual = typeof address === 'object' && address ? address.port : port;
  return {
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    seen,
    abandoned,
    get connections() {
      return connections;
    },
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

export const BIG_BODY_BYTES = 1024 * 1024;

function answerBig(res: ServerResponse, chunked: boolean): void {
  const chunk = 'abcdefghijklmnop'.repeat(4096);
  const count = BIG_BODY_BYTES / chunk.length;
  res.writeHead(200, {
    'content-type': 'text/plain',
    ...(chunked ? {} : { 'content-length': String(BIG_BODY_BYTES) }),
  });
  for (let i = 0; i < count; i++) res.write(chunk);
  res.end();
}

/** A TCP server that accepts connections and never answers: a hung upstream. */
export async function startSilent(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: TcpServer = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}
