import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type FakeUpstream, startFakeUpstream } from '@titanium/test-support';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cleanupLastRun, runMixedLoad } from '../src/mixed-load.js';
import { parseOptions } from '../src/options.js';

const TOKEN = 'token-of-the-load-user';

function answer(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers });
  res.end(body === undefined ? undefined : JSON.stringify(body));
}

/** Holds up this process's event loop, which the load generator shares with the stand-in API. */
function blockFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {}
}

// The load driver in this process against a stand-in for the public API: what it says and does
// when the schedule slips or the API asks it to wait.
describe('the load driver against a stand-in API', () => {
  let dir: string;
  const servers: FakeUpstream[] = [];
  const lines: string[] = [];
  const log = (line: string) => lines.push(line);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'titanium-driver-'));
    lines.length = 0;
  });

  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  const optionsFor = (url: string, extra: string[], plus = false) =>
    parseOptions(['--url', url, '--state', join(dir, 'state.json'), '--quiet', ...extra], plus);

  it('says so when the generator falls behind its schedule by more than 50 ms, and still sends every request', async () => {
    let lists = 0;
    let nextId = 1;
    const api = await startFakeUpstream('api', {
      handler: (req, res) => {
        const route = `${req.method} ${req.url?.split('?')[0]}`;
        if (route === 'GET /stats') return answer(res, 200, {});
        if (route === 'POST /api/register') return answer(res, 201, { id: 1 });
        if (route === 'POST /api/login') return answer(res, 200, { token: TOKEN });
        if (route === 'POST /api/posts') return answer(res, 201, { id: nextId++, title: 'seed' });
        if (route === 'GET /api/posts') {
          // One answer that takes 250 ms of this process's time: the requests due meanwhile go late.
          if (++lists === 5) blockFor(250);
          return answer(res, 200, []);
        }
        answer(res, 404, { message: 'not here' });
      },
    });
    servers.push(api);
    const result = await runMixedLoad(
      optionsFor(api.url, ['--duration', '1s', '--rate-list', '20', '--rate-detail', '0', '--rate-create', '0']),
      log,
    );
    const warning = lines.find((line) => line.startsWith('warning: the load generator fell behind its schedule'));
    expect(warning, lines.join('\n')).toMatch(/^warning: the load generator fell behind its schedule by up to \d+ ms$/);
    expect(Number(warning?.match(/(\d+) ms$/)?.[1])).toBeGreaterThanOrEqual(150);
    // Late, not dropped: the open loop sends what was due as soon as it can.
    expect(result.scenarios.map((s) => [s.scenario, s.sent, s.failed])).toEqual([['list', 20, 0]]);
  });

  it('retries a cleanup delete after the Retry-After of a 429, then removes every post of the run', async () => {
    const postIds = [11, 12, 13];
    writeFileSync(
      join(dir, 'state.json'),
      JSON.stringify({ url: 'unused', username: 'load_x1', password: 'load-password', postIds }),
    );
    const deletes: { id: number; at: number; authorization: string | undefined }[] = [];
    const api = await startFakeUpstream('api', {
      handler: (req, res, body) => {
        if (req.method === 'POST' && req.url === '/api/login') {
          const { username, password } = JSON.parse(body) as { username: string; password: string };
          if (username === 'load_x1' && password === 'load-password') return answer(res, 200, { token: TOKEN });
          return answer(res, 401, { message: 'Invalid username or password' });
        }
        const deleted = req.method === 'DELETE' ? req.url?.match(/^\/api\/posts\/(\d+)$/) : null;
        if (!deleted) return answer(res, 404, { message: 'not here' });
        const id = Number(deleted[1]);
        deletes.push({ id, at: performance.now(), authorization: req.headers.authorization });
        // The first delete of each post is over the limit; the default wait without Retry-After is 1 s.
        if (deletes.filter((d) => d.id === id).length === 1)
          return answer(res, 429, { message: 'Too many requests' }, { 'retry-after': '2' });
        answer(res, 204);
      },
    });
    servers.push(api);
    const gone = await cleanupLastRun(optionsFor(api.url, ['--cleanup'], true), log);
    expect(gone).toBe(3);
    expect(lines).toContain('cleanup: removed 3 of 3 posts created by load_x1');
    for (const id of postIds) {
      const tries = deletes.filter((d) => d.id === id);
      expect(tries, `deletes of post ${id}`).toHaveLength(2);
      expect(tries.every((d) => d.authorization === `Bearer ${TOKEN}`)).toBe(true);
      const [first, second] = tries as [(typeof tries)[0], (typeof tries)[0]];
      expect(second.at - first.at, `wait before deleting post ${id} again`).toBeGreaterThanOrEqual(1_900);
    }
    expect(JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')).postIds).toEqual([]);
  });
});
