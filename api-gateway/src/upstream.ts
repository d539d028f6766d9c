import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { errors, REQUEST_ID_HEADER } from '@titanium/service-kit';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import { type Dispatcher, Pool } from 'undici';
import type { UpstreamName, UpstreamTimeouts } from './config.js';
import { UpstreamStats } from './upstream-stats.js';

/** Headers that describe one connection, not the message: never passed on (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);
/** Also dropped from requests: the host is the upstream's, the body may be re-encoded. */
const NOT_FORWARDED = new Set([...HOP_BY_HOP, 'host', 'content-length', 'expect']);

// A connection that cannot be opened (refused, or not within the connect timeout) means the
// upstream is down: 502. One that was opened but not answered in time: 504.
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
const PROBE_INTERVAL_MS = 1000;
/** Larger answers, and answers of unknown length, are streamed rather than gathered. */
const BUFFERED_BODY_LIMIT = 256 * 1024;

type Headers = Record<string, string | string[] | undefined>;

/**
 * One upstream service: a keep-alive connection pool, the proxy call, its counters and whether
 * it is failing. A failing upstream is probed on `/health` until it answers again.
 */
export class Upstream {
  readonly name: UpstreamName;
  readonly stats = new UpstreamStats();
  readonly #pool: Pool;
  readonly #log: FastifyBaseLogger;
  readonly #timeouts: UpstreamTimeouts;
  #failing: string | undefined;
  #probe: NodeJS.Timeout | undefined;

  constructor(name: UpstreamName, url: string, timeouts: UpstreamTimeouts, log: FastifyBaseLogger) {
    this.name = name;
    this.#log = log;
    this.#timeouts = timeouts;
    this.#pool = new Pool(new URL(url).origin, {
      connections: 128,
      keepAliveTimeout: timeouts.idleMs,
      keepAliveMaxTimeout: timeouts.idleMs,
      headersTimeout: timeouts.headersMs,
      bodyTimeout: timeouts.bodyMs,
      connect: { timeout: timeouts.connectMs },
    });
  }

  /** Why the upstream is failing, or undefined while it answers. */
  get failing(): string | undefined {
    return this.#failing;
  }

  /**
   * Sends `request` to `path` on this upstream and passes the answer back. The client's going
   * away aborts the upstream call; no answer in time is 504, no connection 502.
   */
  async forward(request: FastifyRequest, reply: FastifyReply, path: string): Promise<FastifyReply> {
    const res = reply.raw;
    const exchange = new Exchange();
    res.once('close', () => {
      const finished = res.writableFinished;
      if (!finished) exchange.abort();
      this.stats.record(finished ? res.statusCode : undefined, reply.elapsedTime);
    });

    let answer: Answer;
    try {
      answer = await exchange.send(this.#pool, this.#timeouts.headersMs, {
        path,
        method: request.method as Dispatcher.HttpMethod,
        headers: forwardedHeaders(request),
        body: bodyOf(request),
      });
    } catch (err) {
      if (exchange.aborted) return reply;
      throw this.#failed(err as Error & { code?: string });
    }
    this.#recovered();
    reply.code(answer.statusCode);
    const { headers } = answer;
    for (const name in headers) {
      const value = headers[name];
      if (value !== undefined && !HOP_BY_HOP.has(name)) reply.header(name, value);
    }
    return reply.send(answer.body);
  }

  async close(): Promise<void> {
    clearInterval(this.#probe);
    await this.#pool.close().catch(() => this.#pool.destroy());
  }

  #failed(err: Error & { code?: string }): Error {
    const timedOut = err.code !== undefined && TIMEOUT_CODES.has(err.code);
    const reason = timedOut ? `no answer within the time limit (${err.code})` : (err.code ?? err.message);
    if (this.#failing === undefined) {
      this.#log.warn({ upstream: this.name, err: err.message, code: err.code }, 'upstream failing');
      this.#probe = setInterval(() => void this.#check(), PROBE_INTERVAL_MS);
      this.#probe.unref();
    }
    this.#failing = reason;
    return timedOut ? new errors.UpstreamTimeout(this.name) : new errors.UpstreamUnavailable(this.name);
  }

  #recovered(): void {
    if (this.#failing === undefined) return;
    this.#failing = undefined;
    clearInterval(this.#probe);
    this.#probe = undefined;
    this.#log.info({ upstream: this.name }, 'upstream answering again');
  }

  async #check(): Promise<void> {
    try {
      const { statusCode, body } = await this.#pool.request({
        path: '/health',
        method: 'GET',
        headersTimeout: this.#timeouts.headersMs,
      });
      await body.dump();
      if (statusCode < 500) this.#recovered();
    } catch {
      // still failing; the next probe tries again
    }
  }
}

interface Answer {
  statusCode: number;
  headers: IncomingHttpHeaders;
  body: Buffer | Readable;
}

/**
 * One upstream call. A body of known length up to BUFFERED_BODY_LIMIT is gathered and handed
 * over whole, so the reply goes out in one write without a stream per request; any other body
 * is streamed with back-pressure.
 */
class Exchange implements Dispatcher.DispatchHandler {
  aborted = false;
  #timedOut = false;
  #deadline: NodeJS.Timeout | undefined;
  #controller: Dispatcher.DispatchController | undefined;
  #resolve: (answer: Answer) => void = () => {};
  #reject: (err: Error) => void = () => {};
  #statusCode = 0;
  #headers: IncomingHttpHeaders = {};
  #chunks: Buffer[] = [];
  #stream: Readable | undefined;

  /**
   * Dispatches the call; without response headers within `deadlineMs` of now it fails as a
   * headers timeout, also while it still waits in the pool's queue for a connection (undici's
   * own headers timeout starts only once the request is written).
   */
  send(pool: Pool, deadlineMs: number, options: Dispatcher.DispatchOptions): Promise<Answer> {
    return new Promise<Answer>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = (err) => {
        clearTimeout(this.#deadline);
        reject(err);
      };
      this.#deadline = setTimeout(() => this.#expire(), deadlineMs);
      pool.dispatch(options, this);
    });
  }

  abort(): void {
    this.aborted = true;
    clearTimeout(this.#deadline);
    this.#controller?.abort(new Error('client closed the connection'));
  }

  #expire(): void {
    this.#timedOut = true;
    const err = Object.assign(new Error('no response headers in time'), { code: 'UND_ERR_HEADERS_TIMEOUT' });
    // Queued requests have no controller yet: fail now, and drop the request when its turn comes.
    if (this.#controller) this.#controller.abort(err);
    else this.#reject(err);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.aborted) controller.abort(new Error('client closed the connection'));
    else if (this.#timedOut) controller.abort(new Error('no response headers in time'));
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    clearTimeout(this.#deadline);
    this.#statusCode = statusCode;
    this.#headers = headers;
    const length = Number(headers['content-length'] ?? Number.NaN);
    if (length <= BUFFERED_BODY_LIMIT) return;
    const stream = new Readable({ read: () => controller.resume() });
    this.#stream = stream;
    this.#resolve({ statusCode, headers, body: stream });
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.#stream) this.#chunks.push(chunk);
    else if (!this.#stream.push(chunk)) controller.pause();
  }

  onResponseEnd(): void {
    if (this.#stream) {
      this.#stream.push(null);
      return;
    }
    const chunks = this.#chunks;
    const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
    this.#resolve({ statusCode: this.#statusCode, headers: this.#headers, body });
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (this.#stream) this.#stream.destroy(err);
    else this.#reject(err);
  }
}

/** The parsed JSON body, encoded again (JSON is the only body type the gateway accepts). */
function bodyOf(request: FastifyRequest): string | undefined {
  const { body } = request;
  if (body === undefined || request.method === 'GET' || request.method === 'HEAD') return undefined;
  return JSON.stringify(body);
}

/** The client's headers minus hop-by-hop ones, plus the request id and X-Forwarded-For/Proto/Host. */
function forwardedHeaders(request: FastifyRequest): Headers {
  const headers: Headers = {};
  const incoming = request.headers;
  for (const name in incoming) {
    if (!NOT_FORWARDED.has(name)) headers[name] = incoming[name];
  }
  const peer = request.raw.socket.remoteAddress ?? '';
  const prior = request.headers['x-forwarded-for'];
  const chain = Array.isArray(prior) ? prior.join(', ') : prior;
  headers['x-forwarded-for'] = chain ? `${chain}, ${peer}` : peer;
  headers['x-forwarded-proto'] = request.protocol;
  headers['x-forwarded-host'] = request.host;
  headers[REQUEST_ID_HEADER] = request.id;
  return headers;
}
