import fastifyJwt from '@fastify/jwt';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Author } from './db.js';
import { blogErrors } from './errors.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** preHandler for writes: 401 unless the request carries a valid token; sets `request.author`. */
    authenticate: (request: FastifyRequest) => Promise<void>;
  }
  interface FastifyRequest {
    author?: Author;
  }
}

interface Claims {
  user_id?: unknown;
  username?: unknown;
}

/** Verifies Bearer tokens locally with the shared secret; HS256 only, so `alg: none` and RS/HS confusion fail. */
export const auth = fp<{ secret: string }>(
  async (app: FastifyInstance, { secret }) => {
    await app.register(fastifyJwt, {
      secret,
      sign: { algorithm: 'HS256' },
      verify: { algorithms: ['HS256'], requiredClaims: ['exp'] },
    });
    app.decorateRequest('author', undefined);
    app.decorate('authenticate', async (request: FastifyRequest) => {
      if (!request.headers.authorization) throw new blogErrors.Unauthorized('Log in first: no Bearer token was sent');
      let claims: Claims;
      try {
        claims = await request.jwtVerify<Claims>();
      } catch (err) {
        const expired = (err as { code?: string }).code === 'FST_JWT_AUTHORIZATION_TOKEN_EXPIRED';
        throw new blogErrors.Unauthorized(expired ? 'The token has expired; log in again' : 'The token is not valid');
      }
      const { user_id: id, username } = claims;
      // User ids start at 1 (SQLite rowids), as auth-service's /verify requires too.
      if (!Number.isSafeInteger(id) || (id as number) < 1 || typeof username !== 'string' || username === '') {
        throw new blogErrors.Unauthorized('The token does not name a user');
      }
      request.author = { id: id as number, username };
    });
  },
  { name: 'blog-auth' },
);
