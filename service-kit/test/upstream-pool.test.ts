import { startFakeUpstream } from '@titanium/test-support';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { UpstreamPool } from '../src/upstream-pool.js';

const log = pino({ level: 'silent' });
const open: { close(): Promise<unknown> }[] = [];
afterEach(async () => {
  for (const item of open.splice(0).reverse()) await item.close();
});

/** A real target whose `/health` and `/ready` answer the status the test sets. */
async function startTarget(port = 0) {
  const status = { health: 200, ready: 200 };
  const target = await startFakeUpstream('target', {
    port,
    handler: (req, res) => {
      res.statusCode = req.url === '/ready' ? status.ready : req.url === '/health' ? status.health : 200;
      res.end();
    },
  });
  open.push(target);
  return Object.assign(target, { status, paths: () => target.seen.map((seen) => seen.url) });
}

function pool(urls: string[], options: ConstructorParameters<typeof UpstreamPool>[2] = {}) {
  const created = new UpstreamPool('test', urls, { probeIntervalMs: 50, ...options }, log);
  open.push(created);
  return created;
}

const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
const timedOut = Object.assign(new Error('headers timeout'), { code: 'UND_ERR_HEADERS_TIMEOUT' });

describe('the upstream pool health model', () => {
  it('takes a target out after the threshold of connection failures and back once its /health answers', async () => {
    const target = await startTarget();
    target.status.health = 500;
    const upstream = pool([target.url], { failureThreshold: 2 });
    const [only] = upstream.targets;
    if (!only) throw new Error('no target');
    upstream.failed(only, refused);
    expect(only.state).toBe('up');
    expect(only.lastError).toBe('ECONNREFUSED');
    expect(upstream.pick()).toBe(only);
    const before = only.lastChange;
    upstream.failed(only, refused);
    expect(only.state).toBe('out');
    expect(only.lastChange).toBeGreaterThanOrEqual(before);
    expect(upstream.pick()).toBeUndefined();
    // Answers of 500 keep it out; the first answer below 500 brings it back.
    await expect.poll(() => target.paths().filter((url) => url === '/health').length).toBeGreaterThanOrEqual(2);
    expect(only.state).toBe('out');
    target.status.health = 200;
    await expect.poll(() => only.state).toBe('up');
    expect(only.lastError).toBeUndefined();
    expect(upstream.pick()).toBe(only);
  });

  it('marks a target that timed out as failing without taking it out, until it answers', async () => {
    const target = await startTarget();
    const upstream = pool([target.url], { failureThreshold: 1 });
    const [only] = upstream.targets;
    if (!only) throw new Error('no target');
    upstream.failed(only, timedOut);
    expect(only.state).toBe('up');
    expect(only.healthy).toBe(false);
    expect(only.lastError).toBe('no answer within the time limit (UND_ERR_HEADERS_TIMEOUT)');
    await expect.poll(() => only.healthy).toBe(true);
    expect(target.paths()).toContain('/health');
  });

  it('sends new requests to a draining target only when no ready one is left', async () => {
    const [a, b] = await Promise.all([startTarget(), startTarget()]);
    if (!a || !b) throw new Error('no targets');
    a.status.ready = 503;
    const upstream = pool([a.url, b.url], { readinessIntervalMs: 50 });
    const [first, second] = upstream.targets;
    await expect.poll(() => first?.state).toBe('draining');
    for (let i = 0; i < 4; i++) expect(upstream.pick()).toBe(second);
    if (!second) throw new Error('no second target');
    upstream.failed(second, refused);
    upstream.failed(second, refused);
    expect(second.state).toBe('out');
    expect(upstream.pick()).toBe(first);
    a.status.ready = 200;
    await expect.poll(() => first?.state).toBe('up');
  });

  it('balances by requests in flight and skips the target it is told to', async () => {
    const [a, b] = await Promise.all([startTarget(), startTarget()]);
    if (!a || !b) throw new Error('no targets');
    const upstream = pool([a.url, b.url]);
    const [first, second] = upstream.targets;
    if (!first || !second) throw new Error('no targets');
    upstream.begin(first);
    expect([upstream.pick(), upstream.pick()]).toEqual([second, second]);
    expect(upstream.pick(second)).toBe(first);
    upstream.release(first);
    expect(first.inFlight).toBe(0);
  });

  it('counts a target that does not answer its readiness check as failing', async () => {
    const target = await startTarget();
    const port = target.port;
    await target.close();
    open.splice(open.indexOf(target), 1);
    const upstream = pool([`http://127.0.0.1:${port}`], { readinessIntervalMs: 50, failureThreshold: 2 });
    const [gone] = upstream.targets;
    await expect.poll(() => gone?.state).toBe('out');
    expect(gone?.lastError).toBe('ECONNREFUSED');
    const back = await startTarget(port);
    await expect.poll(() => gone?.state).toBe('up');
    expect(back.paths()).toContain('/health');
  });
});
