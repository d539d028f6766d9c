import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startLocalStack } from './local-stack.js';
import { type FreezeResult, runWithRedisFreeze } from './redis-freeze.js';

// The seed's mixed load at 100 requests/s through a fresh stack, twice in one run: once as it
// is, once with Redis frozen (SIGSTOP) for FREEZE_SECONDS in the middle. What the clients saw
// (failures, p50/p99), the messaging figures' peaks, and whether every post created has exactly
// one post.created in the event log afterwards.
const SECONDS = Number(process.env.BENCH_SECONDS) || 30;
const FREEZE_SECONDS = Number(process.env.FREEZE_SECONDS) || 10;

async function startRedis(): Promise<{ url: string; child: ChildProcess; stop(): Promise<void> }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'titanium-freeze-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'inherit'] });
  for await (const chunk of child.stdout as NodeJS.ReadableStream) {
    if (String(chunk).includes('Ready to accept connections')) break;
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    child,
    async stop() {
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      if (child.exitCode === null) await once(child, 'exit');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const redis = await startRedis();
const stack = await startLocalStack({ LOG_LEVEL: 'warn', REDIS_URL: redis.url });
const log = (line: string) => process.stderr.write(`${line}\n`);
const runs: [string, FreezeResult][] = [];
try {
  const url = stack.url('load-balancer');
  runs.push(['as it is', await runWithRedisFreeze({ url, seconds: SECONDS, log })]);
  const at = Math.max(1, Math.floor((SECONDS - FREEZE_SECONDS) / 2));
  const freeze = {
    atS: at,
    forS: FREEZE_SECONDS,
    stop: () => redis.child.kill('SIGSTOP'),
    resume: () => redis.child.kill('SIGCONT'),
  };
  runs.push([
    `Redis frozen ${at}–${at + FREEZE_SECONDS} s`,
    await runWithRedisFreeze({ url, seconds: SECONDS, freeze, log }),
  ]);
} finally {
  await stack.stop();
  await redis.stop();
}

console.log(`\nmixed load, 100 requests/s for ${SECONDS} s each (84 list, 12 detail, 4 create)\n`);
console.log(
  '| run | sent | failed | p50 ms | p99 ms | max buffered | max dropped | max outbox | posts | post.created once | duplicates | missing |',
);
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const [name, { load, peaks, posts }] of runs) {
  const once = posts.logged - posts.duplicates;
  console.log(
    `| ${name} | ${load.total.sent} | ${load.total.failed} | ${load.total.p50_ms} | ${load.total.p99_ms} | ${peaks.buffered} | ${peaks.dropped} | ${peaks.outboxPending} | ${posts.created} | ${once} | ${posts.duplicates} | ${posts.missing} |`,
  );
}
const [base, frozen] = runs.map(([, run]) => run.load.total);
if (base && frozen) {
  console.log(
    `\np99 frozen / as it is: ${(frozen.p99_ms / base.p99_ms).toFixed(2)} (goal <= 1.20); p50: ${(frozen.p50_ms / base.p50_ms).toFixed(2)}`,
  );
}
const ok = runs.every(
  ([, run]) => run.load.total.failed === 0 && run.posts.duplicates === 0 && run.posts.missing === 0,
);
process.exitCode = ok ? 0 : 1;
