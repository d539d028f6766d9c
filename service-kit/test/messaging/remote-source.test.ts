import type { FastifyInstance } from 'fastify';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig, readKitConfig } from '../../src/config.js';
import { createService } from '../../src/create-service.js';
import { MemorySink } from '../../src/messaging/memory-sink.js';
import { EVENTS_PATH, RemoteRingSource, serveRing } from '../../src/messaging/remote-source.js';
import { apiEvent, batch, domainEvent, ids } from './events.js';

const TOKEN = 'ops-token-for-tests';
const kitConfig = loadConfig((env) => readKitConfig(env, 'svc', 'SVC_PORT', 0), { LOG_LEVEL: 'silent' });

let app: FastifyInstance | undefined;

afterEach(async () => {
  await app?.close();
  app = undefined;
});

/** A service on a real port serving `ring` on /events. */
async function serving(ring: MemorySink, opsToken: string | undefined): Promise<string> {
  app = createService({ config: kitConfig, statsKey: 'svc' });
  serveRing(app, ring, opsToken);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('not listening');
  return `http://127.0.0.1:${address.port}`;
}

async function get(url: string, authorization?: string): Promise<{ status: number; body: unknown }> {
  const res = await request(url, { headers: authorization ? { authorization } : {} });
  return { status: res.statusCode, body: await res.body.json() };
}

describe('serveRing', () => {
  it('asks for the ops token on every route', async () => {
    const base = await serving(new MemorySink(100), TOKEN);
    for (const path of [EVENTS_PATH, `${EVENTS_PATH}?count=5`, `${EVENTS_PATH}/head`]) {
      for (const authorization of [undefined, 'Bearer wrong', TOKEN, `Basic ${TOKEN}`]) {
        const res = await get(`${base}${path}`, authorization);
        expect(res.status, `${path} with ${authorization}`).toBe(401);
        expect(res.body).toMatchObject({ statusCode: 401, message: 'Authorization: Bearer <OPS_TOKEN> is required' });
      }
      expect((await get(`${base}${path}`, `Bearer ${TOKEN}`)).status).toBe(200);
    }
  });

  it('refuses a count that is not an integer from 1 to 1000', async () => {
    const base = await serving(new MemorySink(100), TOKEN);
    for (const count of ['0', '-1', '1001', '2.5', 'ten', '']) {
      const res = await get(`${base}${EVENTS_PATH}?count=${count}`, `Bearer ${TOKEN}`);
      expect(res.status, `count=${count}`).toBe(400);
      expect(res.body).toMatchObject({ statusCode: 400, message: 'count must be an integer from 1 to 1000' });
    }
    expect((await get(`${base}${EVENTS_PATH}?count=1000`, `Bearer ${TOKEN}`)).status).toBe(200);
  });

  it('is open without a token configured', async () => {
    const ring = new MemorySink(100);
    await ring.publish([apiEvent('e1', 1)], batch());
    const base = await serving(ring, undefined);
    expect(await get(`${base}${EVENTS_PATH}/head`)).toEqual({ status: 200, body: { head: '1' } });
  });
});

describe('RemoteRingSource', () => {
  it('reads a ring over HTTP as the ring itself answers', async () => {
    const ring = new MemorySink(10, 'gateway-1');
    const base = await serving(ring, TOKEN);
    const remote = new RemoteRingSource('gateway-1', base, TOKEN);
    expect(await remote.head()).toBeUndefined();
    expect(await remote.older(undefined, 5)).toEqual([]);
    expect(await remote.newer(undefined, 5)).toEqual([]);

    // 14 into a ring of 10: the first four are gone.
    const events = Array.from({ length: 14 }, (_, i) => (i % 2 ? apiEvent(`e${i}`, i) : domainEvent(`e${i}`, i)));
    await ring.publish(events, batch());
    expect(await remote.head()).toBe('14');
    const newest = await remote.older(undefined, 3);
    expect(newest).toEqual(await ring.older(undefined, 3));
    expect(ids(newest.map((entry) => entry.event))).toEqual(['e13', 'e12', 'e11']);
    expect(newest[0]?.event).toEqual(events[13]);
    const rest = await remote.older(newest[2]?.position, 100);
    expect(ids(rest.map((entry) => entry.event))).toEqual(['e10', 'e9', 'e8', 'e7', 'e6', 'e5', 'e4']);
    expect(ids((await remote.newer(undefined, 2)).map((entry) => entry.event))).toEqual(['e4', 'e5']);
    expect(ids((await remote.newer('11', 100)).map((entry) => entry.event))).toEqual(['e11', 'e12', 'e13']);
    // Asking for more than a request may carry is capped, not refused.
    expect(await remote.older(undefined, 5000)).toHaveLength(10);
  });

  it('fails to read with the wrong token', async () => {
    const base = await serving(new MemorySink(10), TOKEN);
    await expect(new RemoteRingSource('gw', base, 'not-it').head()).rejects.toThrow(/answered 401/);
    await expect(new RemoteRingSource('gw', base, undefined).older(undefined, 1)).rejects.toThrow(/answered 401/);
  });
});
