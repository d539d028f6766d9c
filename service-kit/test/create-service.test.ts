import { once } from 'node:events';
import { connect } from 'node:net';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { loadConfig, readKitConfig } from '../src/config.js';
import { createService, type ServiceOptions } from '../src/create-service.js';
import { errors } from '../src/errors.js';
import type { FinishedResponse } from '../src/service-parts.js';

const config = loadConfig((env) => readKitConfig(env, 'svc', 'SVC_PORT', 0), { LOG_LEVEL: 'silent' });

function bare(options: Partial<ServiceOptions> = {}) {
  return createService({ config, statsKey: 'svc', ...options });
}

function service(logLines: string[] = []) {
  const logStream = new PassThrough();
  logStream.on('data', (chunk: Buffer) => logLines.push(...chunk.toString().trim().split('\n')));
  const config = loadConfig((env) => readKitConfig(env, 'svc', 'SVC_PORT', 0), { LOG_LEVEL: 'info' });
  const app = createService({ config, statsKey: 'svc', logStream });
  app.get('/ok', async () => ({ ok: true }));
  app.get('/disk-full', async () => {
    throw new errors.NotReady('the disk is full');
  });
  app.get('/bug', async () => {
    throw new TypeError("Cannot read properties of undefined (reading 'secret')");
  });
  return app;
}

describe('createService', () => {
  it('counts in-process requests by status like real ones', async () => {
    const app = service();
    await app.inject('/ok');
    await app.inject('/missing');
    const stats = (await app.inject('/stats')).json();
    expect(stats.svc.responses).toMatchObject({ '2xx': 1, '4xx': 1, aborted: 0 });
    await app.close();
  });

  it('shows the message of its own 5xx errors and logs them in one line without a stack', async () => {
    const lines: string[] = [];
    const app = service(lines);
    const res = await app.inject('/disk-full');
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({
      statusCode: 503,
      error: 'Service Unavailable',
      message: 'Service is not ready: the disk is full',
    });
    const logged = lines.map((line) => JSON.parse(line)).find((entry) => entry.code === 'TI_ERR_NOT_READY');
    expect(logged).toMatchObject({ level: 40, msg: 'Service is not ready: the disk is full' });
    expect(JSON.stringify(logged)).not.toContain('stack');
    await app.close();
  });

  it('hides the details of an unexpected error from the client but logs them', async () => {
    const lines: string[] = [];
    const app = service(lines);
    const res = await app.inject('/bug');
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ statusCode: 500, error: 'Internal Server Error', message: 'Internal Server Error' });
    expect(res.body).not.toContain('secret');
    expect(lines.join('\n')).toContain("Cannot read properties of undefined (reading 'secret')");
    await app.close();
  });

  it('keeps the Cookie and Authorization header values out of log lines that carry the request or its headers', async () => {
    const lines: string[] = [];
    const app = service(lines);
    app.get('/headers', async (request) => {
      request.log.info({ headers: request.headers }, 'headers seen');
      request.log.info({ req: request }, 'request seen');
      return { ok: true };
    });
    const res = await app.inject({
      url: '/headers',
      headers: { cookie: 'session=cookie-value-5e1f; theme=dark', authorization: 'Bearer token-value-9c2a' },
    });
    expect(res.statusCode).toBe(200);
    const entries = lines.map((line) => JSON.parse(line));
    const seen = entries.find((entry) => entry.msg === 'headers seen');
    expect(seen.headers).toMatchObject({ cookie: '[Redacted]', authorization: '[Redacted]' });
    expect(entries.find((entry) => entry.msg === 'request seen').req).toMatchObject({ method: 'GET', url: '/headers' });
    // The other headers stay, so the lines remain useful.
    expect(seen.headers['user-agent']).toBe('lightMyRequest');
    for (const line of lines) {
      expect(line).not.toContain('cookie-value-5e1f');
      expect(line).not.toContain('token-value-9c2a');
    }
    await app.close();
  });
});

describe('parts registering on app.kit', () => {
  it('adds the /stats fields of each part after the common ones, in the order the parts were registered', async () => {
    const app = bare();
    app.register(async (part) => part.kit.stats.add(() => ({ database: { status: 'healthy' } })));
    app.register(async (part) => part.kit.stats.add(async () => ({ cache: { status: 'unhealthy', hit_ratio: 0.5 } })));
    const block = (await app.inject('/stats')).json().svc;
    expect(Object.keys(block)).toEqual([
      'service_status',
      'uptime_seconds',
      'requests_total',
      'requests_in_flight',
      'responses',
      'avg_response_time_ms',
      'max_response_time_ms',
      'database',
      'cache',
    ]);
    expect(block).toMatchObject({ database: { status: 'healthy' }, cache: { status: 'unhealthy', hit_ratio: 0.5 } });
    await app.close();
  });

  it('reports degraded while a dependency is unhealthy or its check throws, online once all are healthy', async () => {
    const app = bare();
    let cacheUp = false;
    let databaseFails = false;
    app.kit.status.dependsOn('cache', () => cacheUp);
    app.kit.status.dependsOn('database', () => {
      if (databaseFails) throw new Error('closed');
      return true;
    });
    const status = async () => (await app.inject('/stats')).json().svc.service_status;
    expect(await status()).toBe('degraded');
    cacheUp = true;
    expect(await status()).toBe('online');
    databaseFails = true;
    expect(await status()).toBe('degraded');
    await app.close();
  });

  it('asks for the service status after collecting the fields, so a field collector can refresh what it depends on', async () => {
    const app = bare();
    let healthy = false;
    app.kit.stats.add(() => {
      healthy = true;
      return {};
    });
    app.kit.status.dependsOn('store', () => healthy);
    expect((await app.inject('/stats')).json().svc.service_status).toBe('online');
    await app.close();
  });

  it('answers /ready 503 naming the failing checks, and 200 once every check passes', async () => {
    const app = bare();
    let open = false;
    let pageMissing = true;
    app.kit.readiness.add('database', () => open);
    app.kit.readiness.add('page', async () => {
      if (pageMissing) throw new Error('missing');
      return true;
    });
    await app.ready();
    expect((await app.inject('/ready')).json()).toEqual({ status: 'starting' });
    app.kit.lifecycle.markReady();
    let res = await app.inject('/ready');
    expect([res.statusCode, res.json()]).toEqual([
      503,
      { status: 'unready', checks: { database: false, page: false } },
    ]);
    open = true;
    pageMissing = false;
    res = await app.inject('/ready');
    expect([res.statusCode, res.json()]).toEqual([200, { status: 'ready', checks: { database: true, page: true } }]);
    await app.close();
  });

  it('refuses a name registered twice and a check that is not a function, with a message naming it', async () => {
    const app = bare();
    app.kit.readiness.add('database', () => true);
    expect(() => app.kit.readiness.add('database', () => true)).toThrow(
      'a readiness check "database" is registered twice',
    );
    app.kit.status.dependsOn('cache', () => true);
    expect(() => app.kit.status.dependsOn('cache', () => true)).toThrow(
      'a service_status dependency "cache" is registered twice',
    );
    expect(() => app.kit.status.dependsOn('', () => true)).toThrow('a service_status dependency needs a name; got ""');
    expect(() => app.kit.stats.add('cache' as never)).toThrow('a /stats collector must be a function; got string');
    await app.close();
  });

  it('tells each response observer of every response once it is over: route template, status, time, a client that left', async () => {
    const lines: string[] = [];
    const app = service(lines);
    app.get('/items/:id', async () => ({ ok: true }));
    let release: (() => void) | undefined;
    app.get('/slow', () => new Promise<object>((resolve) => (release = () => resolve({ late: true }))));
    const seen: Omit<FinishedResponse, 'request' | 'reply'>[] = [];
    const urls: string[] = [];
    app.kit.responses.add(() => {
      throw new Error('observer bug');
    });
    app.kit.responses.add(({ request, reply: _reply, ...rest }) => {
      urls.push(request.url);
      seen.push(rest);
    });
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    expect((await fetch(`${base}/items/7?x=1`)).status).toBe(200);
    expect((await fetch(`${base}/nowhere`)).status).toBe(404);
    // A client that leaves before the answer.
    const socket = connect(Number(new URL(base).port), '127.0.0.1');
    await once(socket, 'connect');
    socket.write('GET /slow HTTP/1.1\r\nhost: x\r\n\r\n');
    await expect.poll(() => release).toBeDefined();
    socket.destroy();
    await expect.poll(() => seen.length).toBe(3);
    release?.();
    expect(urls).toEqual(['/items/7?x=1', '/nowhere', '/slow']);
    expect(seen).toEqual([
      { route: '/items/:id', statusCode: 200, elapsedMs: expect.any(Number), aborted: false },
      { route: undefined, statusCode: 404, elapsedMs: expect.any(Number), aborted: false },
      { route: '/slow', statusCode: 499, elapsedMs: expect.any(Number), aborted: true },
    ]);
    // The observer that threw was logged each time and kept nobody else from being told.
    expect(lines.filter((line) => line.includes('a response observer failed'))).toHaveLength(3);
    expect((await fetch(`${base}/ok`)).status).toBe(200);
    await app.close();
  });
});
