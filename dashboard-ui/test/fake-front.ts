import { once } from 'node:events';
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { EventLogAnswer, MessagingType, TitaniumEvent } from '@titanium/service-kit/events-contract';
import { type WebSocket, WebSocketServer } from 'ws';
import type { StatsResponse } from '../web/src/stats-types.js';

/**
 * What the dashboard's origin does to the stream: `absent` as the original stack's load balancer
 * (the request falls through to the page's server, which has no such file), `accept` sends events,
 * `refuse` answers 503 JSON as a load balancer with too many stream clients does.
 */
export type StreamMode = 'absent' | 'accept' | 'refuse';

/**
 * What the origin does with `/logs/messaging` and its stream: `absent` as a load balancer without
 * an event log (the requests fall through to the page's server), `accept` answers both,
 * `unauthorized` answers both 401 as a load balancer with OPS_TOKEN set, `refuse-stream` answers
 * the log but refuses the stream (503, too many clients), `failing` answers both 503.
 */
export type EventLogMode = 'absent' | 'accept' | 'unauthorized' | 'refuse-stream' | 'failing';

/**
 * The real page from the real static server, behind a front that plays the load balancer: it
 * answers `/stats`, `/stats/stream`, `/stats/history`, `/logs/messaging` (and its stream) and the
 * heartbeat WebSocket as the test chooses, counts every request, and passes everything else to
 * the static server.
 */
export class FakeFront {
  url = '';
  /** The `/stats` answer, also the data of every stream event. */
  stats: () => StatsResponse = () => ({});
  /** The history answer for a range; undefined answers 404, as a load balancer without history. */
  history: (range: string) => unknown = () => undefined;
  streamMode: StreamMode = 'absent';
  /** Whether the heartbeat WebSocket is accepted; refused (the socket closed) otherwise. */
  acceptHeartbeat = false;
  streamEveryMs = 300;
  eventLogMode: EventLogMode = 'absent';
  /** The `type` the event log answers with (`none`: switched off, no events). */
  eventLogType: MessagingType = 'memory';
  /** Sources the event log says it could not read. */
  eventLogUnavailable: string[] = [];
  /** Every event logged, newest first: what `/logs/messaging` answers from. */
  readonly events: TitaniumEvent[] = [];
  /** The query of every `/logs/messaging` request, in order. */
  readonly eventLogQueries: string[] = [];
  eventStreamsOpened = 0;
  eventPingEveryMs = 1000;
  /** Every request, by path (query left out), and the history queries in order. */
  readonly hits = new Map<string, number>();
  readonly historyQueries: string[] = [];
  requests = 0;
  streamsOpened = 0;
  socketsOpened = 0;
  /** Messages the page sent on heartbeat sockets. */
  socketMessages = 0;
  readonly #server = createServer((req, res) => this.#handle(req.url ?? '/', req.method ?? 'GET', req, res));
  readonly #wss = new WebSocketServer({ noServer: true });
  readonly #streams = new Set<ServerResponse>();
  readonly #eventStreams = new Set<ServerResponse>();
  readonly #sockets = new Set<WebSocket>();

  constructor(readonly dashboardPort: number) {
    this.#server.on('upgrade', (req, socket, head) => {
      this.requests++;
      if (req.url !== '/api/ws-heartbeat' || !this.acceptHeartbeat) {
        socket.destroy();
        return;
      }
      this.#wss.handleUpgrade(req, socket, head, (ws) => {
        this.socketsOpened++;
        this.#sockets.add(ws);
        ws.on('message', () => this.socketMessages++);
        ws.on('close', () => this.#sockets.delete(ws));
      });
    });
  }

  async listen(): Promise<this> {
    this.#server.listen(0, '127.0.0.1');
    await once(this.#server, 'listening');
    const address = this.#server.address();
    this.url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    return this;
  }

  hitsOf(path: string): number {
    return this.hits.get(path) ?? 0;
  }

  get openStreams(): number {
    return this.#streams.size;
  }

  get openSockets(): number {
    return this.#sockets.size;
  }

  get openEventStreams(): number {
    return this.#eventStreams.size;
  }

  /** Drops every open stream, as a restarting load balancer would. */
  cutStreams(): void {
    for (const res of this.#streams) res.destroy();
  }

  cutEventStreams(): void {
    for (const res of this.#eventStreams) res.destroy();
  }

  /** Logs events (given oldest first, as they happen) and sends each to every open event stream. */
  pushEvents(...events: TitaniumEvent[]): void {
    for (const event of events) {
      this.events.unshift(event);
      for (const res of this.#eventStreams) res.write(`event: event\ndata: ${JSON.stringify(event)}\n\n`);
    }
  }

  async close(): Promise<void> {
    this.cutStreams();
    this.cutEventStreams();
    for (const ws of this.#sockets) ws.terminate();
    this.#wss.close();
    this.#server.closeAllConnections();
    this.#server.close();
  }

  #stream(res: ServerResponse, json: (status: number, body: unknown) => void): void {
    if (this.streamMode === 'refuse') {
      json(503, { statusCode: 503, error: 'Service Unavailable', message: 'too many stream clients' });
      return;
    }
    this.streamsOpened++;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    const send = () => res.write(`event: stats\ndata: ${JSON.stringify(this.stats())}\n\n`);
    res.write(': connected\n\n');
    send();
    const timer = setInterval(send, this.streamEveryMs);
    this.#streams.add(res);
    res.on('close', () => {
      clearInterval(timer);
      this.#streams.delete(res);
    });
  }

  /** `/logs/messaging` and its stream; false when the request is not for the event log. */
  #eventLog(url: URL, res: ServerResponse, json: (status: number, body: unknown) => void): boolean {
    const isLog = url.pathname === '/logs/messaging';
    const isStream = url.pathname === '/logs/messaging/stream';
    if ((!isLog && !isStream) || this.eventLogMode === 'absent') return false;
    if (isLog) this.eventLogQueries.push(url.search);
    if (this.eventLogMode === 'unauthorized') {
      json(401, { statusCode: 401, error: 'Unauthorized', message: 'the event log needs the ops token' });
      return true;
    }
    if (this.eventLogMode === 'failing' || (isStream && this.eventLogMode === 'refuse-stream')) {
      res.setHeader('retry-after', '5');
      json(503, { statusCode: 503, error: 'Service Unavailable', message: 'too many event log clients' });
      return true;
    }
    if (isLog) {
      const kind = url.searchParams.get('kind');
      const status = url.searchParams.get('status');
      const route = url.searchParams.get('route');
      const limit = Number(url.searchParams.get('limit') ?? 100);
      const events = this.eventLogType === 'none' ? [] : this.events;
      const answer: EventLogAnswer & { unavailable: string[] } = {
        type: this.eventLogType,
        events: events
          .filter((event) => kind === null || event.kind === kind)
          .filter(
            (event) =>
              status === null ||
              (event.kind === 'api' && (String(event.status) === status || `${String(event.status)[0]}xx` === status)),
          )
          .filter((event) => route === null || (event.kind === 'api' && event.route === route))
          .slice(0, limit),
        next: null,
        unavailable: this.eventLogUnavailable,
      };
      json(200, answer);
      return true;
    }
    this.eventStreamsOpened++;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    res.write(': connected\n\n');
    const timer = setInterval(() => res.write(': ping\n\n'), this.eventPingEveryMs);
    this.#eventStreams.add(res);
    res.on('close', () => {
      clearInterval(timer);
      this.#eventStreams.delete(res);
    });
    return true;
  }

  #handle(target: string, method: string, req: IncomingMessage, res: ServerResponse): void {
    this.requests++;
    const url = new URL(target, 'http://front');
    this.hits.set(url.pathname, this.hitsOf(url.pathname) + 1);
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/stats') {
      json(200, this.stats());
      return;
    }
    if (url.pathname === '/stats/history') {
      this.historyQueries.push(url.search);
      const answer = this.history(url.searchParams.get('range') ?? '1h');
      if (answer === undefined) json(404, { statusCode: 404, error: 'Not Found', message: 'no history' });
      else json(200, answer);
      return;
    }
    if (url.pathname === '/stats/stream' && this.streamMode !== 'absent') {
      this.#stream(res, json);
      return;
    }
    if (this.#eventLog(url, res, json)) return;
    const upstream = request(
      { host: '127.0.0.1', port: this.dashboardPort, path: target, method, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  }
}
