import { Agent, request as httpRequest } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { ServiceBlock } from '@titanium/service-kit';
import { freePort, isListening, type ManagedProcess, startProcess, stopAllProcesses } from '@titanium/test-support';
import { afterEach, describe, expect, it } from 'vitest';

const FIXTURE = fileURLToPath(new URL('./fixtures/kit-service.mjs', import.meta.url));

async function startKitService(
  env: Record<string, string> = {},
): Promise<{ proc: ManagedProcess; base: string; port: number }> {
  const port = await freePort();
  const proc = startProcess('kit-service', process.execPath, [FIXTURE], {
    HOST: '127.0.0.1',
    PORT: String(port),
    ...env,
  });
  await proc.waitForLine(/Server listening at http:\/\/127\.0\.0\.1/);
  return { proc, base: `http://127.0.0.1:${port}`, port };
}

/** A GET on a kept-alive connection, resolving with status and body. */
function get(url: string, agent?: Agent): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

interface KitStats {
  kit_service: ServiceBlock;
}

async function statsOf(base: string): Promise<ServiceBlock> {
  return ((await (await fetch(`${base}/stats`)).json()) as KitStats).kit_service;
}

/** Resolves once the service counts `n` requests in flight: they have reached its handlers. */
async function untilInFlight(base: string, n: number): Promise<void> {
  await expect.poll(async () => (await statsOf(base)).requests_in_flight, { timeout: 10_000 }).toBe(n);
}

afterEach(stopAllProcesses);

describe('configuration', () => {
  it('stops with exit 78 and one line per bad variable, naming it and what is expected', async () => {
    const proc = startProcess('kit-service', process.execPath, [FIXTURE], {
      PORT: '70000',
      SHUTDOWN_TIMEOUT_MS: 'soon',
      LOG_LEVEL: 'info',
    });
    const exit = await proc.exited;
    expect(exit.code).toBe(78);
    expect(proc.lines).toEqual([
      'kit-service: invalid configuration: PORT must be a TCP port (an integer from 0 to 65535); got "70000"',
      'kit-service: invalid configuration: SHUTDOWN_TIMEOUT_MS must be a duration from 100 to 600000 ms (like 2000, 2s or 500ms); got "soon"',
    ]);
  });
});

describe('request ids', () => {
  it('returns the caller’s X-Request-Id and logs it', async () => {
    const { proc, base } = await startKitService({ LOG_LEVEL: 'debug' });
    const res = await fetch(`${base}/whoami`, { headers: { 'x-request-id': 'trace-42' } });
    expect(res.headers.get('x-request-id')).toBe('trace-42');
    expect(await res.json()).toEqual({ requestId: 'trace-42' });
    const line = await proc.waitForLine(/"request_id":"trace-42".*request completed/);
    expect(JSON.parse(line.input ?? '{}')).toMatchObject({ service: 'kit-service', statusCode: 200, url: '/whoami' });
  });

  it('makes a new id when none or a malformed one is sent', async () => {
    const { base } = await startKitService();
    const plain = await fetch(`${base}/whoami`);
    const hostile = await fetch(`${base}/whoami`, { headers: { 'x-request-id': 'a b\tc'.repeat(40) } });
    for (const res of [plain, hostile]) {
      const id = res.headers.get('x-request-id');
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(await res.json()).toEqual({ requestId: id });
    }
    expect(plain.headers.get('x-request-id')).not.toBe(hostile.headers.get('x-request-id'));
  });

  it('passes the id on to upstream calls', async () => {
    const upstream = await startKitService({ LOG_LEVEL: 'debug' });
    const { base } = await startKitService({ UPSTREAM_URL: upstream.base });
    const res = await fetch(`${base}/via-upstream`, { headers: { 'x-request-id': 'chain-7' } });
    expect(await res.json()).toEqual({ mine: 'chain-7', upstream: { requestId: 'chain-7' } });
    await upstream.proc.waitForLine(/"request_id":"chain-7".*"url":"\/whoami"/);
  });
});

describe('probes and telemetry', () => {
  it('answers /ready 503 while start-up work runs, then 200', async () => {
    const { proc, base } = await startKitService({ START_DELAY_MS: '1500' });
    const early = await fetch(`${base}/ready`);
    expect(early.status).toBe(503);
    expect(await early.json()).toEqual({ status: 'starting' });
    expect((await fetch(`${base}/health`)).status).toBe(200);
    await proc.waitForLine(/kit-service ready/);
    const late = await fetch(`${base}/ready`);
    expect(late.status).toBe(200);
  });

  it('exposes a request-duration histogram by route, method and status on /metrics', async () => {
    const { base } = await startKitService();
    await fetch(`${base}/whoami`);
    await fetch(`${base}/missing`);
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toContain('# TYPE http_request_duration_seconds histogram');
    expect(text).toMatch(
      /http_request_duration_seconds_count\{[^}]*route="\/whoami",method="GET",status_code="200"\} 1/,
    );
    expect(text).toMatch(
      /http_request_duration_seconds_count\{[^}]*route="unmatched",method="GET",status_code="404"\} 1/,
    );
    expect(text).toContain('process_resident_memory_bytes');
  });

  it('counts its own traffic in /stats, not probes or telemetry', async () => {
    const { base } = await startKitService();
    for (let i = 0; i < 3; i++) await fetch(`${base}/whoami`);
    await fetch(`${base}/missing`);
    await fetch(`${base}/health`);
    await fetch(`${base}/metrics`);
    const body = (await (await fetch(`${base}/stats`)).json()) as KitStats;
    expect(body).toEqual({
      kit_service: expect.objectContaining({
        service_status: 'online',
        requests_total: 4,
        requests_in_flight: 0,
        responses: { '1xx': 0, '2xx': 3, '3xx': 0, '4xx': 1, '5xx': 0, aborted: 0 },
      }),
    });
    expect(body.kit_service.avg_response_time_ms).toBeGreaterThan(0);
  });

  it('counts a request the client abandoned as aborted', async () => {
    const { base } = await startKitService();
    const abandon = new AbortController();
    const slow = fetch(`${base}/slow?ms=5000`, { signal: abandon.signal }).catch(() => undefined);
    await untilInFlight(base, 1);
    abandon.abort();
    await slow;
    // Counted when the connection closes, not when the handler would have finished.
    await untilInFlight(base, 0);
    const block = await statsOf(base);
    expect(block).toMatchObject({ requests_total: 1, requests_in_flight: 0 });
    expect(block.responses.aborted).toBe(1);
  });
});

describe('graceful shutdown', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)(
    'on %s turns /ready to 503 while draining, keeps serving, then stops listening and exits 0',
    async (signal) => {
      const { proc, base, port } = await startKitService({ DRAIN_DELAY_MS: '1500' });
      await proc.waitForLine(/kit-service ready/);
      proc.signal(signal);
      await proc.waitForLine(/shutting down/);
      const ready = await fetch(`${base}/ready`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toEqual({ status: 'draining' });
      expect((await fetch(`${base}/health`)).status).toBe(200);
      expect((await fetch(`${base}/whoami`)).status).toBe(200);
      const exit = await proc.exited;
      expect(exit).toEqual({ code: 0, signal: null });
      expect(await isListening(port)).toBe(false);
      expect(proc.output()).toContain('resources closed');
    },
  );

  it('lets an in-flight request finish before exiting, on a kept-alive connection', async () => {
    const { proc, base } = await startKitService();
    await proc.waitForLine(/kit-service ready/);
    const agent = new Agent({ keepAlive: true });
    const slow = get(`${base}/slow?ms=1500`, agent);
    await untilInFlight(base, 1);
    const sentAt = Date.now();
    proc.signal('SIGTERM');
    const res = await slow;
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ done: true });
    const exit = await proc.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(Date.now() - sentAt).toBeLessThan(3_000);
    agent.destroy();
  });

  it('gives up on a request that outlasts the shutdown timeout and exits non-zero', async () => {
    const { proc, base } = await startKitService({ SHUTDOWN_TIMEOUT_MS: '500' });
    await proc.waitForLine(/kit-service ready/);
    const slow = get(`${base}/slow?ms=10000`).catch((err: Error) => err);
    await untilInFlight(base, 1);
    const sentAt = Date.now();
    proc.signal('SIGTERM');
    const exit = await proc.exited;
    expect(Date.now() - sentAt).toBeLessThan(2_500);
    expect(exit.code).toBe(1);
    expect(await slow).toBeInstanceOf(Error);
    expect(proc.output()).toContain('killed by timeout');
  });

  it('closes idle keep-alive connections at shutdown instead of waiting for them', async () => {
    const { proc, base } = await startKitService();
    await proc.waitForLine(/kit-service ready/);
    const agent = new Agent({ keepAlive: true });
    await get(`${base}/whoami`, agent);
    const sentAt = Date.now();
    proc.signal('SIGTERM');
    await proc.exited;
    expect(Date.now() - sentAt).toBeLessThan(1_500);
    agent.destroy();
  });
});
