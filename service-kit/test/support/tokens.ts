import { createHmac, createSign } from 'node:crypto';
import { DEV_JWT_SECRET } from '@titanium/service-kit';

// Tokens made here with node:crypto, independently of the library the services use.

export function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

export const now = () => Math.floor(Date.now() / 1000);

/** An HS256 JWT of exactly `payload`; `header` adds to (or overrides) `{alg: "HS256", typ: "JWT"}`. */
export function hs256(payload: Record<string, unknown>, secret: string, header: Record<string, unknown> = {}): string {
  const data = `${base64url({ alg: 'HS256', typ: 'JWT', ...header })}.${base64url(payload)}`;
  return `${data}.${createHmac('sha256', secret).update(data).digest('base64url')}`;
}

export function rs256(payload: Record<string, unknown>, privateKey: string): string {
  const data = `${base64url({ alg: 'RS256', typ: 'JWT' })}.${base64url(payload)}`;
  return `${data}.${createSign('RSA-SHA256').update(data).sign(privateKey, 'base64url')}`;
}

export function unsigned(payload: Record<string, unknown>): string {
  return `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(payload)}.`;
}

export function decodeToken(token: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const [header = '', payload = ''] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(header, 'base64url').toString()),
    payload: JSON.parse(Buffer.from(payload, 'base64url').toString()),
  };
}

/** A token signed the way the auth service signs them: `claims` with `iat` now and `exp` in 24 h (HS256 unless `header` says otherwise). */
export function signToken(
  claims: Record<string, unknown>,
  { secret = DEV_JWT_SECRET, header = {} as Record<string, unknown> } = {},
): string {
  const issued = now();
  return hs256({ iat: issued, exp: issued + 24 * 3600, ...claims }, secret, header);
}

/** A token for `user_id`/`username` signed with `secret`. */
export function tokenFor(userId: number, username: string, secret = DEV_JWT_SECRET): string {
  return signToken({ user_id: userId, username }, { secret });
}
