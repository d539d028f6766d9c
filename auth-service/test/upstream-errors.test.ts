import { loadConfig } from '@titanium/service-kit';
import { type FakeUpstream, startFakeUpstream } from '@titanium/test-support';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { build } from '../src/app.js';
import { readConfig } from '../src/config.js';

/** A real HTTP server standing in for a broken user-service. */
function brokenUpstream(status: number, body = ''): Promise<FakeUpstream> {
  return startFakeUpstream('user-service', {
    handler: (_req, res) => res.writeHead(status, { 'content-type': 'application/json' }).end(body),
  });
}

describe('POST /login when user-service answers wrongly', () => {
  let server: FakeUpstream | undefined;
  let app: FastifyInstance | undefined;

  afterEach(async () => {
    await app?.close();
    await server?.close();
  });

  it.each([
    [500, '{"statusCode":500}', 'answered with status 500'],
    [502, '', 'answered with status 502'],
    [404, '{}', 'answered with status 404'],
    [200, '{"unexpected":true}', 'answered with status 200'],
  ])('answers 503, not 401, when user-service answers %i', async (status, body, why) => {
    server = await brokenUpstream(status, body);
    app = build(loadConfig(readConfig, { LOG_LEVEL: 'silent', USER_SERVICE_URL: server.url }));
    const res = await app.inject({ method: 'POST', url: '/login', payload: { username: 'alice', password: 'pw' } });
    expect(res.statusCode).toBe(503);
    expect(res.json().message).toBe(`Login is unavailable right now because the user service ${why}; try again later`);
    expect((await app.inject('/stats')).json().auth.service_status).toBe('degraded');
  });
});
