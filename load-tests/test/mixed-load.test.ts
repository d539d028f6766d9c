import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Stack, startProcess, startStack } from '@titanium/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const SCRIPTS = fileURLToPath(new URL('..', import.meta.url));

interface Result {
  passed: boolean;
  failure_percent: number;
  scenarios: {
    scenario: string;
    sent: number;
    ok: number;
    failed: number;
    target_rate: number;
    achieved_rate: number;
  }[];
  lb_stats_after: { 'load-balancer': { total_requests: number } };
  cleaned_up: number;
}

// The seed's load scripts, run for a few seconds against the whole stack.
describe('mixed load scripts', () => {
  let stack: Stack;
  let dir: string;
  const run = (script: string, args: string[]) =>
    startProcess(script, 'sh', [
      join(SCRIPTS, script),
      '--url',
      stack.url('load-balancer'),
      '--state',
      join(dir, 'state.json'),
      ...args,
    ]);
  const totalPosts = async () =>
    Number((await fetch(`${stack.url('load-balancer')}/api/posts?limit=1`)).headers.get('x-total-count'));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'titanium-load-'));
    stack = await startStack();
  }, 90_000);

  afterAll(async () => {
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs every scenario of mixed_load.sh at its rate without failures and reports them', async () => {
    const before = await totalPosts();
    const proc = run('mixed_load.sh', [
      '--duration',
      '3s',
      '--rate-list',
      '20',
      '--rate-detail',
      '10',
      '--rate-create',
      '4',
      '--json',
      join(dir, 'basic.json'),
    ]);
    const exit = await proc.exited;
    expect(exit.code, proc.output()).toBe(0);
    const result = JSON.parse(readFileSync(join(dir, 'basic.json'), 'utf8')) as Result;
    expect(result.passed).toBe(true);
    expect(result.scenarios.map((s) => [s.scenario, s.sent, s.failed])).toEqual([
      ['list', 60, 0],
      ['detail', 30, 0],
      ['create', 12, 0],
    ]);
    expect(result.lb_stats_after['load-balancer'].total_requests).toBeGreaterThanOrEqual(102);
    expect(proc.output()).toMatch(/^ +list +60 +60 +0 /m);
    expect(proc.output()).toContain('PASS');
    // 5 seeds and 12 new posts stay behind; --cleanup removes exactly those.
    expect(await totalPosts()).toBe(before + 17);
    const cleanup = run('mixed_load_plus.sh', ['--cleanup']);
    expect((await cleanup.exited).code).toBe(0);
    expect(cleanup.output()).toContain('removed 17 of 17 posts');
    expect(await totalPosts()).toBe(before);
  });

  it('updates and deletes only its own posts with mixed_load_plus.sh and leaves nothing behind', async () => {
    const before = await totalPosts();
    const proc = run('mixed_load_plus.sh', [
      '--duration',
      '3s',
      '--rate-list',
      '10',
      '--rate-detail',
      '5',
      '--rate-create',
      '8',
      '--rate-update',
      '4',
      '--rate-delete',
      '2',
      '--json',
      join(dir, 'plus.json'),
    ]);
    expect((await proc.exited).code, proc.output()).toBe(0);
    const result = JSON.parse(readFileSync(join(dir, 'plus.json'), 'utf8')) as Result;
    expect(result.failure_percent).toBe(0);
    expect(result.scenarios.find((s) => s.scenario === 'update')).toMatchObject({ sent: 12, failed: 0 });
    expect(result.cleaned_up).toBeGreaterThan(0);
    expect(await totalPosts()).toBe(before);
  });

  it('fails with a non-zero status when the failure rate is above --max-fail', async () => {
    const proc = run('mixed_load.sh', [
      '--duration',
      '4s',
      '--rate-list',
      '10',
      '--rate-detail',
      '0',
      '--rate-create',
      '0',
    ]);
    await proc.waitForLine(/^run \S+: user/);
    const blog = stack.pid('blog-service');
    process.kill(blog, 'SIGSTOP');
    try {
      // Longer than the gateway's 2 s upstream limit: requests sent meanwhile get 504.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
    } finally {
      process.kill(blog, 'SIGCONT');
    }
    expect((await proc.exited).code).toBe(1);
    expect(proc.output()).toMatch(/FAIL: failure rate [\d.]+ % is above --max-fail 2 %/);
    expect(proc.output()).toMatch(/504×\d+/);
  });

  it('refuses bad options with usage status 2', async () => {
    const proc = run('mixed_load.sh', ['--duration', 'soon']);
    expect((await proc.exited).code).toBe(2);
    expect(proc.output()).toContain('--duration must look like 60s');
  });
});
