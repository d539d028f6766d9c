import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, readKitConfig } from '../src/config.js';
import { createService } from '../src/create-service.js';
import { discardUnreadBody } from '../src/unread-body.js';
import { openSocket, rawUpload } from './support/raw-http.js';

const MB = 1024 * 1024;
const head = (bytes: number, path = '/echo') =>
  `POST ${path} HTTP/1.1\r\nHost: svc\r\nContent-Type: application/json\r\nContent-Length: ${bytes}\r\n\r\n`;
const HEALTH = 'GET /health HTTP/1.1\r\nHost: svc\r\n\r\n';

// A service answers a body over its limit before reading it. The client, still sending, must get
// that answer, not a reset connection (through the load balancer, a reset became a 502: see the
// gateway's api-flow test).
describe('answers given before the body was read', () => {
  const config = loadConfig((env) => readKitConfig(env, 'svc', 'SVC_PORT', 0), { LOG_LEVEL: 'silent' });
  const app = createService({ config, statsKey: 'svc' });
  app.post('/echo', async (request) => ({ body: request.body }));
  let port = 0;

  beforeAll(async () => {
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as AddressInfo).port;
  });
  afterAll(() => app.close());

  it('reads the rest of a body over the limit and keeps the connection for the next request', async () => {
    for (const bytes of [config.bodyLimit + 1, 5 * MB]) {
      const upload = await rawUpload(port, head(bytes), bytes, { followedBy: HEALTH });
      expect(upload.error, `${bytes} bytes`).toBeUndefined();
      expect(upload.sentAll).toBe(true);
      expect(upload.statuses).toEqual([413, 200]);
      expect(upload.text).toContain('"statusCode":413');
      expect(upload.closed).toBe(false);
    }
  });

  it('cuts off a client still sending when the linger time is over, after it had the answer', async () => {
    const server = createServer((req, res) => {
      res.writeHead(413, { 'content-type': 'application/json' });
      res.end('{"statusCode":413}', () => discardUnreadBody(req, 300));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const socket = await openSocket((server.address() as AddressInfo).port);
      let received = '';
      socket.setEncoding('latin1');
      socket.on('data', (text: string) => {
        received += text;
      });
      socket.on('error', () => undefined);
      const started = Date.now();
      socket.write(head(10 * MB));
      // A trickle that would take far longer than the linger time to finish.
      const trickle = setInterval(() => socket.write('y'.repeat(100)), 20);
      await once(socket, 'close');
      clearInterval(trickle);
      expect(received).toMatch(/^HTTP\/1\.1 413 /);
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      server.close();
    }
  });
});
