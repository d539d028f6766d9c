import { connect, type Socket } from 'node:net';

// HTTP spoken byte for byte over node:net, for requests no HTTP client would send: smuggling
// attempts, broken header lines, absurd sizes, headers trickled slowly.

export interface RawExchange {
  /** Everything the server sent, as latin1 text. */
  text: string;
  /** The status code of every response found in `text`, in order. */
  statuses: number[];
  /** True when the server closed the connection (or reset it) before the wait was over. */
  closed: boolean;
  /** Milliseconds from the connection to its close, or to the end of the wait. */
  elapsedMs: number;
}

const STATUS_HERE = /HTTP\/1\.[01] (\d{3})[^\r\n]*\r\n/y;
const STATUS_NEXT = /\r\nHTTP\/1\.[01] \d{3}/g;
const CONTENT_LENGTH = /\r\ncontent-length: *(\d+)\r\n/i;

/**
 * The status codes of the responses in a raw byte stream: a status line at the start, after a
 * line break, or right where the previous response's body of declared length ends.
 */
export function statusesOf(text: string): number[] {
  const statuses: number[] = [];
  let at = 0;
  for (;;) {
    STATUS_HERE.lastIndex = at;
    let line = STATUS_HERE.exec(text);
    if (!line) {
      STATUS_NEXT.lastIndex = at;
      const next = STATUS_NEXT.exec(text);
      if (!next) return statuses;
      STATUS_HERE.lastIndex = next.index + 2;
      line = STATUS_HERE.exec(text);
      if (!line) return statuses;
    }
    const status = Number(line[1]);
    statuses.push(status);
    const headEnd = text.indexOf('\r\n\r\n', line.index);
    if (headEnd < 0) return statuses;
    const length = CONTENT_LENGTH.exec(text.slice(line.index, headEnd + 2));
    const bodyless = status < 200 || status === 204 || status === 304;
    at = length && !bodyless ? headEnd + 4 + Number(length[1]) : headEnd + 2;
  }
}

/** Opens a TCP connection to 127.0.0.1:port and resolves once it is connected. */
export function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/**
 * Collects what `socket` receives until the server closes the connection, `timeoutMs` pass in
 * all, or, once `armQuiet` was called, `quietMs` pass without new bytes; then destroys it.
 */
function collect(socket: Socket, { quietMs, timeoutMs }: { quietMs: number; timeoutMs: number }) {
  const started = Date.now();
  const chunks: Buffer[] = [];
  let error: string | undefined;
  let armed = false;
  let quiet: NodeJS.Timeout | undefined;
  let finish: (closed: boolean) => void = () => undefined;
  const done = new Promise<RawExchange & { error: string | undefined }>((resolve) => {
    finish = (closed) => {
      clearTimeout(quiet);
      clearTimeout(overall);
      socket.removeAllListeners();
      socket.on('error', () => undefined);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      resolve({ text, statuses: statusesOf(text), closed, elapsedMs: Date.now() - started, error });
    };
  });
  const restartQuiet = () => {
    clearTimeout(quiet);
    quiet = setTimeout(() => finish(false), quietMs);
  };
  const overall = setTimeout(() => finish(false), timeoutMs);
  socket.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    if (armed) restartQuiet();
  });
  socket.once('close', () => finish(true));
  socket.on('error', (err: NodeJS.ErrnoException) => {
    error ??= err.code ?? err.message;
  });
  return {
    done,
    /** From now on `quietMs` without bytes ends the wait; counted from now, or from the next bytes. */
    armQuiet(startNow: boolean) {
      armed = true;
      if (startNow) restartQuiet();
    },
  };
}

/**
 * Sends `request` as it is and collects what comes back until the server closes the connection,
 * `quietMs` pass without new bytes after some arrived, or `timeoutMs` pass in all.
 */
export async function rawExchange(
  port: number,
  request: string | Buffer,
  { quietMs = 300, timeoutMs = 3_000 } = {},
): Promise<RawExchange> {
  const socket = await openSocket(port);
  const collecting = collect(socket, { quietMs, timeoutMs });
  collecting.armQuiet(false);
  socket.write(request);
  const { error: _error, ...exchange } = await collecting.done;
  return exchange;
}

export interface Trickle {
  socket: Socket;
  /** Everything received so far, as latin1 text. */
  received(): string;
  /** What came back, once the server has closed the connection (or `timeoutMs` has passed). */
  done: Promise<RawExchange>;
}

/**
 * A slow client: sends `head`, then `piece` every `everyMs` for as long as the connection stays
 * open, so only a server-side limit can end it.
 */
export async function trickle(
  port: number,
  head: string,
  piece: string,
  everyMs: number,
  { timeoutMs = 10_000 } = {},
): Promise<Trickle> {
  const socket = await openSocket(port);
  const collecting = collect(socket, { quietMs: timeoutMs, timeoutMs });
  let text = '';
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString('latin1');
  });
  socket.write(head);
  const timer = setInterval(() => {
    if (!socket.destroyed) socket.write(piece);
  }, everyMs);
  const done = collecting.done.then(({ error: _error, ...exchange }) => {
    clearInterval(timer);
    return exchange;
  });
  return { socket, received: () => text, done };
}

/** Resolves when `socket` closes, with the milliseconds waited; rejects after `timeoutMs`. */
export function closedWithin(socket: Socket, timeoutMs: number): Promise<number> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    if (socket.destroyed) {
      resolve(0);
      return;
    }
    const timer = setTimeout(() => reject(new Error(`socket still open after ${timeoutMs} ms`)), timeoutMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - started);
    });
  });
}

export interface RawUpload extends RawExchange {
  /** True when every byte of the body and of `followedBy` went out before the connection ended. */
  sentAll: boolean;
  /** The socket error, if the connection broke (ECONNRESET, EPIPE). */
  error: string | undefined;
}

/**
 * Sends `head` (a request head with `Content-Length: bodyBytes`), then a body of that many bytes
 * as fast as the connection takes it, then `followedBy` (a second request, say) on the same connection.
 * Collects what comes back until the server closes the connection, `quietMs` pass without new
 * bytes once everything was sent, or `timeoutMs` pass in all.
 */
export async function rawUpload(
  port: number,
  head: string,
  bodyBytes: number,
  { followedBy = '', quietMs = 300, timeoutMs = 10_000 } = {},
): Promise<RawUpload> {
  const socket = await openSocket(port);
  const collecting = collect(socket, { quietMs, timeoutMs });
  let sentAll = false;
  const piece = Buffer.alloc(64 * 1024, 'y');
  let left = bodyBytes;
  const pump = () => {
    while (left > 0) {
      const size = Math.min(piece.length, left);
      left -= size;
      if (!socket.write(piece.subarray(0, size))) {
        socket.once('drain', pump);
        return;
      }
    }
    socket.write(followedBy, (err) => {
      if (err) return;
      sentAll = true;
      collecting.armQuiet(true);
    });
  };
  socket.write(head);
  pump();
  return { ...(await collecting.done), sentAll };
}
