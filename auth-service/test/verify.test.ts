import { generateKeyPairSync } from 'node:crypto';
import { loadConfig } from '@titanium/service-kit';
import { hs256, now, rs256, unsigned } from '@titanium/test-support';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from '../src/app.js';
import { readConfig } from '../src/config.js';

const SECRET = 'a-test-secret-that-is-long-enough-for-hs256';
const claims = () => ({ user_id: 7, username: 'alice', iat: now(), exp: now() + 3600 });

describe('GET /verify', () => {
  let app: FastifyInstance;
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });

  beforeAll(async () => {
    app = build(
      loadConfig(readConfig, { LOG_LEVEL: 'silent', JWT_SECRET: SECRET, USER_SERVICE_URL: 'http://127.0.0.1:9' }),
    );
    await app.ready();
  });

  afterAll(() => app.close());

  const verify = (authorization?: string) =>
    app.inject({ url: '/verify', headers: authorization === undefined ? {} : { authorization } });

  it('accepts a token signed with the shared secret and returns its claims', async () => {
    const payload = claims();
    const res = await verify(`Bearer ${hs256(payload, SECRET)}`);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'success', data: payload });
  });

  it('accepts the scheme name in any letter case', async () => {
    expect((await verify(`bearer ${hs256(claims(), SECRET)}`)).statusCode).toBe(200);
  });

  it.each([
    ['an unsigned token (alg none)', () => `Bearer ${unsigned(claims())}`, 'Token is invalid'],
    ['an RS256 token', () => `Bearer ${rs256(claims(), privateKey)}`, 'Token is invalid'],
    [
      'an HS256 token keyed with the RSA public key (algorithm confusion)',
      () => `Bearer ${hs256(claims(), publicKey)}`,
      'Token is invalid',
    ],
    ['a token signed with another secret', () => `Bearer ${hs256(claims(), `${SECRET}-other`)}`, 'Token is invalid'],
    [
      'a token whose payload was changed after signing',
      () => {
        const [header, , signature] = hs256(claims(), SECRET).split('.');
        const forged = Buffer.from(JSON.stringify({ ...claims(), user_id: 1 })).toString('base64url');
        return `Bearer ${header}.${forged}.${signature}`;
      },
      'Token is invalid',
    ],
    [
      'an expired token',
      () => `Bearer ${hs256({ ...claims(), iat: now() - 7200, exp: now() - 60 }, SECRET)}`,
      'Token has expired',
    ],
    [
      'a token that is not valid yet',
      () => `Bearer ${hs256({ ...claims(), nbf: now() + 600 }, SECRET)}`,
      'Token is not valid yet',
    ],
    [
      'a token without user_id',
      () => `Bearer ${hs256({ username: 'alice', exp: now() + 60 }, SECRET)}`,
      'Token is invalid',
    ],
    ['a token without username', () => `Bearer ${hs256({ user_id: 7, exp: now() + 60 }, SECRET)}`, 'Token is invalid'],
    ['a token without exp', () => `Bearer ${hs256({ user_id: 7, username: 'alice' }, SECRET)}`, 'Token is invalid'],
    [
      'a token whose user_id is not a number',
      () => `Bearer ${hs256({ ...claims(), user_id: 'admin' }, SECRET)}`,
      'Token is missing user_id, username or exp',
    ],
    ['no Authorization header', () => undefined, 'Authorization header must be "Bearer <token>"'],
    ['an empty Authorization header', () => '', 'Authorization header must be "Bearer <token>"'],
    ['the Basic scheme', () => 'Basic YWxpY2U6c2VjcmV0', 'Authorization header must be "Bearer <token>"'],
    ['Bearer without a token', () => 'Bearer', 'Authorization header must be "Bearer <token>"'],
    ['a token with no scheme', () => hs256(claims(), SECRET), 'Authorization header must be "Bearer <token>"'],
    ['two tokens', () => `Bearer ${hs256(claims(), SECRET)} extra`, 'Authorization header must be "Bearer <token>"'],
    ['a token that is not a JWT', () => 'Bearer not-a-jwt', 'Token is invalid'],
  ])('rejects %s with 401', async (_case, header, message) => {
    const res = await verify(header());
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
    expect(res.json()).toMatchObject({ statusCode: 401, error: 'Unauthorized', status: 'failed' });
    expect(res.json().message).toBe(message);
  });

  it('counts verified and rejected tokens in /stats', async () => {
    const before = (await app.inject('/stats')).json().auth.tokens;
    await verify(`Bearer ${hs256(claims(), SECRET)}`);
    await verify(`Bearer ${unsigned(claims())}`);
    await verify('Basic x');
    const after = (await app.inject('/stats')).json().auth.tokens;
    expect(after).toEqual({ verified: before.verified + 1, rejected: before.rejected + 2 });
  });
});

describe('POST /login input', () => {
  let app: FastifyInstance;

  beforeAll(async () => {
    app = build(loadConfig(readConfig, { LOG_LEVEL: 'silent', USER_SERVICE_URL: 'http://127.0.0.1:9' }));
    await app.ready();
  });

  afterAll(() => app.close());

  const login = (payload: string | object, contentType = 'application/json') =>
    app.inject({ method: 'POST', url: '/login', payload, headers: { 'content-type': contentType } });

  it.each([
    ['a missing password', { username: 'alice' }, 'password is required'],
    ['a missing username', { password: 'x' }, 'username is required'],
    ['an empty username', { username: '', password: 'x' }, 'username must be a string of 1 to 64 characters'],
    ['an array body', [], 'the request body must be a JSON object'],
  ])('refuses %s with 400 naming the field', async (_case, payload, message) => {
    const res = await login(payload);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ statusCode: 400, error: 'Bad Request', message });
  });

  it('answers 400 to malformed JSON', async () => {
    const res = await login('{"username":');
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ statusCode: 400, error: 'Bad Request' });
  });

  it('answers 413 to a body over 64 KiB', async () => {
    const res = await login({ username: 'alice', password: 'x'.repeat(70 * 1024) });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ statusCode: 413, error: 'Payload Too Large' });
  });

  it('answers 415 to a body that is not JSON', async () => {
    const res = await login('username=alice&password=x', 'application/x-www-form-urlencoded');
    expect(res.statusCode).toBe(415);
    expect((await login('alice', 'text/plain')).statusCode).toBe(415);
    expect(res.json()).toMatchObject({ statusCode: 415, error: 'Unsupported Media Type' });
  });
});

describe('auth-service configuration', () => {
  it('refuses to start in production without a JWT_SECRET', () => {
    expect(() => loadConfig(readConfig, { NODE_ENV: 'production' })).toThrow(/JWT_SECRET must be a secret/);
  });

  it('names a bad user-service timeout', () => {
    expect(() => loadConfig(readConfig, { USER_SERVICE_TIMEOUT_MS: 'soon' })).toThrow(/USER_SERVICE_TIMEOUT_MS/);
  });
});
