#!/usr/bin/env node
// @ts-check
// Benchmark: the load balancer (stats on, one process) against the same build without its
// per-route and per-target figures and three other proxies, all passing GET /api/posts/7 to the
// same trivial upstream under the same wrk load at concurrency 50, in alternating rounds in one
// run: the cheapest proxy Node allows (a bare undici pool, no routing,
// counting or logs; load-tests/src/bare-hop.ts), which is what Node itself costs on this machine;
// `@fastify/http-proxy` (bench/fastify-proxy.mjs), what Fastify's own parts give; and nginx (one
// worker, keep-alive upstream). Only same-run ratios mean anything on a shared machine, so the
// figures are ratios per round, checked against the bounds below, beside the CPU time each proxy's
// processes spend per request (steadier than throughput when the machine's speed drifts, since it
// does not count time spent waiting for a core). Then a longer run of the load
// balancer alone for stability: throughput of the last 10 s against the first (also against
// nginx runs just before and after, which show how much the machine itself drifted), RSS
// growth, /stats latency.
// Settings: BENCH_SECONDS (stability run, default 60), BENCH_ROUNDS (comparison rounds, default
// 5), BENCH_COMPARE_SECONDS (each side of a round, default 5), BENCH_CONNECTIONS (default 50).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { wrk as runWrk } from '@titanium/load-tests/wrk';

const BARE_HOP = fileURLToPath(import.meta.resolve('@titanium/load-tests/bare-hop'));
const FASTIFY_PROXY = fileURLToPath(new URL('./fastify-proxy.mjs', import.meta.url));

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const STABILITY_SECONDS = positive('BENCH_SECONDS', 60);
const COMPARE_SECONDS = positive('BENCH_COMPARE_SECONDS', 5);
const ROUNDS = positive('BENCH_ROUNDS', 5);
const CONNECTIONS = positive('BENCH_CONNECTIONS', 50);
// A route of the API (GET /api/posts/:id), so the load balancer files it under its template.
const PATH = '/api/posts/7';
/** The load balancer's default pool per target (LB_UPSTREAM_CONNECTIONS), given to every Node side. */
const UPSTREAM_CONNECTIONS = 256;
const SIGNALS = /** @type {const} */ ({ SIGINT: 2, SIGTERM: 15, SIGHUP: 1 });

/** @typedef {'lb' | 'lbPlain' | 'bare' | 'fastify' | 'nginx'} Side */
/** @type {[Side, string][]} */
const SIDES = [
  ['lb', 'load-balancer'],
  ['lbPlain', 'LB without breakdown'],
  ['bare', 'bare undici proxy'],
  ['fastify', '@fastify/http-proxy'],
  ['nginx', 'nginx (1 worker)'],
];
/** @typedef {import('@titanium/load-tests/wrk').WrkResult} WrkResult */
/** @typedef {WrkResult & { cpuUs: number }} Run wrk's figures, and the proxy's CPU time per request (µs) */
/** @typedef {Record<Side, Run>} Round */
/**
 * What the load balancer must keep against the others (issues #12 and #13), and the p99 it aims for.
 * @type {{ label: string, of: (r: Round) => number, at: 'least' | 'most', limit: number, kind: string }[]}
 */
const BOUNDS = [
  {
    label: 'requests/s LB / LB without breakdown',
    of: (r) => r.lb.rps / r.lbPlain.rps,
    at: 'least',
    limit: 0.95,
    kind: 'bound',
  },
  {
    label: 'requests/s LB / bare undici proxy',
    of: (r) => r.lb.rps / r.bare.rps,
    at: 'least',
    limit: 0.9,
    kind: 'bound',
  },
  {
    label: 'requests/s LB / @fastify/http-proxy',
    of: (r) => r.lb.rps / r.fastify.rps,
    at: 'least',
    limit: 1.3,
    kind: 'bound',
  },
  { label: 'requests/s LB / nginx', of: (r) => r.lb.rps / r.nginx.rps, at: 'least', limit: 0.3, kind: 'bound' },
  { label: 'p99 LB / bare undici proxy', of: (r) => r.lb.p99 / r.bare.p99, at: 'most', limit: 1.2, kind: 'goal' },
];
/** Ratios shown without a bound: what each request costs the load balancer's process, against the others'. */
const COSTS = [
  { label: 'CPU per request LB / bare undici proxy', of: (/** @type {Round} */ r) => r.lb.cpuUs / r.bare.cpuUs },
  { label: 'CPU per request LB / @fastify/http-proxy', of: (/** @type {Round} */ r) => r.lb.cpuUs / r.fastify.cpuUs },
];

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

/** Aborted by SIGINT, SIGTERM or SIGHUP: the run unwinds, stops what it started and exits. */
const stop = new AbortController();
let exitSignal = 0;
for (const [name, number] of Object.entries(SIGNALS)) {
  process.on(name, () => {
    exitSignal ||= number;
    stop.abort(new Error(`stopped by ${name}`));
  });
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
  stop.signal.throwIfAborted();
}

/** @type {import('node:child_process').ChildProcess[]} */
const children = [];
/** @param {string} command @param {string[]} args @param {NodeJS.ProcessEnv} [env] */
function start(command, args, env) {
  stop.signal.throwIfAborted();
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
      const res = await fetch(url, { signal: AbortSignal.any([stop.signal, AbortSignal.timeout(500)]) });
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {}
    await sleep(100, undefined, { signal: stop.signal });
  }
  throw new Error(`${url} did not answer`);
}

/** @param {number} port @param {number} seconds */
const wrk = (port, seconds) => runWrk(`http://127.0.0.1:${port}${PATH}`, CONNECTIONS, seconds, stop.signal);

/** @param {string} url */
async function getJson(url) {
  const res = await fetch(url, { signal: AbortSignal.any([stop.signal, AbortSignal.timeout(5_000)]) });
  return res.json();
}

/** @param {number} pid */
function rssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) / 1024;
}

/** The fields of /proc/<pid>/stat after the command name (which may hold spaces). */
function procStat(/** @type {string} */ pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Every process's parent and CPU time so far (utime, stime, cutime, cstime), in clock ticks. */
function processes() {
  /** @type {Map<string, string[]>} */
  const byParent = new Map();
  /** @type {Map<string, number>} */
  const ticks = new Map();
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    const fields = procStat(pid);
    if (!fields) continue;
    const parent = fields[1] ?? '';
    byParent.set(parent, [...(byParent.get(parent) ?? []), pid]);
    ticks.set(
      pid,
      fields
        .slice(11, 15)
        .map(Number)
        .reduce((sum, n) => sum + n, 0),
    );
  }
  return { byParent, ticks };
}

/** CPU ticks of a process and everything below it (nginx's workers, wrk). */
function treeTicks(/** @type {ReturnType<typeof processes>} */ all, /** @type {number | undefined} */ root) {
  let sum = 0;
  const queue = root === undefined ? [] : [String(root)];
  for (let pid = queue.pop(); pid !== undefined; pid = queue.pop()) {
    sum += all.ticks.get(pid) ?? 0;
    queue.push(...(all.byParent.get(pid) ?? []));
  }
  return sum;
}

/**
 * CPU time so far, in clock ticks, of the whole machine (busy, not idle or waiting) and of this
 * benchmark: this process, everything below it, and the finished children it collected (wrk).
 */
function cpuTicks() {
  const machine = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').split(/\s+/).slice(1, 9).map(Number);
  const busy = machine.reduce((sum, n) => sum + n, 0) - (machine[3] ?? 0) - (machine[4] ?? 0);
  return { busy, own: treeTicks(processes(), process.pid) };
}

/** 1 clock tick (USER_HZ, 100 on Linux) in µs. */
const TICK_US = 10_000;

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
  const [upstreamPort, nginxPort, barePort, fastifyPort, lbPort, plainPort] = [
    await freePort(),
    await freePort(),
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
  const idleLoad = loadavg()[0] ?? Number.NaN;
  start('nginx', ['-c', join(dir, 'upstream.conf'), '-p', dir]);
  const upstream = `http://127.0.0.1:${upstreamPort}`;
  const nginxProxy = start('nginx', ['-c', join(dir, 'proxy.conf'), '-p', dir]);
  const bare = start(process.execPath, [BARE_HOP, 'proxy', String(barePort), upstream, String(UPSTREAM_CONNECTIONS)]);
  const fastify = start(process.execPath, [FASTIFY_PROXY, String(fastifyPort), upstream, String(UPSTREAM_CONNECTIONS)]);
  const lbEnv = {
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    API_GATEWAY_URL: upstream,
    DASHBOARD_UI_URL: upstream,
    BLOG_SERVICE_URL: upstream,
    AUTH_SERVICE_URL: upstream,
    USER_SERVICE_URL: upstream,
    LB_UPSTREAM_CONNECTIONS: String(UPSTREAM_CONNECTIONS),
    REDIS_URL: '',
  };
  const lb = start(process.execPath, ['load-balancer/dist/server.js'], { ...lbEnv, LB_PORT: String(lbPort) });
  // The same build with the per-route and per-target figures switched off: what they cost.
  const lbPlain = start(process.execPath, ['load-balancer/dist/server.js'], {
    ...lbEnv,
    LB_PORT: String(plainPort),
    LB_TRAFFIC_BREAKDOWN: 'false',
  });
  /** @type {Record<Side, number>} */
  const ports = { lb: lbPort, lbPlain: plainPort, bare: barePort, fastify: fastifyPort, nginx: nginxPort };
  /** @type {Record<Side, number | undefined>} */
  const pids = { lb: lb.pid, lbPlain: lbPlain.pid, bare: bare.pid, fastify: fastify.pid, nginx: nginxProxy.pid };
  /** wrk on one side, with the CPU time that side's processes spent per request meanwhile. */
  const measured = async (/** @type {Side} */ side) => {
    const before = treeTicks(processes(), pids[side]);
    const result = await wrk(ports[side], COMPARE_SECONDS);
    const spent = treeTicks(processes(), pids[side]) - before;
    return { ...result, cpuUs: result.requests > 0 ? (spent * TICK_US) / result.requests : Number.NaN };
  };
  await waitFor(`${upstream}/`);
  for (const [side] of SIDES) await waitFor(`http://127.0.0.1:${ports[side]}${PATH}`);
  await waitFor(`http://127.0.0.1:${lbPort}/lb-health`);

  // The machine's speed drifts (shared cores): rounds alternate the four proxies, rotating who
  // goes first, and the per-round ratios give the figures, so a slow moment hits every side
  // instead of one.
  console.log(
    `\ncomparison: wrk -t1 -c${CONNECTIONS}, ${ROUNDS} rounds of ${COMPARE_SECONDS} s on each proxy, GET ${PATH}, one upstream (nginx answering ok)`,
  );
  let completed = 0;
  for (const [side] of SIDES) {
    const warm = await wrk(ports[side], 2);
    if (side === 'lb') completed += warm.requests;
  }
  const cpuBefore = cpuTicks();
  const startedAt = performance.now();
  /** @type {Round[]} */
  const rounds = [];
  for (let i = 0; i < ROUNDS; i++) {
    const round = /** @type {Round} */ ({});
    for (let k = 0; k < SIDES.length; k++) {
      const [side] = /** @type {[Side, string]} */ (SIDES[(i + k) % SIDES.length]);
      round[side] = await measured(side);
    }
    completed += round.lb.requests;
    rounds.push(round);
    const parts = SIDES.map(
      ([side, name]) =>
        `${name} ${fmt(round[side].rps, 0)} req/s p99 ${fmt(round[side].p99)} ms ${fmt(round[side].cpuUs, 1)} µs/req`,
    );
    console.log(`  round ${i + 1}: ${parts.join(' | ')}`);
  }
  const cpuAfter = cpuTicks();
  const cores = (/** @type {number} */ ticks) => ticks / 100 / ((performance.now() - startedAt) / 1000);

  console.log(`\nmedian of ${ROUNDS} rounds      req/s    p50 ms   p99 ms   CPU µs/req   errors`);
  for (const [side, name] of SIDES) {
    const rps = median(rounds.map((r) => r[side].rps));
    const p50 = median(rounds.map((r) => r[side].p50));
    const p99 = median(rounds.map((r) => r[side].p99));
    const cpu = median(rounds.map((r) => r[side].cpuUs));
    const errors = rounds.reduce((sum, r) => sum + r[side].errors, 0);
    console.log(
      `${name.padEnd(22)} ${fmt(rps, 0).padStart(8)}   ${fmt(p50).padStart(6)}   ${fmt(p99).padStart(6)}   ${fmt(cpu, 1).padStart(10)}   ${errors}`,
    );
  }
  console.log('\nratio (median of the rounds, lowest–highest)        value            bound');
  for (const bound of BOUNDS) {
    const values = rounds.map(bound.of);
    const value = median(values);
    const met = bound.at === 'least' ? value >= bound.limit : value <= bound.limit;
    console.log(
      `${bound.label.padEnd(40)} ${fmt(value, 3)} (${fmt(Math.min(...values), 3)}–${fmt(Math.max(...values), 3)})   ${bound.kind} ${bound.at === 'least' ? '>=' : '<='} ${fmt(bound.limit)}: ${met ? 'met' : 'NOT met'}`,
    );
  }
  for (const cost of COSTS) {
    const values = rounds.map(cost.of);
    console.log(
      `${cost.label.padEnd(40)} ${fmt(median(values), 3)} (${fmt(Math.min(...values), 3)}–${fmt(Math.max(...values), 3)})   lower is cheaper`,
    );
  }
  const own = cores(cpuAfter.own - cpuBefore.own);
  const busy = cores(cpuAfter.busy - cpuBefore.busy);
  console.log(
    `machine: load average ${fmt(idleLoad)} before the proxies started; during the rounds ${fmt(busy)} cores busy, ${fmt(own)} of them this benchmark, ${fmt(Math.max(0, busy - own))} other work`,
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
  let statsFailures = 0;
  let loading = true;
  const probe = (async () => {
    while (loading && !stop.signal.aborted) {
      const t0 = performance.now();
      try {
        await getJson(`http://127.0.0.1:${lbPort}/stats`);
        statsMs.push(performance.now() - t0);
      } catch {
        statsFailures++;
      }
      await sleep(500);
    }
  })();
  /** @type {{ rps: number, rss: number }[]} */
  const results = [];
  try {
    for (let i = 0; i < slices; i++) {
      const r = await wrk(lbPort, slice);
      completed += r.requests;
      const rss = rssMb(lbPid);
      results.push({ rps: r.rps, rss });
      console.log(
        `  ${String((i + 1) * slice).padStart(3)} s: ${fmt(r.rps, 0).padStart(7)} req/s  p99 ${fmt(r.p99)} ms  errors ${r.errors}  RSS ${fmt(rss, 1)} MB`,
      );
    }
  } finally {
    loading = false;
    await probe;
  }
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
    `  GET /stats under load (${statsMs.length} samples, ${statsFailures} failed): median ${fmt(at(0.5))} ms, max ${fmt(statsMs.at(-1) ?? Number.NaN)} ms (target <= 20)`,
  );
  const lbStats = /** @type {{ 'load-balancer': { total_requests: number } }} */ (
    await getJson(`http://127.0.0.1:${lbPort}/stats`)
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

main().then(
  () => {
    if (exitSignal) process.exit(128 + exitSignal);
  },
  (err) => {
    if (exitSignal) process.exit(128 + exitSignal);
    console.error(err);
    process.exit(1);
  },
);
