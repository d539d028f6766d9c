import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { Poller } from '../web/src/poller.js';

interface Answer {
  n: number;
}

// A real HTTP server stands in for /stats; it can answer slowly or with an error, and counts
// how many requests it holds at once.
describe('/stats poller', () => {
  let server: Server;
  let url: string;
  let delayMs: number;
  let status: number;
  let received: number;
  let inFlight: number;
  let maxInFlight: number;
  let results: { n?: number; error?: string }[];
  let poller: Poller<Answer> | undefined;

  beforeAll(async () => {
    server = createServer((req, res) => {
      const n = ++received;
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      res.on('close', () => inFlight--);
      const timer = setTimeout(() => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ n }));
      }, delayMs);
      req.socket.on('close', () => clearTimeout(timer));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/stats`;
  });

  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  beforeEach(() => {
    delayMs = 0;
    status = 200;
    received = 0;
    inFlight = 0;
    maxInFlight = 0;
    results = [];
  });

  afterEach(async () => {
    poller?.stop();
    // A request still out belongs to the test that sent it: let it end before the next test.
    await vi.waitFor(() => expect(inFlight).toBe(0), { timeout: 5_000 });
  });

  function makePoller(intervalMs: number, timeoutMs: number): Poller<Answer> {
    const sink = results;
    poller = new Poller<Answer>({
      url,
      intervalMs,
      timeoutMs,
      onResult: (answer, error) => sink.push(error ? { error: error.message } : { n: answer?.n }),
    });
    return poller;
  }

  it('never has more than one request in flight, also when asked to poll during one', async () => {
    delayMs = 300;
    const p = makePoller(20, 5_000);
    p.start();
    await vi.waitFor(() => expect(inFlight).toBe(1));
    // Refresh clicks while the first request is still out: none of them sends another.
    await Promise.all([p.pollNow(), p.pollNow(), p.pollNow()]);
    expect(received).toBe(1);
    expect(results).toEqual([]);
    await vi.waitFor(() => expect(results.length).toBeGreaterThanOrEqual(3), { timeout: 5_000 });
    for (let i = 0; i < 5; i++) {
      await sleep(40);
      await p.pollNow();
    }
    await vi.waitFor(() => expect(results.length).toBeGreaterThanOrEqual(6), { timeout: 5_000 });
    expect(maxInFlight).toBe(1);
    expect(results.every((r) => r.error === undefined)).toBe(true);
    // Every answer is reported once, in order.
    expect(results.map((r) => r.n)).toEqual(results.map((_, i) => i + 1));
  });

  it('reports a request slower than the timeout as a failure, keeps polling and recovers', async () => {
    // Counted where the poller sends them: the server may learn of an abandoned request only after
    // the next one has reached it, when this process is busy, so it cannot tell overlap from lag.
    const realFetch = globalThis.fetch;
    let sending = 0;
    let maxSending = 0;
    globalThis.fetch = (async (...args: Parameters<typeof fetch>) => {
      maxSending = Math.max(maxSending, ++sending);
      try {
        return await realFetch(...args);
      } finally {
        sending--;
      }
    }) as typeof fetch;
    try {
      delayMs = 2_000;
      const p = makePoller(50, 200);
      p.start();
      await vi.waitFor(() => expect(results.length).toBeGreaterThanOrEqual(2), { timeout: 5_000 });
      expect(results.slice(0, 2)).toEqual([{ error: 'no answer within 200 ms' }, { error: 'no answer within 200 ms' }]);
      delayMs = 0;
      await vi.waitFor(() => expect(results.at(-1)?.n).toBeDefined(), { timeout: 5_000 });
      expect(received).toBeGreaterThanOrEqual(3);
      expect(maxSending).toBe(1);
    } finally {
      globalThis.fetch = realFetch;
    }
  });

  it('reports an error answer as a failure and recovers when the answers are good again', async () => {
    status = 503;
    const p = makePoller(50, 1_000);
    p.start();
    await vi.waitFor(() => expect(results.length).toBeGreaterThanOrEqual(2), { timeout: 5_000 });
    expect(results.slice(0, 2)).toEqual([{ error: 'HTTP 503' }, { error: 'HTTP 503' }]);
    status = 200;
    await vi.waitFor(() => expect(results.at(-1)?.n).toBeDefined(), { timeout: 5_000 });
  });

  it('stops rescheduling after stop(), also when stopped during a request', async () => {
    const p = makePoller(50, 1_000);
    p.start();
    await vi.waitFor(() => expect(results.length).toBeGreaterThanOrEqual(2), { timeout: 5_000 });
    p.stop();
    expect(p.running).toBe(false);
    // A request already out when it stopped still finishes; nothing follows it.
    await sleep(200);
    const count = received;
    expect(results).toHaveLength(count);
    await sleep(300);
    expect(received).toBe(count);

    delayMs = 200;
    p.start();
    await vi.waitFor(() => expect(inFlight).toBe(1));
    p.stop();
    await vi.waitFor(() => expect(results.length).toBe(count + 1), { timeout: 5_000 });
    await sleep(300);
    expect(received).toBe(count + 1);
    // A manual poll while stopped fetches once and schedules nothing.
    await p.pollNow();
    expect(received).toBe(count + 2);
    await sleep(300);
    expect(received).toBe(count + 2);
    expect(p.running).toBe(false);
  });
});
