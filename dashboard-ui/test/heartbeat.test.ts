import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Heartbeat, type HeartbeatSocket, type HeartbeatState } from '../web/src/heartbeat.js';

type Listener = (event: { code: number }) => void;

/** A socket the test plays the server side of: it opens, refuses or drops when told to. */
class FakeSocket implements HeartbeatSocket {
  readyState = 0;
  readonly sent: string[] = [];
  closedWith: { code?: number; reason?: string } | undefined;
  readonly #listeners = { open: [] as Listener[], close: [] as Listener[] };

  constructor(readonly url: string) {}

  addEventListener(type: 'open' | 'close', listener: Listener): void {
    this.#listeners[type].push(listener);
  }

  send(data: string): void {
    if (this.readyState !== 1) throw new Error('send on a socket that is not open');
    this.sent.push(data);
  }

  close(code?: number, reason?: string): void {
    this.closedWith = { code, reason };
    this.readyState = 2;
  }

  /** The server accepted the connection. */
  accept(): void {
    this.readyState = 1;
    for (const listener of this.#listeners.open) listener({ code: 0 });
  }

  /** The connection ended (refused before opening, dropped after, or the close handshake finished). */
  end(code = 1006): void {
    this.readyState = 3;
    for (const listener of this.#listeners.close) listener({ code });
  }
}

describe('WebSocket heartbeat', () => {
  let sockets: FakeSocket[];
  let states: { state: HeartbeatState; detail?: string }[];
  let heartbeat: Heartbeat;
  const last = () => {
    const socket = sockets.at(-1);
    if (!socket) throw new Error('no socket was opened');
    return socket;
  };

  beforeEach(() => {
    vi.useFakeTimers();
    sockets = [];
    states = [];
    heartbeat = new Heartbeat({
      url: 'ws://dashboard.test/api/ws-heartbeat',
      connect: (url) => {
        const socket = new FakeSocket(url);
        sockets.push(socket);
        return socket;
      },
      onState: (state, detail) => states.push(detail === undefined ? { state } : { state, detail }),
    });
  });

  afterEach(() => {
    heartbeat.disable();
    vi.useRealTimers();
  });

  it('sends "hb" as soon as the socket opens and every 5 s after', () => {
    heartbeat.enable();
    expect(sockets).toHaveLength(1);
    expect(last().url).toBe('ws://dashboard.test/api/ws-heartbeat');
    expect(states.at(-1)?.state).toBe('connecting');
    expect(last().sent).toEqual([]);
    last().accept();
    expect(states.at(-1)?.state).toBe('connected');
    expect(last().sent).toEqual(['hb']);
    vi.advanceTimersByTime(4_999);
    expect(last().sent).toEqual(['hb']);
    vi.advanceTimersByTime(1);
    expect(last().sent).toEqual(['hb', 'hb']);
    vi.advanceTimersByTime(15_000);
    expect(last().sent).toEqual(['hb', 'hb', 'hb', 'hb', 'hb']);
    expect(sockets).toHaveLength(1);
  });

  it('reconnects 2 s after a connection that had opened is dropped, every time', () => {
    heartbeat.enable();
    for (let drop = 1; drop <= 3; drop++) {
      const socket = last();
      socket.accept();
      socket.end(1001);
      expect(states.at(-1)).toEqual({ state: 'waiting', detail: 'closed (code 1001); reconnecting in 2 s' });
      vi.advanceTimersByTime(1_999);
      expect(sockets).toHaveLength(drop);
      vi.advanceTimersByTime(1);
      expect(sockets).toHaveLength(drop + 1);
      // The dropped socket is never written to again.
      expect(socket.sent).toEqual(['hb']);
    }
    vi.advanceTimersByTime(20_000);
    expect(sockets.slice(0, 3).map((s) => s.sent.length)).toEqual([1, 1, 1]);
  });

  it('backs off 2, 4, 8, 16 s and then every 30 s while the server keeps refusing', () => {
    heartbeat.enable();
    for (const delay of [2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]) {
      const count = sockets.length;
      last().end();
      expect(states.at(-1)?.detail).toBe(`closed (code 1006); reconnecting in ${delay / 1000} s`);
      vi.advanceTimersByTime(delay - 1);
      expect(sockets, `before ${delay} ms`).toHaveLength(count);
      vi.advanceTimersByTime(1);
      expect(sockets, `at ${delay} ms`).toHaveLength(count + 1);
    }
    // One connection that opens resets the back-off: the next drop waits 2 s again.
    last().accept();
    last().end();
    const count = sockets.length;
    vi.advanceTimersByTime(2_000);
    expect(sockets).toHaveLength(count + 1);
  });

  it('leaves no timer and opens no socket once turned off while connected', () => {
    heartbeat.enable();
    const socket = last();
    socket.accept();
    vi.advanceTimersByTime(5_000);
    heartbeat.disable();
    expect(states.at(-1)).toEqual({ state: 'off' });
    expect(socket.closedWith).toEqual({ code: 1000, reason: 'heartbeat off' });
    expect(vi.getTimerCount()).toBe(0);
    // The close handshake finishes after the toggle: still nothing is rescheduled.
    socket.end(1000);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(120_000);
    expect(sockets).toHaveLength(1);
    expect(socket.sent).toEqual(['hb', 'hb']);
  });

  it('leaves no timer and opens no socket once turned off while waiting to reconnect', () => {
    heartbeat.enable();
    last().end();
    expect(vi.getTimerCount()).toBe(1);
    heartbeat.disable();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(120_000);
    expect(sockets).toHaveLength(1);
  });

  it('ignores a socket that opens after the heartbeat was turned off while connecting', () => {
    heartbeat.enable();
    const socket = last();
    heartbeat.disable();
    expect(socket.closedWith?.code).toBe(1000);
    // The server's accept was already on its way.
    socket.accept();
    expect(socket.sent).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
    socket.end(1000);
    vi.advanceTimersByTime(120_000);
    expect(sockets).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
    expect(states.at(-1)).toEqual({ state: 'off' });
  });

  it('starts afresh when turned on again', () => {
    heartbeat.enable();
    for (let i = 0; i < 3; i++) {
      last().end();
      vi.runOnlyPendingTimers();
    }
    heartbeat.disable();
    heartbeat.enable();
    expect(sockets).toHaveLength(5);
    last().end();
    vi.advanceTimersByTime(2_000);
    expect(sockets).toHaveLength(6);
  });
});
