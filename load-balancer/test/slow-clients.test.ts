import { readdirSync, readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  closedWithin,
  fakeUpstreamProcess,
  openSocket,
  type RunningService,
  startService,
  stopAllProcesses,
  trickle,
} from '@titanium/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Clients that are slow on purpose: headers trickled a byte at a time (slowloris) and a thousand
// idle keep-alive connections. The header limit is set low here so the test stays short.

const HEADERS_TIMEOUT_MS = 1_000;
// The limit is checked every CHECK_MS, so a cut comes between the limit and limit + CHECK_MS, plus
// scheduling noise on a busy machine.
const CHECK_MS = 250;
const CUT_BY_MS = HEADERS_TIMEOUT_MS + 2_000;

let lb: RunningService;
let gatewayPort: number;
let gatewayPid: number;

beforeAll(async () => {
  const echo = await fakeUpstreamProcess('api-gateway');
  const gateway = await startService('api-gateway', {
    SERVER_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
    SERVER_TIMEOUT_CHECK_INTERVAL_MS: String(CHECK_MS),
  });
  gatewayPort = gateway.port;
  gatewayPid = gateway.process.pid;
  lb = await startService('load-balancer', {
    API_GATEWAY_URL: gateway.url,
    DASHBOARD_UI_URL: echo.url,
    BLOG_SERVICE_URL: echo.url,
    LB_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
    LB_REQUEST_TIMEOUT_MS: '5000',
    LB_CONNECTIONS_CHECK_INTERVAL_MS: String(CHECK_MS),
  });
});

afterAll(async () => {
  await stopAllProcesses();
});

/** Sends a request line, then one header byte every `everyMs`, until the server closes the socket. */
async function slowloris(port: number, everyMs = 100) {
  const openedAt = Date.now();
  const slow = await trickle(port, 'GET /api/health HTTP/1.1\r\nHost: x\r\nX-Slow: ', 'a', everyMs, {
    timeoutMs: CUT_BY_MS + 4_000,
  });
  return { ...slow, openedAt };
}

async function timed(url: string): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  await res.arrayBuffer();
  return { status: res.status, ms: performance.now() - started };
}

function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

function rssMiB(pid: number): number {
  const match = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return Math.round(Number(match?.[1]) / 102.4) / 10;
}

describe('slowloris: headers trickled a byte at a time', () => {
  for (const [name, port] of [
    ['load balancer', () => lb.port],
    ['api gateway', () => gatewayPort],
  ] as const) {
    it(`the ${name} cuts them off at the header timeout while serving others`, async () => {
      const slow = await Promise.all(Array.from({ length: 20 }, () => slowloris(port())));
      const base = `http://127.0.0.1:${port()}`;
      // Others are served at once while the slow ones trickle.
      for (let i = 0; i < 5; i++) {
        const answer = await timed(`${base}/api/health`);
        expect(answer.status).toBe(200);
        expect(answer.ms).toBeLessThan(1_000);
        await sleep(100);
      }
      const waited = await Promise.all(
        slow.map(async ({ socket, openedAt }) => {
          await closedWithin(socket, CUT_BY_MS + 2_000);
          return Date.now() - openedAt;
        }),
      );
      for (const ms of waited) {
        // The trickle keeps going the whole time, so only the limit can have closed it.
        expect(ms).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 50);
        expect(ms).toBeLessThanOrEqual(CUT_BY_MS);
      }
      const answers = new Set(slow.map(({ received }) => received().split('\r\n')[0] || 'closed'));
      process.stdout.write(
        `${name} slowloris cut after ${Math.min(...waited)}-${Math.max(...waited)} ms (limit ${HEADERS_TIMEOUT_MS} ms): ${[...answers].join(', ')}\n`,
      );
      for (const { received } of slow) {
        const text = received();
        // Either a 408 or a plain close; never a request answered as if complete.
        if (text !== '') expect(text).toMatch(/^HTTP\/1\.1 408 /);
      }
    });
  }
});

describe('a thousand idle keep-alive connections', () => {
  it('do not slow others down, and the descriptors return to the baseline once they close', async () => {
    const pid = lb.process.pid;
    expect((await timed(`${lb.url}/`)).status).toBe(200);
    await sleep(200);
    const before = { fds: openFds(pid), rss: rssMiB(pid) };

    // Each one makes a request as soon as it is connected, then sits idle on its kept-alive connection.
    const connectAndAsk = async (): Promise<Socket> => {
      const socket = await openSocket(lb.port);
      const head = await new Promise<string>((resolve, reject) => {
        socket.once('error', reject);
        socket.once('data', (chunk: Buffer) => resolve(chunk.toString('latin1')));
        socket.write('GET /lb-health HTTP/1.1\r\nHost: x\r\n\r\n');
      });
      expect(head).toMatch(/^HTTP\/1\.1 200 /);
      return socket;
    };
    const sockets: Socket[] = [];
    for (let batch = 0; batch < 10; batch++) {
      sockets.push(...(await Promise.all(Array.from({ length: 100 }, connectAndAsk))));
    }
    // Idle for longer than the header limit: an idle kept-alive connection is not a slow request.
    await sleep(HEADERS_TIMEOUT_MS + 2 * CHECK_MS);
    expect(sockets.filter((socket) => socket.destroyed)).toHaveLength(0);
    const during = { fds: openFds(pid), rss: rssMiB(pid) };
    // One descriptor per client connection (give or take a pooled upstream connection).
    expect(during.fds).toBeGreaterThanOrEqual(before.fds + 990);

    const others = [];
    for (let i = 0; i < 10; i++) others.push(await timed(`${lb.url}/`));
    for (const answer of others) expect(answer.status).toBe(200);
    const slowest = Math.max(...others.map((answer) => answer.ms));
    expect(slowest).toBeLessThan(1_000);

    for (const socket of sockets) socket.destroy();
    const deadline = Date.now() + 5_000;
    let after = openFds(pid);
    // The baseline may differ by a pooled upstream connection opened or closed meanwhile.
    while (after > before.fds + 2 && Date.now() < deadline) {
      await sleep(100);
      after = openFds(pid);
    }
    expect(after).toBeLessThanOrEqual(before.fds + 2);
    const report = {
      fds: { before: before.fds, with_1000_idle: during.fds, after_close: after },
      rss_mib: { before: before.rss, with_1000_idle: during.rss, after_close: rssMiB(pid) },
      slowest_other_request_ms: Math.round(slowest),
    };
    process.stdout.write(`load balancer with 1000 idle keep-alive connections: ${JSON.stringify(report)}\n`);
    expect(lb.process.running).toBe(true);
    expect(gatewayPid).toBeGreaterThan(0);
  });
});
