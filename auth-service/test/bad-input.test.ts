import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@titanium/service-kit';
import {
  type BodyCase,
  fuzzParameters,
  hostileBody,
  hostileString,
  injectAnswer,
  type RunningService,
  refusals,
  type SqliteSnapshots,
  sendChecked,
  signToken,
  sqliteSnapshots,
  startService,
  stopAllProcesses,
} from '@titanium/test-support';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from '../src/app.js';
import { readConfig } from '../src/config.js';

const SECRET = 'auth-bad-input-secret-long-enough-for-hs256';
const ALICE = { username: 'alice', email: 'alice@example.com', password: 'correct horse battery' };
const CREDENTIALS = { username: ALICE.username, password: ALICE.password };

let dir: string;
let users: RunningService;
let app: FastifyInstance;
let snapshots: SqliteSnapshots;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'titanium-auth-fuzz-'));
  const dbPath = join(dir, 'users.db');
  users = await startService('user-service', { DATABASE_PATH: dbPath });
  const created = await fetch(`${users.url}/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(ALICE),
  });
  expect(created.status).toBe(201);
  app = build(
    loadConfig(readConfig, {
      LOG_LEVEL: 'silent',
      JWT_SECRET: SECRET,
      USER_SERVICE_URL: users.url,
      // Generous: a password check on a busy machine must not turn into a 503.
      USER_SERVICE_TIMEOUT_MS: '10000',
    }),
  );
  await app.ready();
  snapshots = sqliteSnapshots(dbPath);
});

afterAll(async () => {
  snapshots?.close();
  await app?.close();
  await stopAllProcesses();
  rmSync(dir, { recursive: true, force: true });
});

// Neither login nor token checks may ever write to the user database.
const login = (body: BodyCase) =>
  sendChecked('POST /login', () => injectAnswer(app, 'POST', '/login', body), [snapshots], true);

const verify = (authorization: string | undefined) =>
  sendChecked(
    `GET /verify (${authorization?.slice(0, 60)})`,
    () => injectAnswer(app, 'GET', '/verify', undefined, authorization === undefined ? {} : { authorization }),
    [snapshots],
    true,
  );

const now = () => Math.floor(Date.now() / 1000);

/** Claims of every shape, as a token might carry them. */
const claims = fc.record(
  {
    user_id: fc.oneof(
      fc.integer({ min: 1, max: 1_000_000 }),
      fc.constantFrom(0, -1, 1.5, Number.MAX_SAFE_INTEGER + 2, '7', null, true, [7], { id: 7 }),
    ),
    username: fc.oneof(fc.constant('alice'), hostileString, fc.constantFrom(null, 7, [], {})),
    exp: fc.oneof(
      fc.constant(0).map(() => now() + 3600),
      fc.constant(0).map(() => now() - 60),
      fc.constantFrom('tomorrow', null, 1e300),
    ),
  },
  { requiredKeys: [] },
);

const validClaims = (c: Record<string, unknown>) =>
  Number.isSafeInteger(c.user_id) &&
  (c.user_id as number) > 0 &&
  typeof c.username === 'string' &&
  c.username !== '' &&
  typeof c.exp === 'number' &&
  c.exp > now() + 60;

describe('auth-service under hostile input', () => {
  it('POST /login: any body is answered with 2xx or a JSON 4xx, and a token only for the exact credentials', async () => {
    await fc.assert(
      fc.asyncProperty(hostileBody(CREDENTIALS), async (body) => {
        const answer = await login(body);
        if (answer.statusCode !== 200) return;
        const sent = JSON.parse(String(body.payload)) as Record<string, unknown>;
        expect([sent.username, sent.password]).toEqual([ALICE.username, ALICE.password]);
      }),
      fuzzParameters(50),
    );
  });

  it('GET /verify: any Authorization header is answered with 200 or a JSON 401, 200 only for a sound token', async () => {
    const header = fc.oneof(
      fc.tuple(claims, fc.boolean(), fc.constantFrom('HS256', 'none', 'HS512', 'RS256')).map(([c, right, alg]) => ({
        value: `Bearer ${signToken(c, { secret: right ? SECRET : `${SECRET}-other`, header: { alg, typ: 'JWT' } })}`,
        sound: right && alg === 'HS256' && validClaims({ exp: now() + 24 * 3600, ...c }),
      })),
      fc
        .oneof(
          fc.string(),
          fc.string().map((s) => `Bearer ${s}`),
          fc.constant(undefined),
        )
        .map((value) => ({
          value,
          sound: false,
        })),
    );
    await fc.assert(
      fc.asyncProperty(header, async ({ value, sound }) => {
        const answer = await verify(value);
        expect([200, 401]).toContain(answer.statusCode);
        expect(answer.statusCode === 200, `sound token: ${sound}`).toBe(sound);
      }),
      fuzzParameters(150),
    );
  });

  it.each(refusals(CREDENTIALS))('POST /login refuses $name with $status', async ({ status, body }) => {
    expect((await login(body)).statusCode).toBe(status);
  });
});
