import type { IncomingMessage } from 'node:http';
import { finished } from 'node:stream';

/** How long a client may go on sending the body of a request that was already answered. */
export const LINGER_MS = 5_000;

/**
 * Reads and throws away what is left of a request body once the answer has gone out (a 413, a
 * 502, any answer given before the body was read), and cuts the client off only if it is still
 * sending after `lingerMs`.
 *
 * Closing a socket with unread input makes the kernel send a reset, and a reset can make the
 * client lose the answer it has not read yet: it sees a broken connection instead of "too large".
 * Reading the rest keeps the connection usable, as after any other answer.
 */
export function discardUnreadBody(req: IncomingMessage, lingerMs = LINGER_MS): void {
  if (req.complete || req.destroyed) return;
  const socket = req.socket;
  const timer = setTimeout(() => socket.destroy(), lingerMs);
  timer.unref();
  finished(req, () => clearTimeout(timer));
  req.unpipe();
  req.resume();
}
