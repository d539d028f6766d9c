import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import { createService } from '@titanium/service-kit';
import type { FastifyInstance } from 'fastify';
import type { Config } from './config.js';

export const STATS_KEY = 'dashboard_ui';

/** Same-origin only: the page talks to the load balancer it is served through (HTTP and WebSocket). */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self' ws: wss:",
  "object-src 'none'",
  "base-uri 'self'",
  "frame-ancestors 'none'",
  "form-action 'none'",
].join('; ');

const HASHED_ASSET = /\/assets\/[^/]+-[A-Za-z0-9_-]{6,}\.[a-z0-9.]+$/;

export function build(config: Config): FastifyInstance {
  const index = join(config.staticDir, 'index.html');
  const app = createService({
    config: config.kit,
    statsKey: STATS_KEY,
    readinessChecks: { page: () => existsSync(index) },
  });

  app.register(fastifyStatic, {
    root: config.staticDir,
    preCompressed: true,
    index: ['index.html'],
    cacheControl: false,
    etag: true,
    lastModified: true,
    setHeaders(res, path) {
      res.setHeader('x-content-type-options', 'nosniff');
      if (HASHED_ASSET.test(path)) {
        res.setHeader('cache-control', 'public, max-age=31536000, immutable');
      } else {
        res.setHeader('cache-control', 'no-cache');
      }
      if (path.endsWith('.html')) {
        res.setHeader('content-security-policy', CONTENT_SECURITY_POLICY);
        res.setHeader('referrer-policy', 'no-referrer');
        res.setHeader('x-frame-options', 'DENY');
      }
    },
  });

  return app;
}
