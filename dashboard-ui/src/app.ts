import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import { createService, pageSecurityHeaders, STATS_KEYS } from '@titanium/service-kit';
import type { FastifyInstance } from 'fastify';
import type { Config } from './config.js';

/** Same-origin only: the page talks to the load balancer it is served through (HTTP and WebSocket). */
const PAGE_HEADERS = pageSecurityHeaders({ connect: ['ws:', 'wss:'] });
export const CONTENT_SECURITY_POLICY = PAGE_HEADERS['content-security-policy'];

const HTML_PAGE = /\.html(?:\.br|\.gz)?$/;
const HASHED_ASSET = /\/assets\/[^/]+-[A-Za-z0-9_-]{6,}\.[a-z0-9.]+$/;

export function build(config: Config): FastifyInstance {
  const index = join(config.staticDir, 'index.html');
  const app = createService({ config: config.kit, statsKey: STATS_KEYS['dashboard-ui'] });
  app.kit.readiness.add('page', () => existsSync(index));

  app.register(fastifyStatic, {
    root: config.staticDir,
    preCompressed: true,
    index: ['index.html'],
    cacheControl: false,
    etag: true,
    lastModified: true,
    setHeaders(reply, path) {
      reply.header('x-content-type-options', 'nosniff');
      if (HASHED_ASSET.test(path)) {
        reply.header('cache-control', 'public, max-age=31536000, immutable');
      } else {
        reply.header('cache-control', 'no-cache');
      }
      // Browsers get index.html.br or .gz: the path is then that of the compressed copy.
      if (HTML_PAGE.test(path)) {
        for (const [name, value] of Object.entries(PAGE_HEADERS)) reply.header(name, value);
      }
    },
  });

  return app;
}
