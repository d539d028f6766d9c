import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningService, rawExchange, startService, stopAllProcesses } from '@titanium/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Malformed and hostile requests sent byte for byte to the load balancer and to the services behind
// it: each is refused with a 4xx (or the connection is closed), nothing is smuggled past the front
// door, nothing outside the static roots is served, and every process keeps running.

const SECRET = 'abuse-test-secret-that-is-long-enough-0123456789';

interface Target {
  name: string;
  port: number;
}

let dir: string;
let lb: RunningService;
const direct: Record<'gateway' | 'blog' | 'dashboard', Target> = {} as never;
const running: { name: string; running: () => boolean }[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'titanium-abuse-'));
  const [blog, dashboard] = await Promise.all([
    startService('blog-service', { BLOG_DATABASE_PATH: join(dir, 'blog.db'), JWT_SECRET: SECRET }),
    startService('dashboard-ui'),
  ]);
  const gateway = await startService('api-gateway', { BLOG_SERVICE_URL: blog.url, JWT_SECRET: SECRET });
  lb = await startService('load-balancer', {
    API_GATEWAY_URL: gateway.url,
    BLOG_SERVICE_URL: blog.url,
    DASHBOARD_UI_URL: dashboard.url,
  });
  direct.gateway = { name: 'api-gateway', port: gateway.port };
  direct.blog = { name: 'blog-service', port: blog.port };
  direct.dashboard = { name: 'dashboard-ui', port: dashboard.port };
  for (const service of [blog, dashboard, gateway]) {
    running.push({ name: service.name, running: () => service.process.running });
  }
  running.push({ name: 'load-balancer', running: () => lb.process.running });
});

afterAll(async () => {
  await stopAllProcesses();
  rmSync(dir, { recursive: true, force: true });
});

const front = (): Target => ({ name: 'load-balancer', port: lb.port });

function expectAllRunning(): void {
  for (const service of running) expect(service.running(), `${service.name} is running`).toBe(true);
}

describe('request smuggling attempts', () => {
  const body = '0\r\n\r\nGET /api/posts/1 HTTP/1.1\r\nHost: x\r\n\r\n';
  const attempts: Record<string, string> = {
    'Content-Length and Transfer-Encoding together': `POST /api/posts HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n${body}`,
    'Transfer-Encoding and Content-Length together': `POST /api/posts HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n${body}`,
    'two different Content-Length headers': `POST /api/posts HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    'a Content-Length list': `POST /api/posts HTTP/1.1\r\nHost: x\r\nContent-Length: 2, ${body.length}\r\n\r\n${body}`,
    'Transfer-Encoding: chunked, identity': `POST /api/posts HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n${body}`,
    'Transfer-Encoding: identity': `POST /api/posts HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\n${body}`,
    'an obfuscated Transfer-Encoding': `POST /api/posts HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    'a space before the colon': `POST /api/posts HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    'a folded Transfer-Encoding': `POST /api/posts HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    'a bad chunk size':
      'POST /api/posts HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n',
    'a chunk size with a bare LF': `POST /api/posts HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\nGET /api/posts/1 HTTP/1.1\r\nHost: x\r\n\r\n`,
  };

  for (const [name, request] of Object.entries(attempts)) {
    it(`${name}: one 400 and the connection closed, at the load balancer and at the gateway`, async () => {
      for (const target of [front(), direct.gateway]) {
        const answer = await rawExchange(target.port, request);
        expect(answer.statuses, `${target.name}: ${answer.text.slice(0, 200)}`).toEqual([400]);
        expect(answer.text, target.name).toContain('"statusCode":400');
        expect(answer.closed, target.name).toBe(true);
      }
    });
  }

  it('leaves every process running', () => expectAllRunning());
});

describe('broken header lines and absurd sizes', () => {
  const broken: Record<string, string> = {
    'a NUL in a header value': 'GET /api/health HTTP/1.1\r\nHost: x\r\nX-Test: a\x00b\r\n\r\n',
    'a bare CR in a header value': 'GET /api/health HTTP/1.1\r\nHost: x\r\nX-Test: a\rb\r\n\r\n',
    'a space in a header name': 'GET /api/health HTTP/1.1\r\nHost: x\r\nX Test: a\r\n\r\n',
    'a header line without a colon': 'GET /api/health HTTP/1.1\r\nHost: x\r\nX-Test\r\n\r\n',
    'a control character in the path': 'GET /api/he\x01alth HTTP/1.1\r\nHost: x\r\n\r\n',
    'a NUL in the path': 'GET /blog/\x00 HTTP/1.1\r\nHost: x\r\n\r\n',
    'an unknown protocol version': 'GET /api/health HTTP/7.1\r\nHost: x\r\n\r\n',
    'two Host headers': 'GET /api/health HTTP/1.1\r\nHost: x\r\nhost: y\r\n\r\n',
    'garbage instead of a request line': '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n',
  };

  for (const [name, request] of Object.entries(broken)) {
    it(`${name}: 400 from the load balancer and from each service`, async () => {
      for (const target of [front(), direct.gateway, direct.blog, direct.dashboard]) {
        const answer = await rawExchange(target.port, request);
        expect(answer.statuses, `${target.name}: ${answer.text.slice(0, 200)}`).toEqual([400]);
        expect(answer.text, target.name).toContain('"statusCode":400');
        expect(answer.closed, target.name).toBe(true);
      }
    });
  }

  it('a 64 KiB header: 431, at the load balancer and at each service', async () => {
    const request = `GET /api/health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`;
    for (const target of [front(), direct.gateway, direct.blog, direct.dashboard]) {
      const answer = await rawExchange(target.port, request);
      expect(answer.statuses, `${target.name}: ${answer.text.slice(0, 200)}`).toEqual([431]);
      expect(answer.text, target.name).toContain('"statusCode":431');
    }
  });

  it('2,000 small headers adding up to too much: 431', async () => {
    const headers = Array.from({ length: 2_000 }, (_, i) => `X-H${i}: ${'v'.repeat(10)}\r\n`).join('');
    for (const target of [front(), direct.gateway]) {
      const answer = await rawExchange(target.port, `GET /api/health HTTP/1.1\r\nHost: x\r\n${headers}\r\n`);
      expect(answer.statuses, target.name).toEqual([431]);
    }
  });

  it('a 64 KiB URL: refused with 431 or 414, never proxied', async () => {
    const request = `GET /api/posts?q=${'a'.repeat(64 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`;
    for (const target of [front(), direct.gateway]) {
      const answer = await rawExchange(target.port, request);
      expect(answer.statuses.length, target.name).toBe(1);
      expect([414, 431], target.name).toContain(answer.statuses[0]);
    }
  });

  it('a non-WebSocket Upgrade request is answered as plain HTTP/1.1 (never 101), then the connection closes', async () => {
    const upgrade = (path: string, extra = '') =>
      rawExchange(
        lb.port,
        `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n${extra}\r\n`,
      );
    const expected: [path: string, status: number, text: string][] = [
      ['/', 200, '<!doctype html>'],
      ['/blog/', 200, '<!doctype html>'],
      ['/api/health', 200, '{"status":"ok"}'],
      ['/lb-health', 200, '{"status":"ok"}'],
      ['/api/ws-heartbeat', 426, 'This is a WebSocket endpoint'],
    ];
    for (const [path, status, text] of expected) {
      const answer = await upgrade(path);
      expect(answer.statuses, `${path}: ${answer.text.slice(0, 300)}`).toEqual([status]);
      expect(answer.text.startsWith('HTTP/1.1 '), path).toBe(true);
      expect(answer.text, path).toContain(text);
      expect(answer.closed, path).toBe(true);
    }
    const withBody = await upgrade('/api/posts', 'Content-Length: 2\r\n\r\n{}');
    expect(withBody.statuses).toEqual([400]);
    expect(withBody.text).toContain('Upgrade to h2c is not supported');
    expect(withBody.closed).toBe(true);
  });

  it('leaves every process running, and they still answer', async () => {
    expectAllRunning();
    const res = await fetch(`http://127.0.0.1:${lb.port}/api/posts`);
    expect(res.status).toBe(200);
    await res.body?.cancel();
  });
});

describe('path traversal into the static roots', () => {
  // Ways of writing "../" that some layer might decode into one.
  const UP = [
    '../',
    '%2e%2e/',
    '..%2f',
    '%2e%2e%2f',
    '..\\',
    '..%5c',
    '%2e%2e%5c',
    '.%2e/',
    '%2e./',
    '%252e%252e%252f',
    '..%252f',
    '..%c0%af',
    '%c0%ae%c0%ae/',
    '....//',
    '..;/',
    '..%00/',
    '%2e%2e%00/',
  ];
  // Files outside the roots and a text only they contain.
  const MARKERS = ['"name":', 'root:x:0:', '"compilerOptions"', 'createService', '"version":'];
  const TARGETS = [
    { depth: 1, file: 'tsconfig.json' },
    { depth: 1, file: 'app.js' },
    { depth: 2, file: 'package.json' },
    { depth: 3, file: 'package.json' },
    { depth: 9, file: 'etc/passwd' },
  ];
  const NUL = ['index.html%00', 'index.html%00.js', '%00', 'index.html\\..\\..\\package.json'];

  function paths(prefix: string): string[] {
    const list = TARGETS.flatMap(({ depth, file }) => UP.map((up) => `${prefix}${up.repeat(depth)}${file}`));
    list.push(...NUL.map((tail) => `${prefix}${tail}`));
    list.push(`${prefix}/etc/passwd`, `${prefix}%2fetc%2fpasswd`, `${prefix}%5cetc%5cpasswd`);
    return list;
  }

  async function probe(target: Target, path: string): Promise<void> {
    const answer = await rawExchange(target.port, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    const where = `${target.name} ${JSON.stringify(path)} -> ${answer.text.slice(0, 120)}`;
    expect(answer.statuses.length, where).toBe(1);
    const status = answer.statuses[0] ?? 0;
    expect(status >= 400 && status < 500, where).toBe(true);
    expect(answer.text, where).toMatch(/\r\ncontent-type: application\/json/i);
    for (const marker of MARKERS) expect(answer.text, where).not.toContain(marker);
  }

  it('under /blog/: refused through the load balancer and directly', async () => {
    for (const path of paths('/blog/')) {
      await probe(front(), path);
      await probe(direct.blog, path);
    }
  });

  it('under the dashboard: refused through the load balancer and directly', async () => {
    for (const path of paths('/')) {
      await probe(front(), path);
      await probe(direct.dashboard, path);
    }
  });

  it('the real pages are still served', async () => {
    for (const path of ['/blog/', '/']) {
      const answer = await rawExchange(lb.port, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      expect(answer.statuses, path).toEqual([200]);
      expect(answer.text, path).toContain('<!doctype html>');
    }
    expectAllRunning();
  });
});
