import { retryDelay } from './backoff.js';

export type HeartbeatState = 'off' | 'connecting' | 'connected' | 'waiting';

/** The part of a browser WebSocket the heartbeat uses; tests hand in their own. */
export interface HeartbeatSocket {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open', listener: () => void): void;
  addEventListener(type: 'close', listener: (event: { code: number }) => void): void;
}

/** `WebSocket.OPEN`, spelled out so this module does not need the DOM's WebSocket. */
const OPEN = 1;

export interface HeartbeatOptions {
  url: string;
  /** Opens a socket, e.g. `(url) => new WebSocket(url)`. */
  connect: (url: string) => HeartbeatSocket;
  /** How often "hb" is sent while connected. */
  sendEveryMs?: number;
  /** First reconnect delay; doubled after each connection that failed to open, up to maxDelayMs. */
  reconnectMs?: number;
  maxDelayMs?: number;
  onState: (state: HeartbeatState, detail?: string) => void;
}

/**
 * Keeps a WebSocket to the load balancer's heartbeat endpoint open and sends "hb" every 5 s, so
 * the dashboard counts as activity. Reconnects 2 s after a drop, backing off while the server
 * keeps refusing; `disable()` closes it and stops every timer.
 */
export class Heartbeat {
  readonly #options: Required<HeartbeatOptions>;
  #socket: HeartbeatSocket | undefined;
  #sendTimer: ReturnType<typeof setInterval> | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #failures = 0;
  #enabled = false;

  constructor(options: HeartbeatOptions) {
    this.#options = { sendEveryMs: 5000, reconnectMs: 2000, maxDelayMs: 30_000, ...options };
  }

  get enabled(): boolean {
    return this.#enabled;
  }

  enable(): void {
    if (this.#enabled) return;
    this.#enabled = true;
    this.#failures = 0;
    this.#connect();
  }

  disable(): void {
    this.#enabled = false;
    clearTimeout(this.#retryTimer);
    clearInterval(this.#sendTimer);
    this.#retryTimer = undefined;
    this.#sendTimer = undefined;
    const socket = this.#socket;
    this.#socket = undefined;
    socket?.close(1000, 'heartbeat off');
    this.#options.onState('off');
  }

  #connect(): void {
    this.#options.onState('connecting');
    let opened = false;
    const socket = this.#options.connect(this.#options.url);
    this.#socket = socket;
    socket.addEventListener('open', () => {
      if (socket !== this.#socket) return;
      opened = true;
      this.#failures = 0;
      this.#options.onState('connected');
      socket.send('hb');
      this.#sendTimer = setInterval(() => {
        if (socket.readyState === OPEN) socket.send('hb');
      }, this.#options.sendEveryMs);
    });
    socket.addEventListener('close', (event: { code: number }) => {
      if (socket !== this.#socket) return;
      clearInterval(this.#sendTimer);
      this.#sendTimer = undefined;
      this.#socket = undefined;
      if (!this.#enabled) return;
      if (!opened) this.#failures++;
      const delay = retryDelay(this.#failures, this.#options.reconnectMs, this.#options.maxDelayMs);
      this.#options.onState('waiting', `closed (code ${event.code}); reconnecting in ${delay / 1000} s`);
      this.#retryTimer = setTimeout(() => {
        this.#retryTimer = undefined;
        if (this.#enabled) this.#connect();
      }, delay);
    });
  }
}
