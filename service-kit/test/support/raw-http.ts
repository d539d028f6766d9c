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

const STATUS_LINE = /(?:^|\r\n)HTTP\/1\.[01] (\d{3})[^\r\n]*\r\n/g;

/** The status codes of the responses in a raw byte stream. */
export function statusesOf(text: string): number[] {
  return [...text.matchAll(STATUS_LINE)].map((match) => Number(match[1]));
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
 * Sends `request` as it is and collects what comes back until the server closes the connection,
 * `quietMs` pass without new bytes after some arrived, or `timeoutMs` pass in all.
 */
export async function rawExchange(
  port: number,
  request: string | Buffer,
  { quietMs = 300, timeoutMs = 3_000 } = {},
): Promise<RawExchange> {
  const socket = await openSocket(port);
  const started = Date.now();
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let quiet: NodeJS.Timeout | undefined;
    const finish = (closed: boolean) => {
      clearTimeout(quiet);
      clearTimeout(overall);
      socket.removeAllListeners();
      socket.on('error', () => undefined);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      resolve({ text, statuses: statusesOf(text), closed, elapsedMs: Date.now() - started });
    };
    const overall = setTimeout(() => finish(false), timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      clearTimeout(quiet);
      quiet = setTimeout(() => finish(false), quietMs);
    });
    socket.once('close', () => finish(true));
    socket.on('error', () => undefined);
    socket.write(request);
  });
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
