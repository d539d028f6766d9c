import { createHmac } from 'node:crypto';
import { DEV_JWT_SECRET } from '@titanium/service-kit';

/** An HS256 JWT signed the way the auth service signs them: `user_id`, `username`, `exp` 24 h. */
export function signToken(
  claims: Record<string, unknown>,
  { secret = DEV_JWT_SECRET, header = { alg: 'HS256', typ: 'JWT' } as Record<string, unknown> } = {},
): string {
  const now = Math.floor(Date.now() / 1000);
  const head = base64url(header);
  const body = base64url({ iat: now, exp: now + 24 * 3600, ...claims });
  const signature = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${signature}`;
}

/** A token for `user_id`/`username` signed with `secret`. */
export function tokenFor(userId: number, username: string, secret = DEV_JWT_SECRET): string {
  return signToken({ user_id: userId, username }, { secret });
}

export function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}
