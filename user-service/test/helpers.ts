import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig, type UserServiceBlock, type WrappedStats } from '@titanium/service-kit';
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

export async function statsOf(base: string | FastifyInstance): Promise<UserServiceBlock> {
  if (typeof base === 'string') {
    const res = await fetch(`${base}/stats`);
    return ((await res.json()) as WrappedStats<'user_service'>).user_service;
  }
  return (await base.inject('/stats')).json<WrappedStats<'user_service'>>().user_service;
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
