// @ts-check
// The one stand-in for an upstream service in the tests: a real HTTP server on loopback, in the
// test's own process (startFakeUpstream) or as a separate process that a test can kill or freeze
// (`node fake-upstream.mjs` with PORT, NAME and STATS_KEY; fakeUpstreamProcess in fake-upstream-process.ts).
import { once } from 'node:events';
import { createServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';

/** @typedef {import('node:http').IncomingMessage} IncomingMessage */
/** @typedef {import('node:http').ServerResponse} ServerResponse */
/** @typedef {{ method: string, url: string, headers: import('node:http').IncomingHttpHeaders, body: string }} Seen */
/** @typedef {(req: IncomingMessage, res: ServerResponse, body: string) => void} FakeHandler */

/**
 * @typedef {object} FakeUpstream
 * @property {string} name
 * @property {string} url
 * @property {number} port
 * @property {Seen[]} seen Every plain request it received, with its body, in order.
 * @property {number[]} abandoned When (ms since the epoch) a caller gave up on a `/slow` request.
 * @property {{ url: string, requestId: string | undefined }[]} upgrades Every WebSocket upgrade it accepted.
 * @property {number} connections TCP connections accepted so far.
 * @property {() => Promise<void>} close
 */

export const BIG_BODY_BYTES = 1024 * 1024;

/**
 * Answers every request, once its body has been read, with JSON describing it:
 * `{upstream, port, method, url, headers, body, bytes}` and `X-Upstream: <name>`, except:
 * - `/stats`: `{"<statsKey>": {service_status: "online", upstream, port}}`, a service's wrapped shape;
 * - a path with `/slow`: the same answer after 5 s, noting in `abandoned` when the caller gives up first;
 * - a path with `/big`: BIG_BODY_BYTES of text, with a Content-Length, or chunked when the query has `chunked`.
 * A WebSocket upgrade is accepted (its 101 carries `X-Upstream` too) and every message is sent
 * back as `<name>:<message>`. `handler`, when given, answers every plain request instead: once
 * its body has been read, or at once with `readBody: false` (an answer given before the body).
 * @param {string} name
 * @param {{ port?: number, statsKey?: string, handler?: FakeHandler, readBody?: boolean }} [options]
 * @returns {Promise<FakeUpstream>}
 */
export async function startFakeUpstream(name, { port = 0, statsKey = name, handler, readBody = true } = {}) {
  /** @type {Seen[]} */
  const seen = [];
  /** @type {number[]} */
  const abandoned = [];
  /** @type {FakeUpstream['upgrades']} */
  const upgrades = [];
  let actual = port;
  const server = createServer((req, res) => {
    if (handler && !readBody) {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: '' });
      return handler(req, res, '');
    }
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      const entry = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      seen.push(entry);
      if (handler) return handler(req, res, body);
      const url = entry.url;
      if (url === '/stats')
        return json(res, { [statsKey]: { service_status: 'online', upstream: name, port: actual } });
      if (url.includes('/big')) return answerBig(res, url.includes('chunked'));
      const answer = () => json(res, { upstream: name, port: actual, ...entry, bytes: body.length }, name);
      if (!url.includes('/slow')) return answer();
      const timer = setTimeout(answer, 5_000);
      res.once('close', () => {
        clearTimeout(timer);
        if (!res.writableFinished) abandoned.push(Date.now());
      });
    });
  });
  const sockets = new WebSocketServer({ noServer: true });
  sockets.on('headers', (headers) => headers.push(`x-upstream: ${name}`));
  server.on('upgrade', (req, socket, head) => {
    upgrades.push({ url: req.url ?? '', requestId: req.headers['x-request-id']?.toString() });
    sockets.handleUpgrade(req, socket, head, (ws) => ws.on('message', (data) => ws.send(`${name}:${data}`)));
  });
  let connections = 0;
  server.on('connection', () => {
    connections++;
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  actual = typeof address === 'object' && address ? address.port : port;
  return {
    name,
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    seen,
    abandoned,
    upgrades,
    get connections() {
      return connections;
    },
    async close() {
      for (const ws of sockets.clients) ws.terminate();
      server.closeAllConnections();
      server.close();
      await once(server, 'close').catch(() => undefined);
    },
  };
}

/**
 * @param {ServerResponse} res
 * @param {unknown} value
 * @param {string} [upstream]
 */
function json(res, value, upstream) {
  res.writeHead(200, { 'content-type': 'application/json', ...(upstream ? { 'x-upstream': upstream } : {}) });
  res.end(JSON.stringify(value));
}

/** @param {ServerResponse} res @param {boolean} chunked */
function answerBig(res, chunked) {
  const chunk = 'abcdefghijklmnop'.repeat(4096);
  res.writeHead(200, {
    'content-type': 'text/plain',
    ...(chunked ? {} : { 'content-length': String(BIG_BODY_BYTES) }),
  });
  for (let i = 0; i < BIG_BODY_BYTES / chunk.length; i++) res.write(chunk);
  res.end();
}

/**
 * A TCP server that accepts connections and never answers: a hung upstream.
 * @returns {Promise<{ url: string, port: number, close(): Promise<void> }>}
 */
export async function startSilentUpstream() {
  /** @type {Set<import('node:net').Socket>} */
  const sockets = new Set();
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

/** This file's path, for running it as a process. */
export const FAKE_UPSTREAM_SCRIPT = fileURLToPath(import.meta.url);

if (process.argv[1] === FAKE_UPSTREAM_SCRIPT) {
  const fake = await startFakeUpstream(process.env.NAME ?? 'fake', {
    port: Number(process.env.PORT ?? 0),
    ...(process.env.STATS_KEY ? { statsKey: process.env.STATS_KEY } : {}),
  });
  process.stdout.write(`listening on ${fake.port}\n`);
  process.on('SIGTERM', () => {
    void fake.close().then(() => process.exit(0));
  });
}
