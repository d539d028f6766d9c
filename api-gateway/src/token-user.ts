import type { FastifyInstance, FastifyRequest } from 'fastify';

/** The user a request's bearer token names, once the gateway has verified the token. */
export interface TokenUser {
  user_id: number;
  username: string | null;
}

const verified = new WeakMap<FastifyRequest, TokenUser | null>();

/**
 * The user of the request's `Authorization: Bearer` token when it is one of ours and still valid
 * (user_id a safe integer), else null. Verified once per request, however many parts ask (the
 * per-user write limit, the API-call log); the services verify it again for themselves.
 */
export function tokenUser(app: FastifyInstance, request: FastifyRequest): TokenUser | null {
  const header = request.headers.authorization;
  if (!header?.startsWith('Bearer ')) return null;
  let user = verified.get(request);
  if (user === undefined) {
    user = null;
    try {
      const claims = app.jwt.verify<{ user_id?: unknown; username?: unknown }>(header.slice('Bearer '.length));
      if (Number.isSafeInteger(claims.user_id)) {
        user = {
          user_id: claims.user_id as number,
          username: typeof claims.username === 'string' ? claims.username : null,
        };
      }
    } catch {
      // Not a token of ours, or expired: anonymous here, refused by the service it is for.
    }
    verified.set(request, user);
  }
  return user;
}
