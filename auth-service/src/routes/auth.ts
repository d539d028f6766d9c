import { errorBody, propagationHeaders } from '@titanium/service-kit';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { AuthCounters } from '../auth-counters.js';
import type { UserServiceClient } from '../user-service-client.js';

export interface AuthRoutesOptions {
  users: UserServiceClient;
  counters: AuthCounters;
}

export interface TokenClaims {
  user_id: number;
  username: string;
  iat?: number;
  exp: number;
}

const BEARER = /^Bearer +([^\s]+)$/i;

const REJECTIONS: Record<string, string> = {
  FAST_JWT_EXPIRED: 'Token has expired',
  FAST_JWT_INACTIVE: 'Token is not valid yet',
};

function hasClaims(value: unknown): value is TokenClaims {
  const claims = value as Partial<TokenClaims> | null;
  return (
    typeof claims === 'object' &&
    claims !== null &&
    Number.isSafeInteger(claims.user_id) &&
    Number(claims.user_id) > 0 &&
    typeof claims.username === 'string' &&
    claims.username.length > 0 &&
    typeof claims.exp === 'number'
  );
}

function failed(reply: FastifyReply, message: string) {
  return reply.code(401).send({ ...errorBody(401, message), status: 'failed' });
}

export async function authRoutes(app: FastifyInstance, { users, counters }: AuthRoutesOptions): Promise<void> {
  app.post<{ Body: { username: string; password: string } }>(
    '/login',
    {
      schema: {
        body: {
          type: 'object',
          properties: {
            username: { type: 'string', minLength: 1, maxLength: 64 },
            password: { type: 'string', minLength: 1, maxLength: 1024 },
          },
          required: ['username', 'password'],
        },
      },
      schemaErrorFormatter: (errors, dataVar) => {
        const first = errors[0];
        if (first?.keyword === 'required') return new Error(`${String(first.params.missingProperty)} is required`);
        const field = first?.instancePath.split('/')[1];
        if (field === 'username') return new Error('username must be a string of 1 to 64 characters');
        if (field === 'password') return new Error('password must be a string of 1 to 1024 characters');
        return new Error(`the request ${dataVar} must be a JSON object`);
      },
    },
    async (request, reply) => {
      const { username, password } = request.body;
      reply.header('cache-control', 'no-store');
      let check: Awaited<ReturnType<UserServiceClient['verifyCredentials']>>;
      try {
        check = await users.verifyCredentials(username, password, propagationHeaders(request));
      } catch (err) {
        counters.loginsUnavailable++;
        throw err;
      }
      if (check.outcome === 'rejected') {
        counters.loginsFailed++;
        return reply.code(400).send(errorBody(400, check.message));
      }
      if (check.outcome === 'invalid') {
        counters.loginsFailed++;
        return failed(reply, 'Invalid username or password');
      }
      const token = app.jwt.sign({ user_id: check.user.id, username: check.user.username });
      counters.loginsSucceeded++;
      return { status: 'success', token };
    },
  );

  app.get('/verify', async (request, reply) => {
    const reject = (message: string) => {
      counters.tokensRejected++;
      reply.header('www-authenticate', 'Bearer error="invalid_token"');
      return failed(reply, message);
    };
    const match = BEARER.exec(request.headers.authorization ?? '');
    if (!match?.[1]) return reject('Authorization header must be "Bearer <token>"');
    let claims: unknown;
    try {
      claims = app.jwt.verify(match[1]);
    } catch (err) {
      return reject(REJECTIONS[(err as { code?: string }).code ?? ''] ?? 'Token is invalid');
    }
    if (!hasClaims(claims)) return reject('Token is missing user_id, username or exp');
    counters.tokensVerified++;
    return { status: 'success', data: claims };
  });
}
