import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  hasBody,
  hasRepeatedHost,
  type ProxyRoute,
  proxyRequest,
  REPEATED_HOST,
  responseOnSocket,
  sendErrorJson,
  type UpgradeProxy,
} from '@titanium/service-kit';
import type { Config } from './config.js';
import type { Heartbeat } from './heartbeat.js';
import { type Destination, pathOf, routeOf } from './routes.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** Where the front door sends what it does not answer itself. */
export interface Destinations {
  /** API requests that count as real traffic, and those that do not (HEAD, X-Heartbeat, `/api`). */
  api: { counted: ProxyRoute; uncounted: ProxyRoute };
  blog: ProxyRoute;
  dashboard: ProxyRoute;
  heartbeat: Heartbeat;
  upgrades: UpgradeProxy;
}

function isCounted(req: IncomingMessage, path: string): boolean {
  return path.length > 4 && req.method !== 'HEAD' && req.headers['x-heartbeat']?.toString().toLowerCase() !== 'true';
}

/** The route a WebSocket upgrade to `destination` is tunnelled on, if it is proxied; upgrades are never counted. */
function tunnelled(to: Destinations, destination: Destination): ProxyRoute | undefined {
  if (destination === 'api') return to.api.uncounted;
  if (destination === 'blog') return to.blog;
  if (destination === 'dashboard') return to.dashboard;
  return undefined;
}

/**
 * The load balancer's HTTP server. Proxied requests never touch Fastify: each is routed by
 * `routeOf` straight to its upstream; only the load balancer's own paths reach Fastify's
 * handler. Upgrades follow the same table: WebSocket upgrades to a proxied path are tunnelled,
 * the heartbeat path is the load balancer's own socket, and anything else is answered as the
 * plain HTTP request it also is.
 */
export class FrontDoor {
  readonly #options: Config['server'];
  #fastify: Handler | undefined;
  #to: Destinations | undefined;

  constructor(options: Config['server']) {
    this.#options = options;
  }

  /** For Fastify's `serverFactory`: the server, with Fastify's handler kept for the load balancer's own paths. */
  readonly serverFactory = (handler: Handler): Server => {
    this.#fastify = handler;
    const options = this.#options;
    const server = createServer(
      {
        headersTimeout: options.headersTimeoutMs,
        requestTimeout: options.requestTimeoutMs,
        keepAliveTimeout: options.keepAliveTimeoutMs,
        connectionsCheckingInterval: options.connectionsCheckingIntervalMs,
        noDelay: true,
      },
      (req, res) => this.#request(req, res),
    );
    server.keepAliveTimeout = options.keepAliveTimeoutMs;
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#upgrade(req, socket, head));
    return server;
  };

  /** Opens the proxied routes; until then every request is Fastify's. */
  open(destinations: Destinations): void {
    this.#to = destinations;
  }

  #request(req: IncomingMessage, res: ServerResponse): void {
    const to = this.#to;
    if (!to) {
      (this.#fastify as Handler)(req, res);
      return;
    }
    if (hasRepeatedHost(req.rawHeaders)) {
      sendErrorJson(res, 400, REPEATED_HOST, ['connection', 'close']);
      return;
    }
    const url = req.url ?? '/';
    const path = pathOf(url);
    switch (routeOf(path)) {
      case 'api':
        proxyRequest(req, res, isCounted(req, path) ? to.api.counted : to.api.uncounted);
        return;
      case 'blog':
        proxyRequest(req, res, to.blog);
        return;
      case 'dashboard':
        proxyRequest(req, res, to.dashboard);
        return;
      case 'heartbeat':
        sendErrorJson(res, 426, 'This is a WebSocket endpoint');
        return;
      case 'blog-redirect':
        res.writeHead(308, { location: `/blog/${url.slice(path.length)}`, 'content-length': '0' });
        res.end();
        return;
      case 'own':
        (this.#fastify as Handler)(req, res);
    }
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const to = this.#to;
    const websocket = req.headers.upgrade?.toLowerCase() === 'websocket';
    if (to && websocket && !hasBody(req) && !hasRepeatedHost(req.rawHeaders)) {
      const destination = routeOf(pathOf(req.url ?? '/'));
      if (destination === 'heartbeat') {
        to.heartbeat.handleUpgrade(req, socket, head);
        return;
      }
      const route = tunnelled(to, destination);
      if (route) {
        to.upgrades.tunnel(req, socket, head, route);
        return;
      }
    }
    // Only WebSocket tunnels are proxied: any other upgrade is answered as the plain HTTP/1.1
    // request it also is (a server may ignore Upgrade). Node hands it over without the parser
    // that would read a body, so one with a body is refused instead.
    const res = responseOnSocket(req, socket);
    if (hasBody(req)) sendErrorJson(res, 400, `Upgrade to ${req.headers.upgrade} is not supported`);
    else this.#request(req, res);
  }
}
