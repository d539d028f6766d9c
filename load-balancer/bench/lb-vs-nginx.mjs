#!/usr/bin/env node
// @ts-check
// Benchmark: the load balancer (stats on, one process) against nginx (one worker, keep-alive
// upstream), both proxying /api/bench to the same trivial upstream, with the same wrk load at
// concurrency 50, in alternating rounds in one run, with the cheapest proxy Node allows (a bare
// undici pool, no routing, counting or logs; load-tests/src/bare-hop.ts) as a third side: what
// Node itself costs on this machine, apart from what the load balancer adds. Then a longer run of
// the load balancer alone
// for stability: throughput of the last 10 s against the first (also against nginx runs just
// before and after, which show how much the machine itself drifted), RSS growth, /stats latency.
// Settings: BENCH_SECONDS (stability run, default 60), BENCH_ROUNDS (comparison rounds, default
// 5), BENCH_COMPARE_SECONDS (each side of a round, default 5), BENCH_CONNECTIONS (default 50).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { wrk as runWrk } from '../../load-tests/dist/wrk.js';

const BARE_HOP = fileURLToPath(new URL('../../load-tests/dist/bare-hop.js', import.meta.url));

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const STABILITY_SECONDS = positive('BENCH_SECONDS', 60);
const COMPARE_SECONDS = positive('BENCH_COMPARE_SECONDS', 5);
const ROUNDS = positive('BENCH_ROUNDS', 5);
const CONNECTIONS = positive('BENCH_CONNECTIONS', 50);
const PATH = '/api/bench';

/** @param {string} name @param {number} fallback */
function positive(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    console.error(`${name} must be a positive integer; got ${JSON.stringify(raw)}`);
    process.exit(78);
  }
  return value;
}

/** @returns {Promise<number>} */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** @param {string} command @param {string[]} args */
function run(command, args) {
  const result = spawnSync(command, args, { cwd: ROOT, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`${command} ${args.join(' ')} failed`);
    process.exit(result.status ?? 1);
  }
}

/** @type {import('node:child_process').ChildProcess[]} */
const children = [];
/** @param {string} command @param {string[]} args @param {NodeJS.ProcessEnv} [env] */
function start(command, args, env) {
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(child);
  return child;
}

/** @param {string} url */
async function waitFor(url) {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(500) });
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {}
    await sleep(100);
  }
  throw new Error(`${url} did not answer`);
}

/** @typedef {import('../../load-tests/dist/wrk.js').WrkResult} WrkResult */

/** @param {number} port @param {number} seconds */
const wrk = (port, seconds) => runWrk(`http://127.0.0.1:${port}${PATH}`, CONNECTIONS, seconds);

/** @param {number} pid */
function rssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) / 1024;
}

/** @param {number} n */
const fmt = (n, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

async function main() {
  run(process.execPath, ['scripts/ensure-system-deps.mjs', 'nginx', 'wrk']);
  run('npm', ['run', '--silent', 'build']);

  const dir = mkdtempSync(join(tmpdir(), 'titanium-bench-'));
  try {
    await measure(dir);
  } finally {
    await stopChildren();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** SIGTERM, not SIGKILL: an nginx master stops its worker only when it can handle the signal. */
async function stopChildren() {
  await Promise.all(
    children.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await gone;
      clearTimeout(timer);
    }),
  );
}

/** @param {string} dir */
async function measure(dir) {
  const [upstreamPort, nginxPort, barePort, lbPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const stats = JSON.stringify({
    'api-gateway': { service_status: 'online' },
    auth: { service_status: 'online' },
    user_service: {
      service_status: 'online',
      database: { status: 'healthy' },
      cache: { status: 'healthy', hit_ratio: 1 },
    },
    blog_service: { service_status: 'online' },
  });
  const common = `worker_processes 1; daemon off; pid ${dir}/PID; error_log stderr error;
events { worker_connections 4096; }`;
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((name) => `${name}_temp_path ${dir}/${name};`)
    .join(' ');
  writeFileSync(
    join(dir, 'upstream.conf'),
    `${common.replace('PID', 'upstream.pid')}
http { access_log off; ${temp} keepalive_requests 100000;
  server { listen 127.0.0.1:${upstreamPort};
    location = /stats { default_type application/json; return 200 '${stats}'; }
    location / { default_type text/plain; return 200 'ok'; } } }`,
  );
  writeFileSync(
    join(dir, 'proxy.conf'),
    `${common.replace('PID', 'proxy.pid')}
http { access_log off; ${temp} keepalive_requests 100000;
  upstream app { server 127.0.0.1:${upstreamPort}; keepalive 64; }
  server { listen 127.0.0.1:${nginxPort};
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; proxy_set_header X-Request-Id $request_id; } } }`,
  );
  start('nginx', ['-c', join(dir, 'upstream.conf'), '-p', dir]);
  start('nginx', ['-c', join(dir, 'proxy.conf'), '-p', dir]);
  const upstream = `http://127.0.0.1:${upstreamPort}`;
  start(process.execPath, [BARE_HOP, 'proxy', String(barePort), upstream]);
  const lb = start(process.execPath, ['load-balancer/dist/server.js'], {
    HOST: '127.0.0.1',
    LB_PORT: String(lbPort),
    LOG_LEVEL: 'warn',
    API_GATEWAY_URL: upstream,
    DASHBOARD_UI_URL: upstream,
    BLOG_SERVICE_URL: upstream,
    AUTH_SERVICE_URL: upstream,
    USER_SERVICE_URL: upstream,
    REDIS_URL: '',
  });
  await waitFor(`${upstream}/`);
  await waitFor(`http://127.0.0.1:${nginxPort}${PATH}`);
  await waitFor(`http://127.0.0.1:${barePort}${PATH}`);
  await waitFor(`http://127.0.0.1:${lbPort}/lb-health`);

  // The machine's speed drifts (shared cores): rounds alternate the three proxies, rotating who
  // goes first, and the per-round ratios give the figures, so a slow moment hits every side
  // instead of one.
  console.log(
    `\ncomparison: wrk -t1 -c${CONNECTIONS}, ${ROUNDS} rounds of ${COMPARE_SECONDS} s on each proxy, GET ${PATH}`,
  );
  /** @typedef {'nginx' | 'bare' | 'lb'} Side */
  /** @type {Record<Side, number>} */
  const ports = { nginx: nginxPort, bare: barePort, lb: lbPort };
  /** @type {Side[]} */
  const sides = ['nginx', 'bare', 'lb'];
  await wrk(nginxPort, 2);
  await wrk(barePort, 2);
  const warm = await wrk(lbPort, 2);
  let completed = warm.requests;
  /** @type {Record<Side, WrkResult>[]} */
  const rounds = [];
  for (let i = 0; i < ROUNDS; i++) {
    const round = /** @type {Record<Side, WrkResult>} */ ({});
    for (let k = 0; k < sides.length; k++) {
      const side = /** @type {Side} */ (sides[(i + k) % sides.length]);
      round[side] = await wrk(ports[side], COMPARE_SECONDS);
    }
    completed += round.lb.requests;
    rounds.push(round);
    const { nginx, bare, lb } = round;
    console.log(
      `  round ${i + 1}: nginx ${fmt(nginx.rps, 0).padStart(6)} req/s p99 ${fmt(nginx.p99)} ms | bare Node proxy ${fmt(bare.rps, 0).padStart(6)} req/s p99 ${fmt(bare.p99)} ms | load-balancer ${fmt(lb.rps, 0).padStart(6)} req/s p99 ${fmt(lb.p99)} ms | LB/nginx ${fmt(lb.rps / nginx.rps, 3)} LB/bare ${fmt(lb.rps / bare.rps, 3)}`,
    );
  }
  const errors = (/** @type {Side} */ side) => rounds.reduce((sum, r) => sum + r[side].errors, 0);
  console.log('median of the rounds:');
  console.log('proxy              req/s       p50 ms   p99 ms   errors');
  for (const [name, side] of /** @type {const} */ ([
    ['nginx (1 worker)', 'nginx'],
    ['bare Node proxy', 'bare'],
    ['load-balancer', 'lb'],
  ])) {
    const rps = median(rounds.map((r) => r[side].rps));
    const p50 = median(rounds.map((r) => r[side].p50));
    const p99 = median(rounds.map((r) => r[side].p99));
    console.log(
      `${name.padEnd(18)} ${fmt(rps, 0).padStart(9)}   ${fmt(p50).padStart(6)}   ${fmt(p99).padStart(6)}   ${errors(side)}`,
    );
  }
  const ratios = rounds.map((r) => r.lb.rps / r.nginx.rps);
  const ofBare = rounds.map((r) => r.lb.rps / r.bare.rps);
  console.log(
    `ratio load-balancer / nginx: median ${fmt(median(ratios), 3)} (rounds ${fmt(Math.min(...ratios), 3)}–${fmt(Math.max(...ratios), 3)}; target >= 0.30); load-balancer p99 median ${fmt(median(rounds.map((r) => r.lb.p99)))} ms (target <= 5)`,
  );
  console.log(
    `load-balancer / bare Node proxy: median ${fmt(median(ofBare), 3)} of its requests/s; p99 ${fmt(median(rounds.map((r) => r.lb.p99)))} ms against ${fmt(median(rounds.map((r) => r.bare.p99)))} ms`,
  );

  const slice = STABILITY_SECONDS >= 20 ? 10 : Math.max(1, Math.floor(STABILITY_SECONDS / 2));
  const slices = Math.max(2, Math.floor(STABILITY_SECONDS / slice));
  console.log(
    `\nstability: the load balancer under load for ${slices * slice} s (${slices} slices of ${slice} s), nginx for ${slice} s before and after as the machine's reference`,
  );
  const lbPid = lb.pid ?? 0;
  const before = await wrk(nginxPort, slice);
  /** @type {number[]} */
  const statsMs = [];
  let loading = true;
  const probe = (async () => {
    while (loading) {
      const t0 = performance.now();
      const res = await fetch(`http://127.0.0.1:${lbPort}/stats`);
      await res.json();
      statsMs.push(performance.now() - t0);
      await sleep(500);
    }
  })();
  /** @type {{ rps: number, rss: number }[]} */
  const results = [];
  for (let i = 0; i < slices; i++) {
    const r = await wrk(lbPort, slice);
    completed += r.requests;
    const rss = rssMb(lbPid);
    results.push({ rps: r.rps, rss });
    console.log(
      `  ${String((i + 1) * slice).padStart(3)} s: ${fmt(r.rps, 0).padStart(7)} req/s  p99 ${fmt(r.p99)} ms  errors ${r.errors}  RSS ${fmt(rss, 1)} MB`,
    );
  }
  loading = false;
  await probe;
  const after = await wrk(nginxPort, slice);
  const first = results[0] ?? { rps: 0, rss: 0 };
  const last = results.at(-1) ?? first;
  statsMs.sort((a, b) => a - b);
  const at = (/** @type {number} */ q) =>
    statsMs[Math.min(statsMs.length - 1, Math.floor(q * statsMs.length))] ?? Number.NaN;
  console.log(`  nginx reference: ${fmt(before.rps, 0)} req/s before, ${fmt(after.rps, 0)} req/s after`);
  console.log(
    `  last slice / first slice throughput: ${fmt(last.rps / first.rps, 3)}; against the nginx reference: ${fmt(last.rps / after.rps / (first.rps / before.rps), 3)} (target >= 0.95)`,
  );
  console.log(`  RSS last / first: ${fmt(last.rss / first.rss, 3)} (target <= 1.10)`);
  console.log(
    `  GET /stats under load (${statsMs.length} samples): median ${fmt(at(0.5))} ms, max ${fmt(statsMs.at(-1) ?? Number.NaN)} ms (target <= 20)`,
  );
  const lbStats = /** @type {{ 'load-balancer': { total_requests: number } }} */ (
    await (await fetch(`http://127.0.0.1:${lbPort}/stats`)).json()
  );
  console.log(
    `  wrk completed ${completed} requests through the load balancer; it counted ${lbStats['load-balancer'].total_requests} (requests cut off when each wrk run ends count too)`,
  );
}

/** @param {number[]} values */
function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

process.on('SIGINT', () => {
  void stopChildren().then(() => process.exit(130));
});
main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
