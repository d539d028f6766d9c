import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import { pageSecurityHeaders } from '@titanium/service-kit';
import type { FastifyInstance } from 'fastify';

// The SPA only calls the API on its own origin.
const PAGE_HEADERS = pageSecurityHeaders();
const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The blog SPA at /blog/: HTML and CSS from spa/public, the compiled script from dist/spa. */
export async function spaRoutes(app: FastifyInstance): Promise<void> {
  await app.register(fastifyStatic, {
    root: [`${PACKAGE_ROOT}spa/public`, `${PACKAGE_ROOT}dist/spa`],
    prefix: '/blog/',
    index: 'index.html',
    dotfiles: 'deny',
    cacheControl: true,
    maxAge: 0,
    setHeaders(res, path) {
      res.header('x-content-type-options', 'nosniff');
      if (path.endsWith('.html')) {
        for (const [name, value] of Object.entries(PAGE_HEADERS)) res.header(name, value);
      }
    },
  });
}
