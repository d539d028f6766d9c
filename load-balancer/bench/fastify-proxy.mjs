#!/usr/bin/env node
// @ts-check
// `fastify-proxy.mjs <port> <upstream-url> <connections>`: what a load balancer built from
// Fastify's own parts would be, as a side of the benchmark: `@fastify/http-proxy` on /api to one
// upstream over a keep-alive undici pool of `connections`, the path passed on unchanged, no
// logger. It adds no X-Forwarded-* or request id, so it does less than the load balancer.
import proxy from '@fastify/http-proxy';
import Fastify from 'fastify';

const [port, upstream, connections] = process.argv.slice(2);
if (!port || !upstream || !connections) {
  process.stderr.write('usage: fastify-proxy.mjs <port> <upstream-url> <connections>\n');
  process.exit(2);
}

const app = Fastify({ logger: false });
await app.register(proxy, {
  upstream,
  prefix: '/api',
  rewritePrefix: '/api',
  undici: { connections: Number(connections), pipelining: 1 },
});
await app.listen({ port: Number(port), host: '127.0.0.1' });
process.stdout.write('listening\n');
process.once('SIGTERM', () => {
  void app.close().then(() => process.exit(0));
});
