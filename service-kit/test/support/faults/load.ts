import { Agent, request } from 'node:http';

export interface LoadRequest {
  method?: string;
  /** Path and query, e.g. `/api/users/ana`. */
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface LoadOptions {
  /** Base URL, e.g. `http://127.0.0.1:7100`. */
  url: string;
  /** What to send: the same request every time, or one per sequence number. Default `GET /`. */
  request?: LoadRequest | ((seq: number) => LoadRequest);
  /** Open loop: this many requests per second whatever the answers, each on schedule. */
  rate?: number;
  /** Closed loop: this many requests in flight at all times (default 4 when no rate is given). */
  concurrency?: number;
  /** A request without a complete answer after this counts as an error `timeout` (default 10 000). */
  timeoutMs?: number;
  /** Accepted answers; default 200–399. */
  ok?: (status: number) => boolean;
}

export interface Outcome {
  seq: number;
  /** Milliseconds since the load began, when the request was sent and when it ended. */
  sentAt: number;
  at: number;
  latencyMs: number;
  /** HTTP status, or 0 when there was no answer (see `error`). */
  status: number;
  error?: string;
  /** The start of the answer's body (1 KiB at most). */
  body: string;
  ok: boolean;
}

export interface SteadyLoad {
  readonly outcomes: readonly Outcome[];
  /** Milliseconds since the load began, on the clock of the outcomes. */
  now(): number;
  /** Requests sent but not finished yet. */
  readonly inFlight: number;
  /** Resolves once every request sent before `to` has its outcome (each ends by its timeout at the latest). */
  settled(to: number): Promise<void>;
  /** Stops sending, waits for the requests in flight and returns every outcome. */
  stop(): Promise<Outcome[]>;
  /** Outcomes that were not accepted, optionally only those sent at or after `from` (and before `to`). */
  failures(from?: number, to?: number): Outcome[];
  /** Outcomes sent in [from, to). */
  sent(from: number, to?: number): Outcome[];
  /** The first accepted outcome sent at or after `from`. */
  firstSuccessAfter(from: number): Outcome | undefined;
}

const BODY_KEPT = 1024;

/**
 * Sends requests at a fixed rate (open loop) or a fixed concurrency (closed loop) over keep-alive
 * connections and records every outcome, so a test can say "no failure", "all 502/503 within X ms"
 * or "first success after the restart at t".
 */
export function steadyLoad(options: LoadOptions): SteadyLoad {
  const base = new URL(options.url);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const isOk = options.ok ?? ((status: number) => status >= 200 && status < 400);
  const describe = typeof options.request === 'function' ? options.request : () => options.request as LoadRequest;
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const outcomes: Outcome[] = [];
  const pending = new Map<Promise<void>, number>();
  const t0 = performance.now();
  const now = () => performance.now() - t0;
  let stopped = false;
  let seq = 0;

  const send = (): Promise<void> => {
    const id = seq++;
    const what = options.request === undefined ? { path: '/' } : describe(id);
    const sentAt = now();
    const done = new Promise<void>((resolve) => {
      let settled = false;
      const finish = (status: number, body: string, error?: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const at = now();
        const ok = error === undefined && isOk(status);
        outcomes.push({ seq: id, sentAt, at, latencyMs: at - sentAt, status, error, body, ok });
        resolve();
      };
      const req = request(
        {
          host: base.hostname,
          port: base.port,
          method: what.method ?? 'GET',
          path: what.path,
          agent,
          headers: {
            ...(what.body === undefined
              ? {}
              : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(what.body)) }),
            ...what.headers,
          },
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            if (body.length < BODY_KEPT) body += chunk.slice(0, BODY_KEPT - body.length);
          });
          res.on('end', () => finish(res.statusCode ?? 0, body));
          res.on('error', (err: NodeJS.ErrnoException) => finish(0, body, err.code ?? err.message));
          res.on('aborted', () => finish(0, body, 'aborted'));
        },
      );
      const timer = setTimeout(() => {
        finish(0, '', 'timeout');
        req.destroy();
      }, timeoutMs);
      req.on('error', (err: NodeJS.ErrnoException) => finish(0, '', err.code ?? err.message));
      req.end(what.body);
    });
    pending.set(done, sentAt);
    void done.then(() => pending.delete(done));
    return done;
  };

  let running: Promise<void>;
  if (options.rate !== undefined) {
    // Each request has its own slot in the schedule; a late timer sends the ones it missed at once.
    const period = 1000 / options.rate;
    running = new Promise<void>((resolve) => {
      const tick = () => {
        if (stopped) return resolve();
        const due = Math.floor(now() / period) + 1;
        while (seq < due) void send();
        setTimeout(tick, Math.max(0, seq * period - now()));
      };
      tick();
    });
  } else {
    const worker = async () => {
      while (!stopped) await send();
    };
    running = Promise.all(Array.from({ length: options.concurrency ?? 4 }, worker)).then(() => undefined);
  }

  const sent = (from: number, to = Number.POSITIVE_INFINITY) =>
    outcomes.filter((o) => o.sentAt >= from && o.sentAt < to);
  return {
    outcomes,
    now,
    get inFlight() {
      return pending.size;
    },
    async settled(to) {
      await Promise.all([...pending].filter(([, sentAt]) => sentAt < to).map(([done]) => done));
    },
    async stop() {
      stopped = true;
      await running;
      await Promise.all(pending.keys());
      agent.destroy();
      return [...outcomes].sort((a, b) => a.seq - b.seq);
    },
    failures: (from = 0, to?: number) => sent(from, to).filter((o) => !o.ok),
    sent,
    firstSuccessAfter: (from) =>
      outcomes.filter((o) => o.ok && o.sentAt >= from).sort((a, b) => a.sentAt - b.sentAt)[0],
  };
}
