import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEV_JWT_SECRET } from '@titanium/service-kit';
import { startProcess, stopAllProcesses } from '@titanium/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Each service started from its build the way production starts it, with bad secrets and a bad
// Redis URL that carries a password: it must refuse, say why in one line, and print no secret.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const JWT_SERVICES = ['auth-service', 'api-gateway', 'blog-service'] as const;
const REDIS_SERVICES = ['api-gateway', 'user-service', 'load-balancer'] as const;

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'titanium-production-'));
});

afterAll(async () => {
  await stopAllProcesses();
  rmSync(dir, { recursive: true, force: true });
});

async function run(service: string, env: Record<string, string>) {
  const proc = startProcess(service, process.execPath, [`${ROOT}${service}/dist/server.js`], {
    HOST: '127.0.0.1',
    PORT: '0',
    API_GATEWAY_PORT: '0',
    AUTH_SERVICE_PORT: '0',
    BLOG_SERVICE_PORT: '0',
    USER_SERVICE_PORT: '0',
    LB_PORT: '0',
    BLOG_DATABASE_PATH: join(dir, `${service}-blog.db`),
    DATABASE_PATH: join(dir, `${service}-users.db`),
    ...env,
  });
  const exit = await Promise.race([proc.exited, proc.waitForLine(/ ready"/, 20_000).then(() => 'ready' as const)]);
  await proc.stop();
  return { exit, lines: proc.lines };
}

describe('NODE_ENV=production', () => {
  const secrets: [string, Record<string, string>][] = [
    ['no JWT_SECRET', {}],
    ['the development secret', { JWT_SECRET: DEV_JWT_SECRET }],
    ['a short secret', { JWT_SECRET: 'short-secret-9x' }],
  ];

  // The short-secret rule lives in the shared reader, so one service shows it.
  const cases = JWT_SERVICES.flatMap((service) =>
    secrets
      .filter(([what]) => service === 'auth-service' || what !== 'a short secret')
      .map(([what, env]) => [service, what, env] as const),
  );

  it.each(cases)('%s refuses to start with %s, in one line naming JWT_SECRET', async (service, _what, env) => {
    const { exit, lines } = await run(service, { NODE_ENV: 'production', ...env });
    expect(exit).toEqual({ code: 78, signal: null });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(`^${service}: invalid configuration: JWT_SECRET must be .+ when NODE_ENV=production`),
    );
    if (env.JWT_SECRET) expect(lines[0]).not.toContain(env.JWT_SECRET);
  });

  it('starts with a strong secret', async () => {
    const { exit } = await run('auth-service', { NODE_ENV: 'production', JWT_SECRET: 'p'.repeat(16) + 'q'.repeat(16) });
    expect(exit).toBe('ready');
  });
});

describe('a bad Redis URL with a password', () => {
  it.each(REDIS_SERVICES)('%s names REDIS_URL without showing the password', async (service) => {
    const { exit, lines } = await run(service, { REDIS_URL: 'redis://admin:hunter2-redis-pw@redis:not-a-port' });
    expect(exit).toEqual({ code: 78, signal: null });
    expect(lines.join('\n')).toMatch(/REDIS_URL must be a redis or rediss URL/);
    expect(lines.join('\n')).not.toContain('hunter2-redis-pw');
  });
});
