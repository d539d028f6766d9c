import { readdirSync, readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  closedWithin,
  fakeUpstreamProcess,
  openSocket,
  pidAlive,
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
let gateway: RunningService;
let gatewayPid: number;

beforeAll(async () => {
  const echo = await fakeUpstreamProcess('api-gateway');
  gateway = await startService('api-gateway', {
    SERVER_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
    SERVER_TIMEOUT_CHECK_INTERVAL_MS: String(CHECK_MS),
  });
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

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/** Ten requests one after another; each must be answered 200. */
async function tenRequests(url: string): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < 10; i++) {
    const answer = await timed(url);
    expect(answer.status).toBe(200);
    times.push(answer.ms);
  }
  return times;
}

function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

function rssMiB(pid: number): number {
  const match = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return Math.round(Number(match?.[1]) / 102.4) / 10;
}

describe('slowloris: headers trickled a byte at a time', () => {
  for (const [name, target] of [
    ['load balancer', () => lb],
    ['api gateway', () => gateway],
  ] as const) {
    it(`the ${name} cuts them off at the header timeout while serving others`, async () => {
      const server = target();
      const pid = server.process.pid;
      const slow = await Promise.all(Array.from({ length: 20 }, () => slowloris(server.port)));
      // Others are served while the slow ones trickle: the first answer comes before any of them is
      // cut (the later ones may meet the cut on a busy machine; they must be answered all the same).
      for (let i = 0; i < 5; i++) {
        const answer = await timed(`${server.url}/api/health`);
        expect(answer.status).toBe(200);
        if (i === 0) expect(slow.filter(({ socket }) => socket.destroyed)).toHaveLength(0);
        await sleep(50);
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
      // The same process outlived them and still answers.
      expect(server.process.running).toBe(true);
      expect(server.process.pid).toBe(pid);
      expect(pidAlive(pid)).toBe(true);
      expect((await timed(`${server.url}/api/health`)).status).toBe(200);
    });
  }
});

describe('a thousand idle keep-alive connections', () => {
  it('do not slow others down, and the descriptors return to the baseline once they close', async () => {
    const pid = lb.process.pid;
    // The same requests without the idle connections, before and after, for comparison.
    const medianBefore = median(await tenRequests(`${lb.url}/`));
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

    const others = await tenRequests(`${lb.url}/`);
    const slowest = Math.max(...others);

    for (const socket of sockets) socket.destroy();
    const deadline = Date.now() + 5_000;
    let after = openFds(pid);
    // The baseline may differ by a pooled upstream connection opened or closed meanwhile.
    while (after > before.fds + 2 && Date.now() < deadline) {
      await sleep(100);
      after = openFds(pid);
    }
    expect(after).toBeLessThanOrEqual(before.fds + 2);
    const medianAfter = median(await tenRequests(`${lb.url}/`));
    const report = {
      fds: { before: before.fds, with_1000_idle: during.fds, after_close: after },
      rss_mib: { before: before.rss, with_1000_idle: during.rss, after_close: rssMiB(pid) },
      median_request_ms: {
        before: Math.round(medianBefore),
        with_1000_idle: Math.round(median(others)),
        after_close: Math.round(medianAfter),
      },
      slowest_other_request_ms: Math.round(slowest),
    };
    process.stdout.write(`load balancer with 1000 idle keep-alive connections: ${JSON.stringify(report)}\n`);
    // Served about as fast as without them: within twice the slower of the two baselines, plus
    // 100 ms for a busy machine. A server that held back or walked the idle connections on each
    // request would be slower by far more.
    expect(median(others)).toBeLessThan(2 * Math.max(medianBefore, medianAfter) + 100);
    expect(lb.process.running).toBe(true);
    // The gateway that had the slowloris clients of its own is the one started, still answering.
    expect(gateway.process.running).toBe(true);
    expect(gateway.process.pid).toBe(gatewayPid);
    expect(pidAlive(gatewayPid)).toBe(true);
    expect((await timed(`${gateway.url}/api/health`)).status).toBe(200);
  });
});
