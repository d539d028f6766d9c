import { createHmac, createSign } from 'node:crypto';

const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A token signed here with node:crypto, independently of the library the service uses. */
export function hs256(payload: Record<string, unknown>, secret: string, header: Record<string, unknown> = {}): string {
  const data = `${part({ alg: 'HS256', typ: 'JWT', ...header })}.${part(payload)}`;
  return `${data}.${createHmac('sha256', secret).update(data).digest('base64url')}`;
}

export function rs256(payload: Record<string, unknown>, privateKey: string): string {
  const data = `${part({ alg: 'RS256', typ: 'JWT' })}.${part(payload)}`;
  return `${data}.${createSign('RSA-SHA256').update(data).sign(privateKey, 'base64url')}`;
}

export function unsigned(payload: Record<string, unknown>): string {
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(payload)}.`;
}

export function decode(token: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const [header = '', payload = ''] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(header, 'base64url').toString()),
    payload: JSON.parse(Buffer.from(payload, 'base64url').toString()),
  };
}

export const now = () => Math.floor(Date.now() / 1000);
