import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type ApiCallEvent,
  type DomainEvent,
  EVENT_STREAM_EVENT,
  type EventLogAnswer,
  type TitaniumEvent,
} from '@titanium/service-kit';
import {
  type Backends,
  type RedisServer,
  readStream,
  type Stack,
  startBackends,
  startProcess,
  startRedis,
  startService,
  startStack,
} from '@titanium/test-support';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getStats } from './helpers.js';

const OPS_TOKEN = 'ops-token-for-the-event-log-tests';
const OPS = { authorization: `Bearer ${OPS_TOKEN}` };
const LB_SERVER = fileURLToPath(new URL('../dist/server.js', import.meta.url));

type Answer = EventLogAnswer & { unavailable: string[] };

interface Call {
  method: string;
  route: string;
  status: number;
  requestId: string;
}

/** The walk the acceptance names: register, log in, create, edit and delete a post, through `base`. */
async function walk(base: string, user: { username: string; email: string; password: string }): Promise<Call[]> {
  const calls: Call[] = [];
  const call = async (method: string, path: string, route: string, body?: unknown, token?: string) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    calls.push({ method, route, status: res.status, requestId: res.headers.get('x-request-id') ?? '' });
    const text = await res.text();
    return (text ? JSON.parse(text) : {}) as Record<string, unknown>;
  };
  await call('POST', '/api/register', 'POST /api/register', user);
  const { token } = (await call('POST', '/api/login', 'POST /api/login', {
    username: user.username,
    password: user.password,
  })) as { token: string };
  const post = (await call('POST', '/api/posts', 'POST /api/posts', { title: 'First', content: 'Hello' }, token)) as {
    id: number;
  };
  await call('PATCH', `/api/posts/${post.id}?draft=1`, 'PATCH /api/posts/:id', { title: 'First, edited' }, token);
  await call('DELETE', `/api/posts/${post.id}`, 'DELETE /api/posts/:id', undefined, token);
  return calls;
}

async function read(base: string, query = '', headers: Record<string, string> = OPS): Promise<Answer> {
  const res = await fetch(`${base}/logs/messaging${query}`, { headers });
  expect(res.status).toBe(200);
  return (await res.json()) as Answer;
}

const oldestFirst = <T extends TitaniumEvent>(events: TitaniumEvent[]) => [...events].reverse() as T[];

describe('the event log through the whole stack, on Redis Streams', () => {
  let redis: RedisServer;
  let stack: Stack;
  let lb: string;
  const suffix = Date.now().toString(36);
  const user = { username: `eve_${suffix}`, email: `eve_${suffix}@example.com`, password: 'a long secret password' };
  let calls: Call[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    stack = await startStack({ REDIS_URL: redis.url, OPS_TOKEN });
    lb = stack.url('load-balancer');
  }, 90_000);

  afterAll(async () => {
    await stack?.stop();
    await redis?.stop();
  });

  it('never counts reading the log as API traffic', async () => {
    for (let i = 0; i < 20; i++) {
      await read(lb);
      await read(lb, '?kind=domain').catch(() => undefined);
      expect((await fetch(`${lb}/logs/kafka`, { headers: OPS })).status).toBe(200);
    }
    await readStream(`${lb}/logs/messaging/stream`, (reading) => reading.retry !== undefined, undefined, OPS);
    const stats = await getStats(lb);
    expect(stats['load-balancer'].requests_per_second).toBe(0);
    expect(stats['load-balancer'].has_real_traffic).toBe(false);
  });

  it('holds each API call with the request id its client received, and the domain events in order', async () => {
    calls = await walk(lb, user);
    expect(calls.map((c) => c.status)).toEqual([201, 200, 201, 200, 204]);
    await expect.poll(async () => (await read(lb, '?kind=api')).events.length, { timeout: 10_000 }).toBe(5);
    const api = oldestFirst<ApiCallEvent>((await read(lb, '?kind=api')).events);
    expect(api.map((e) => ({ method: e.method, route: e.route, status: e.status, requestId: e.request_id }))).toEqual(
      calls,
    );
    for (const event of api) {
      expect(event.outcome).toBe('success');
      expect(event.endpoint).not.toContain('?');
      expect(event.latency_ms).toBeGreaterThan(0);
      expect(Date.parse(event.timestamp)).toBeGreaterThan(Date.now() - 60_000);
    }
    // The user of a verified token; the calls before there was one are anonymous.
    expect(api.map((e) => e.username)).toEqual([null, null, user.username, user.username, user.username]);

    await expect
      .poll(async () => (await read(lb, '?kind=domain')).events.length, { timeout: 10_000 })
      .toBeGreaterThanOrEqual(5);
    const domain = oldestFirst<DomainEvent>((await read(lb, '?kind=domain')).events);
    expect(domain.map((e) => e.type)).toEqual([
      'user.created',
      'user.login',
      'post.created',
      'post.updated',
      'post.deleted',
    ]);
    expect(new Set(domain.map((e) => e.id)).size).toBe(5);
    expect(domain[1]?.data).toMatchObject({ username: user.username, success: true });
  });

  it('answers /logs/kafka exactly like /logs/messaging', async () => {
    const kafka = await fetch(`${lb}/logs/kafka?kind=api&limit=3`, { headers: OPS });
    expect(await kafka.json()).toEqual(await read(lb, '?kind=api&limit=3'));
  });

  it('pages newest first with no gap and no repeat, and filters by status, route and kind', async () => {
    // A failed login and an unknown path: a 401 and a 404 among the successes.
    await fetch(`${lb}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: user.username, password: 'wrong password' }),
    });
    await fetch(`${lb}/api/nothing-here`);
    await expect.poll(async () => (await read(lb, '?status=4xx')).events.length, { timeout: 10_000 }).toBe(2);
    const failures = (await read(lb, '?status=4xx')).events as ApiCallEvent[];
    expect(failures.map((e) => [e.route, e.status, e.outcome])).toEqual([
      ['other', 404, 'failure'],
      ['POST /api/login', 401, 'failure'],
    ]);
    expect((await read(lb, '?status=401')).events).toHaveLength(1);
    expect(((await read(lb, '?route=POST%20/api/login')).events as ApiCallEvent[]).map((e) => e.status)).toEqual([
      401, 200,
    ]);

    const whole = (await read(lb, '?limit=1000')).events.map((e) => e.id);
    const paged: string[] = [];
    let next: string | null = null;
    do {
      const page: Answer = await read(lb, `?limit=3${next ? `&before=${encodeURIComponent(next)}` : ''}`);
      paged.push(...page.events.map((e) => e.id));
      next = page.next;
    } while (next);
    expect(paged).toEqual(whole);
    expect(new Set(paged).size).toBe(paged.length);
  });

  it('sends each new call on the stream as it happens', async () => {
    let requestId = '';
    const reading = readStream(
      `${lb}/logs/messaging/stream`,
      (r) => r.events.some((e) => e.event === EVENT_STREAM_EVENT && e.data.includes(requestId || '-')),
      AbortSignal.timeout(10_000),
      OPS,
    );
    await new Promise((resolve) => setTimeout(resolve, 700));
    const res = await fetch(`${lb}/api/posts`);
    requestId = res.headers.get('x-request-id') ?? '';
    await res.arrayBuffer();
    const { res: answer, reading: got } = await reading;
    expect(answer.headers['content-type']).toMatch(/^text\/event-stream/);
    const event = got.events.map((e) => JSON.parse(e.data) as TitaniumEvent).find((e) => e.kind === 'api');
    expect(event).toMatchObject({ request_id: requestId, route: 'GET /api/posts', status: 200 });
  });

  it('needs the ops token on every path of the log', async () => {
    for (const path of ['/logs/messaging', '/logs/kafka', '/logs/messaging/stream', '/logs/kafka/stream']) {
      const attempts: Record<string, string>[] = [{}, { authorization: 'Bearer wrong' }, { authorization: OPS_TOKEN }];
      for (const headers of attempts) {
        const res = await fetch(`${lb}${path}`, { headers });
        expect(res.status, `${path} ${JSON.stringify(headers)}`).toBe(401);
        expect(res.headers.get('www-authenticate')).toBe('Bearer');
        expect(await res.json()).toMatchObject({ statusCode: 401, message: expect.stringContaining('OPS_TOKEN') });
      }
    }
  });

  it('refuses a bad parameter with a 400 that names it and what it takes', async () => {
    const cases: [string, RegExp][] = [
      ['?limit=0', /limit .* 1 to 1000/],
      ['?limit=abc', /limit/],
      ['?kind=audit', /kind .* api, domain/],
      ['?status=6xx', /status .*2xx, 3xx, 4xx, 5xx/],
      ['?route=GET%20/api/posts/7', /route .* GET \/api\/posts\/:id/],
      ['?before=nonsense', /before .* "next"/],
      ['?limit=1&limit=2', /limit must be given once/],
      ['?colour=red', /Unknown query parameter "colour"/],
    ];
    for (const [query, message] of cases) {
      const res = await fetch(`${lb}/logs/messaging${query}`, { headers: OPS });
      expect(res.status, query).toBe(400);
      expect(((await res.json()) as { message: string }).message, query).toMatch(message);
    }
    expect((await fetch(`${lb}/logs/messaging/stream?kind=api`, { headers: OPS })).status).toBe(400);
  });

  it('holds no password, token, Bearer value or e-mail address anywhere in the streams', async () => {
    const client = new Redis(redis.url);
    try {
      const entries = [
        ...(await client.xrange('titanium:events:api', '-', '+')),
        ...(await client.xrange('titanium:events:domain', '-', '+')),
      ];
      expect(entries.length).toBeGreaterThanOrEqual(12);
      const text = JSON.stringify(entries);
      expect(text).not.toContain(user.password);
      expect(text).not.toContain('wrong password');
      expect(text).not.toContain(user.email);
      expect(text).not.toMatch(/[\w.+-]+@[\w-]+\.[\w.]+/);
      expect(text).not.toMatch(/bearer/i);
      expect(text).not.toMatch(/eyJ[\w-]+\.[\w-]+\.[\w-]+/);
      expect(text).not.toContain('draft=1');
    } finally {
      client.disconnect();
    }
  });
});

describe('the event log without Redis, from each process in memory', () => {
  let dir: string;
  let backends: Backends;
  let lb: { url: string; stop(): Promise<unknown> };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'titanium-events-'));
    const env = { OPS_TOKEN };
    backends = await startBackends(dir, 'a-secret-for-the-event-log-tests-only', {}, env);
    lb = await startService('load-balancer', {
      ...env,
      API_GATEWAY_URL: backends.gateway.url,
      AUTH_SERVICE_URL: backends.auth.url,
      USER_SERVICE_URL: backends.users.url,
      BLOG_SERVICE_URL: backends.blog.url,
      DASHBOARD_UI_URL: backends.blog.url,
    });
  }, 60_000);

  afterAll(async () => {
    await lb?.stop();
    await Promise.all(Object.values(backends ?? {}).map((service) => service.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads the API calls and domain events from the processes that wrote them, and says memory', async () => {
    const suffix = Date.now().toString(36);
    const calls = await walk(lb.url, {
      username: `mem_${suffix}`,
      email: `m_${suffix}@example.com`,
      password: 'in memory only',
    });
    await expect.poll(async () => (await read(lb.url, '?kind=api')).events.length, { timeout: 10_000 }).toBe(5);
    const answer = await read(lb.url);
    expect(answer.type).toBe('memory');
    expect(answer.unavailable).toEqual([]);
    const api = oldestFirst<ApiCallEvent>((await read(lb.url, '?kind=api')).events);
    expect(api.map((e) => e.request_id)).toEqual(calls.map((c) => c.requestId));
    await expect
      .poll(async () => oldestFirst<DomainEvent>((await read(lb.url, '?kind=domain')).events).map((e) => e.type), {
        timeout: 10_000,
      })
      .toEqual(['user.created', 'user.login', 'post.created', 'post.updated', 'post.deleted']);
    const stats = await getStats(lb.url);
    expect(stats['api-gateway']).toMatchObject({ messaging: { type: 'memory', status: 'healthy', published: 5 } });
  });

  it('still answers from the others while one process is down, and names it', async () => {
    await backends.blog.stop();
    const answer = await read(lb.url);
    expect(answer.unavailable).toEqual(['blog0']);
    expect(answer.events.some((e) => e.kind === 'api')).toBe(true);
    backends.blog = await backends.blog.restart();
  });

  it('serves a ring only with the ops token', async () => {
    expect((await fetch(`${backends.gateway.url}/events`)).status).toBe(401);
    expect((await fetch(`${backends.gateway.url}/events?count=5`, { headers: OPS })).status).toBe(200);
  });
});

describe('choosing the messaging system', () => {
  const run = async (type: string) => {
    const proc = startProcess('load-balancer', process.execPath, [LB_SERVER], {
      MESSAGING_TYPE: type,
      LB_PORT: '0',
      REDIS_URL: 'redis://127.0.0.1:1',
    });
    const exit = await proc.exited;
    return { code: exit.code, lines: proc.lines.filter((line) => line.trim() !== '') };
  };

  it.each([
    ['kafka', /MESSAGING_TYPE .*this build does not support Kafka yet/],
    ['eventhub', /MESSAGING_TYPE .*this build does not support Azure Event Hubs yet/],
  ])('stops start-up for %s with one line, exit 78', async (type, line) => {
    const { code, lines } = await run(type);
    expect(code).toBe(78);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(line);
  });

  it('refuses an unknown type naming the allowed ones', async () => {
    const { code, lines } = await run('rabbitmq');
    expect(code).toBe(78);
    expect(lines).toEqual([
      expect.stringMatching(/MESSAGING_TYPE must be one of redis, memory, none, kafka, eventhub/),
    ]);
  });
});
