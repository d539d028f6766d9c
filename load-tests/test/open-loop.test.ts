import { type FakeUpstream, startFakeUpstream } from '@titanium/test-support';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiClient } from '../src/api-client.js';
import { LatencyRecord } from '../src/latency-record.js';
import { openLoop } from '../src/open-loop.js';
import { parseDuration, parseOptions } from '../src/options.js';

describe('open-loop scheduling', () => {
  const servers: FakeUpstream[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });

  async function slowServer(delayMs: number): Promise<string> {
    const server = await startFakeUpstream('slow', {
      handler: (_req, res) => setTimeout(() => res.end('{}'), delayMs),
    });
    servers.push(server);
    return server.url;
  }

  it('keeps the scheduled rate when the server is slow, and shows the slowness as latency', async () => {
    const base = await slowServer(400);
    const client = new ApiClient(base);
    const record = new LatencyRecord('slow', 50);
    const startedAt = performance.now();
    const result = await openLoop({
      rate: 50,
      durationMs: 1_000,
      fire: async (_i, scheduledAt) => {
        const res = await client.call('GET', '/');
        record.record(res.status, performance.now() - scheduledAt);
      },
    });
    const sendWindow = performance.now() - startedAt;
    await client.close();
    // A closed loop with one connection would have sent 2 or 3; an open loop sends all 50.
    expect(result.scheduled).toBe(50);
    expect(record.summary(sendWindow)).toMatchObject({ sent: 50, ok: 50, failed: 0 });
    expect(record.summary(sendWindow).p50_ms).toBeGreaterThanOrEqual(400);
  });

  it('records refused connections as failures by their code', async () => {
    const base = await slowServer(0);
    servers[0]?.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const client = new ApiClient(base);
    const record = new LatencyRecord('down', 20);
    await openLoop({
      rate: 20,
      durationMs: 250,
      fire: async (_i, at) => record.record((await client.call('GET', '/')).status, performance.now() - at),
    });
    await client.close();
    expect(record.summary(250)).toMatchObject({ sent: 5, ok: 0, failed: 5, failures: { ECONNREFUSED: 5 } });
  });
});

describe('options', () => {
  it('reads durations the way the seed writes them', () => {
    expect(parseDuration('60s')).toBe(60_000);
    expect(parseDuration('2m')).toBe(120_000);
    expect(parseDuration('45')).toBe(45_000);
    expect(() => parseDuration('soon')).toThrow(/--duration/);
  });

  it('uses the seed defaults for each script', () => {
    expect(parseOptions([], false).rates).toEqual({ list: 64, detail: 12, create: 4, update: 0, delete: 0 });
    expect(parseOptions([], true).rates).toEqual({ list: 40, detail: 15, create: 8, update: 4, delete: 3 });
    expect(parseOptions(['--url', 'http://127.0.0.1:30700/'], false).url).toBe('http://127.0.0.1:30700');
  });

  it('refuses options that do not belong to the basic script or bad values', () => {
    expect(() => parseOptions(['--rate-delete', '3'], false)).toThrow(/mixed_load_plus/);
    expect(() => parseOptions(['--rate-list', '-1'], false)).toThrow(/--rate-list/);
    expect(() => parseOptions(['--url', 'nope'], false)).toThrow(/--url/);
  });
});
