import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

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
  });
}
