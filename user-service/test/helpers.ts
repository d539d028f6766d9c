import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type DomainEvent, loadConfig, type OutboxFields, type UserServiceBlock } from '@titanium/service-kit';
import type { FastifyInstance } from 'fastify';
import { build } from '../src/app.js';
import { readConfig } from '../src/config.js';

/** A directory for one test's database files, removed by `cleanup()`. */
export function tempDir(): { dir: string; dbPath: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'titanium-users-'));
  return { dir, dbPath: join(dir, 'nested', 'users.db'), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The service in-process (no port), for route logic; a real SQLite file, no Redis unless given. */
export async function buildUserService(env: Record<string, string>): Promise<FastifyInstance> {
  const app = build(loadConfig(readConfig, { LOG_LEVEL: 'silent', ...env }));
  await app.ready();
  return app;
}

/** The service's `/stats` block, with the `outbox` the messaging part adds. */
export async function statsOf(base: string | FastifyInstance): Promise<UserServiceBlock & OutboxFields> {
  type Answer = { user_service: UserServiceBlock & OutboxFields };
  if (typeof base === 'string') {
    const res = await fetch(`${base}/stats`);
    return ((await res.json()) as Answer).user_service;
  }
  return (await base.inject('/stats')).json<Answer>().user_service;
}

export async function until<T>(probe: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = 8_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (accept(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`condition not met in ${timeoutMs} ms; last value ${JSON.stringify(value)}`);
    await sleep(50);
  }
}

export function post(base: string, path: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

/** The stream the services' domain events go to under the default MESSAGING_REDIS_PREFIX. */
export const DOMAIN_STREAM = 'titanium:events:domain';

/** Every entry of the domain stream, oldest first, as the events they hold (field `event`, JSON). */
export async function domainStream(client: {
  xrange(key: string, start: string, end: string): Promise<[string, string[]][]>;
}): Promise<DomainEvent[]> {
  const entries = await client.xrange(DOMAIN_STREAM, '-', '+');
  return entries.map(([, fields]) => {
    if (fields.length !== 2 || fields[0] !== 'event') throw new Error(`unexpected entry ${JSON.stringify(fields)}`);
    return JSON.parse(fields[1] as string) as DomainEvent;
  });
}

/** What a test compares: the type and data of each event, in order. */
export const typesAndData = (events: readonly DomainEvent[]) => events.map(({ type, data }) => ({ type, data }));
