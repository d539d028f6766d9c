import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig } from '@titanium/service-kit';
import { startProcess, stopAllProcesses } from '@titanium/test-support';
import { afterAll, describe, expect, it } from 'vitest';
import { type Config, readConfig } from '../src/config.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

afterAll(async () => {
  await stopAllProcesses();
});

/** Each setting the gateway documents: its variable, its default, another good value and where it lands. */
const SETTINGS: [string, number, string, number, (config: Config) => number][] = [
  ['RATE_LIMIT_WINDOW_MS', 60_000, '30000', 30_000, (c) => c.rateLimits.windowMs],
  ['RATE_LIMIT_AUTH_MAX', 30, '5', 5, (c) => c.rateLimits.authMax],
  ['RATE_LIMIT_WRITE_MAX', 1200, '50', 50, (c) => c.rateLimits.writeMax],
  ['RATE_LIMIT_LOGIN_FAILURES_MAX', 10, '3', 3, (c) => c.rateLimits.loginFailures.max],
  ['RATE_LIMIT_LOGIN_FAILURES_WINDOW_MS', 15 * 60_000, '5m', 5 * 60_000, (c) => c.rateLimits.loginFailures.windowMs],
  // 0 when clients reach the gateway directly, with no proxy in front.
  ['TRUSTED_PROXY_HOPS', 1, '0', 0, (c) => c.trustedProxyHops],
  ['UPSTREAM_HEADERS_TIMEOUT_MS', 2000, '5s', 5000, (c) => c.upstreamTimeouts.headersMs],
  ['UPSTREAM_IDLE_TIMEOUT_MS', 30_000, '4000', 4000, (c) => c.upstreamTimeouts.idleMs],
  ['SERVER_HEADERS_TIMEOUT_MS', 2000, '3000', 3000, (c) => c.serverTimeouts.headersMs],
  ['SERVER_REQUEST_TIMEOUT_MS', 10_000, '20s', 20_000, (c) => c.serverTimeouts.requestMs],
  ['SERVER_KEEPALIVE_TIMEOUT_MS', 60_000, '5000', 5000, (c) => c.serverTimeouts.keepAliveMs],
];

describe('api-gateway configuration', () => {
  it('limits auth to 30 and writes to 1200 per 60 s, waits 2 s for upstream headers and keeps idle upstream connections 30 s', () => {
    const config = loadConfig(readConfig, {});
    expect(config.rateLimits).toMatchObject({ windowMs: 60_000, authMax: 30, writeMax: 1200 });
    expect(config.upstreamTimeouts).toMatchObject({ headersMs: 2000, idleMs: 30_000 });
    expect(config.serverTimeouts).toMatchObject({ headersMs: 2000, requestMs: 10_000, keepAliveMs: 60_000 });
  });

  it.each(SETTINGS)('%s (default %i) sets its own value and nothing else', (name, fallback, raw, value, pick) => {
    const defaults = loadConfig(readConfig, {});
    expect(pick(defaults)).toBe(fallback);
    const changed = loadConfig(readConfig, { [name]: raw });
    expect(pick(changed)).toBe(value);
    // Every other setting keeps its default.
    for (const [other, otherDefault, , , otherPick] of SETTINGS) {
      if (other !== name) expect(otherPick(changed), other).toBe(otherDefault);
    }
  });

  it.each(SETTINGS.map(([name]) => name))('a bad %s is refused in one line naming it', (name) => {
    // Zero proxy hops is allowed; more than 10 is not.
    for (const bad of ['soon', '-5', name === 'TRUSTED_PROXY_HOPS' ? '11' : '0']) {
      let error: unknown;
      try {
        loadConfig(readConfig, { [name]: bad });
      } catch (err) {
        error = err;
      }
      expect(error, `${name}=${bad}`).toBeInstanceOf(ConfigError);
      const { problems } = error as ConfigError;
      expect(problems, `${name}=${bad}`).toHaveLength(1);
      expect(problems[0]).toMatch(new RegExp(`^${name} must be .+; got "${bad}"$`));
    }
  });

  it('refuses a header timeout longer than the request timeout, naming both', () => {
    expect(() =>
      loadConfig(readConfig, { SERVER_HEADERS_TIMEOUT_MS: '20000', SERVER_REQUEST_TIMEOUT_MS: '10000' }),
    ).toThrow(/^SERVER_HEADERS_TIMEOUT_MS must be at most SERVER_REQUEST_TIMEOUT_MS \(10000 ms\); got 20000$/);
  });

  it('the gateway process stops at once with exit 78 and one line naming the bad variable', async () => {
    const proc = startProcess('api-gateway', process.execPath, [`${ROOT}api-gateway/dist/server.js`], {
      HOST: '127.0.0.1',
      API_GATEWAY_PORT: '0',
      RATE_LIMIT_WRITE_MAX: 'lots',
    });
    expect(await proc.exited).toEqual({ code: 78, signal: null });
    expect(proc.lines).toEqual([
      'api-gateway: invalid configuration: RATE_LIMIT_WRITE_MAX must be an integer from 1 to 1000000; got "lots"',
    ]);
  });
});
