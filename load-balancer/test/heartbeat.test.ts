import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { getStats, type RunningLb, startLb } from './helpers.js';

let lb: RunningLb | undefined;
const sockets: WebSocket[] = [];
afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate();
  await lb?.app.close();
  lb = undefined;
});

async function connect(port: number, options: WebSocket.ClientOptions = {}): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/api/ws-heartbeat`, options);
  sockets.push(ws);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return ws;
}

function closed(ws: WebSocket): Promise<number> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve(-1);
  return new Promise((resolve) => ws.once('close', (code) => resolve(code)));
}

describe('WebSocket heartbeat', () => {
  it('pings its peers and keeps the ones that answer', async () => {
    lb = await startLb({ LB_WS_PING_INTERVAL_MS: '100' });
    const ws = await connect(lb.port);
    let pings = 0;
    ws.on('ping', () => pings++);
    await expect.poll(() => pings, { timeout: 3_000 }).toBeGreaterThanOrEqual(4);
    expect(ws.readyState).toBe(WebSocket.OPEN);
    expect((await getStats(lb.url))['load-balancer'].ws_active_connections).toBe(1);
  });

  it('terminates a peer that misses two pongs and stops counting it', async () => {
    const PING_MS = 200;
    lb = await startLb({ LB_WS_PING_INTERVAL_MS: String(PING_MS) });
    const silent = await connect(lb.port, { autoPong: false });
    const pings: number[] = [];
    silent.on('ping', () => pings.push(performance.now()));
    const code = closed(silent);
    const lively = await connect(lb.port);
    expect((await getStats(lb.url))['load-balancer'].ws_active_connections).toBe(2);
    // Terminated (no close frame: 1006) on the tick after the second unanswered ping, two intervals
    // after the first (give or take half an interval of scheduling on a busy machine).
    expect(await code).toBe(1006);
    expect(pings).toHaveLength(2);
    expect(performance.now() - (pings[0] as number)).toBeGreaterThan(1.5 * PING_MS);
    expect(lively.readyState).toBe(WebSocket.OPEN);
    await expect
      .poll(async () => (await getStats(lb?.url ?? ''))['load-balancer'].ws_active_connections, { timeout: 3_000 })
      .toBe(1);
  });

  it('refuses connections beyond the configured cap', async () => {
    lb = await startLb({ LB_WS_MAX_CONNECTIONS: '2' });
    await connect(lb.port);
    await connect(lb.port);
    await expect(connect(lb.port)).rejects.toThrow(/503/);
    expect((await getStats(lb.url))['load-balancer'].ws_active_connections).toBe(2);
  });

  it('closes a connection that sends a message over 1 KiB, with code 1009', async () => {
    lb = await startLb({});
    const ws = await connect(lb.port);
    ws.send('x'.repeat(1024));
    ws.send('y'.repeat(1025));
    expect(await closed(ws)).toBe(1009);
    await expect
      .poll(async () => (await getStats(lb?.url ?? ''))['load-balancer'].ws_active_connections, { timeout: 3_000 })
      .toBe(0);
  });

  it('answers a plain GET of the heartbeat path with 426 and does not count it', async () => {
    lb = await startLb({});
    const res = await fetch(`${lb.url}/api/ws-heartbeat`);
    expect(res.status).toBe(426);
    expect((await getStats(lb.url))['load-balancer'].total_requests).toBe(0);
  });
});
