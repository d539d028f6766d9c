import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { FastifyInstance } from 'fastify';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig, readKitConfig } from '../../src/config.js';
import { createService } from '../../src/create-service.js';
import type { MemorySink } from '../../src/messaging/memory-sink.js';
import { readMessagingConfig } from '../../src/messaging/messaging.js';
import { messaging } from '../../src/messaging/messaging-part.js';
import { EVENTS_PATH, RemoteRingSource } from '../../src/messaging/remote-source.js';
import { apiEvent, domainEvent, ids } from './events.js';

const TOKEN = 'ops-token-for-tests';
const kitConfig = loadConfig((env) => readKitConfig(env, 'blog-service', 'SVC_PORT', 0), { LOG_LEVEL: 'silent' });

let app: FastifyInstance | undefined;

afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function get(url: string, authorization?: string): Promise<{ status: number; body: unknown }> {
  const res = await request(url, { headers: authorization ? { authorization } : {} });
  return { status: res.statusCode, body: await res.body.json() };
}

describe('the messaging part', () => {
  it('in memory mode serves its ring on /events and reports its publisher in /stats', async () => {
    const config = loadConfig((env) => readMessagingConfig(env, undefined), { OPS_TOKEN: TOKEN });
    app = createService({ config: kitConfig, statsKey: 'svc' });
    await app.register(messaging, config);
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    if (!address || typeof address === 'string') throw new Error('not listening');
    const base = `http://127.0.0.1:${address.port}`;
    const publisher = app.messaging.publisher();
    expect(app.messaging.publisher()).toBe(publisher);
    publisher.offer(apiEvent('p1', 1));
    publisher.offer(domainEvent('p2', 2));

    const remote = new RemoteRingSource('svc', base, TOKEN);
    await expect
      .poll(async () => ids((await remote.newer(undefined, 10)).map((entry) => entry.event)))
      .toEqual(['p1', 'p2']);
    expect((await get(`${base}${EVENTS_PATH}`)).status).toBe(401);
    const stats = (await get(`${base}/stats`)).body as { svc: Record<string, unknown> };
    expect(stats.svc.messaging).toEqual({
      type: 'memory',
      status: 'healthy',
      published: 2,
      dropped: 0,
      buffered: 0,
      last_error: null,
    });
  });

  it('with none serves no ring and its publisher is off', async () => {
    const config = loadConfig((env) => readMessagingConfig(env, undefined), { MESSAGING_TYPE: 'none' });
    app = createService({ config: kitConfig, statsKey: 'svc' });
    await app.register(messaging, config);
    expect(app.messaging.sink).toBeUndefined();
    const publisher = app.messaging.publisher();
    publisher.offer(apiEvent('p1', 1));
    expect((await app.inject(EVENTS_PATH)).statusCode).toBe(404);
    expect((await app.inject('/stats')).json().svc.messaging).toMatchObject({
      type: 'none',
      status: 'off',
      buffered: 0,
    });
  });

  it('sends what the publisher holds when the service closes', async () => {
    const config = loadConfig((env) => readMessagingConfig(env, undefined), {});
    const service = createService({ config: kitConfig, statsKey: 'svc' });
    await service.register(messaging, config);
    await service.ready();
    const publisher = service.messaging.publisher();
    for (let i = 0; i < 5; i++) publisher.offer(apiEvent(`c${i}`, i));
    await service.close();
    const ring = service.messaging.sink as MemorySink;
    expect(ids((await ring.newer(undefined, 10)).map((entry) => entry.event))).toEqual(['c0', 'c1', 'c2', 'c3', 'c4']);
  });

  it('relays an outbox from ready and reports it in /stats as the service', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'titanium-part-'));
    const db = new Database(join(dir, 'blog.db'));
    try {
      // Left from before a restart: relayed once the service is ready.
      const config = loadConfig((env) => readMessagingConfig(env, undefined), {});
      app = createService({ config: kitConfig, statsKey: 'svc' });
      await app.register(messaging, config);
      const outbox = app.messaging.outbox({ db: () => db });
      db.transaction(() => outbox.add(db, 'user.created', { user_id: 3, username: 'ada' }))();
      expect((await app.inject('/stats')).json().svc.outbox).toEqual({
        pending: 1,
        oldest_pending_age_s: expect.any(Number),
      });
      await app.ready();
      const ring = app.messaging.sink as MemorySink;
      await expect
        .poll(async () => (await ring.newer(undefined, 10)).map((entry) => entry.event))
        .toEqual([
          expect.objectContaining({
            kind: 'domain',
            type: 'user.created',
            source: 'blog-service',
            data: { user_id: 3, username: 'ada' },
          }),
        ]);
      expect((await app.inject('/stats')).json().svc.outbox).toEqual({ pending: 0, oldest_pending_age_s: null });
    } finally {
      await app?.close();
      app = undefined;
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
