#!/usr/bin/env node
// @ts-check
// Benchmark: the load balancer (stats on, one process) against nginx (one worker, keep-alive
// upstream), both proxying /api/bench to the same trivial upstream, with the same wrk load at
// concurrency 50, one after the other in one run. Then a longer run of the load balancer alone
// for stability: throughput of the last 10 s against the first, RSS growth, /stats latency.
// Settings: BENCH_SECONDS (stability run, default 60), BENCH_COMPARE_SECONDS (each side of the
// comparison, default 10), BENCH_CONNECTIONS (default 50).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const STABILITY_SECONDS = positive('BENCH_SECONDS', 60);
const COMPARE_SECONDS = positive('BENCH_COMPARE_SECONDS', 10);
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

/** @param {string} text */
function toMs(text) {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  if (!match) return Number.NaN;
  const factor = { us: 0.001, ms: 1, s: 1000, m: 60_000 }[match[2] ?? 'ms'] ?? 1;
  return Number(match[1]) * factor;
}

/**
 * Runs wrk without blocking this process, so /stats can be probed meanwhile.
 * @param {number} port @param {number} seconds
 * @returns {Promise<{ rps: number, p50: number, p99: number, requests: number, errors: number }>}
 */
async function wrk(port, seconds) {
  const child = spawn('wrk', [
    '-t1',
    `-c${CONNECTIONS}`,
    `-d${seconds}s`,
    '--latency',
    `http://127.0.0.1:${port}${PATH}`,
  ]);
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => {
    out += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk) => {
    err += chunk;
  });
  const status = await new Promise((resolve) => child.once('close', resolve));
  if (status !== 0) throw new Error(`wrk failed: ${err}`);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const p50 = toMs(/^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? '');
  const p99 = toMs(/^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? '');
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = non2xx + (socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0);
  return { rps, p50, p99, requests, errors };
}

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
  process.on('exit', () => {
    // SIGTERM, not SIGKILL: an nginx master stops its worker only when it can handle the signal.
    for (const child of children) child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });
  const [upstreamPort, nginxPort, lbPort] = [await freePort(), await freePort(), await freePort()];
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
  await waitFor(`http://127.0.0.1:${lbPort}/lb-health`);

  console.log(`\ncomparison: wrk -t1 -c${CONNECTIONS}, ${COMPARE_SECONDS} s each, GET ${PATH} through each proxy`);
  await wrk(nginxPort, 2);
  const nginx = await wrk(nginxPort, COMPARE_SECONDS);
  await wrk(lbPort, 2);
  const mine = await wrk(lbPort, COMPARE_SECONDS);
  console.log('proxy            req/s       p50 ms   p99 ms   errors');
  for (const [name, r] of /** @type {const} */ ([
    ['nginx (1 worker)', nginx],
    ['load-balancer', mine],
  ])) {
    console.log(
      `${name.padEnd(16)} ${fmt(r.rps, 0).padStart(9)}   ${fmt(r.p50).padStart(6)}   ${fmt(r.p99).padStart(6)}   ${r.errors}`,
    );
  }
  const ratio = mine.rps / nginx.rps;
  console.log(
    `ratio load-balancer / nginx: ${fmt(ratio, 3)}  (target >= 0.30); load-balancer p99 ${fmt(mine.p99)} ms (target <= 5)`,
  );

  const slice = STABILITY_SECONDS >= 20 ? 10 : Math.max(1, Math.floor(STABILITY_SECONDS / 2));
  const slices = Math.max(2, Math.floor(STABILITY_SECONDS / slice));
  console.log(`\nstability: the load balancer under load for ${slices * slice} s (${slices} slices of ${slice} s)`);
  const lbPid = lb.pid ?? 0;
  /** @type {number[]} */
  const statsMs = [];
  let loading = true;
  const probe = (async () => {
    await sleep(slice * 1000);
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
    const rss = rssMb(lbPid);
    results.push({ rps: r.rps, rss });
    console.log(
      `  ${String((i + 1) * slice).padStart(3)} s: ${fmt(r.rps, 0).padStart(7)} req/s  p99 ${fmt(r.p99)} ms  errors ${r.errors}  RSS ${fmt(rss, 1)} MB`,
    );
  }
  loading = false;
  await probe;
  const first = results[0] ?? { rps: 0, rss: 0 };
  const last = results.at(-1) ?? first;
  statsMs.sort((a, b) => a - b);
  const at = (/** @type {number} */ q) =>
    statsMs[Math.min(statsMs.length - 1, Math.floor(q * statsMs.length))] ?? Number.NaN;
  console.log(`  last slice / first slice throughput: ${fmt(last.rps / first.rps, 3)} (target >= 0.95)`);
  console.log(`  RSS last / first: ${fmt(last.rss / first.rss, 3)} (target <= 1.10)`);
  console.log(
    `  GET /stats under load (${statsMs.length} samples): median ${fmt(at(0.5))} ms, max ${fmt(statsMs.at(-1) ?? Number.NaN)} ms (target <= 20)`,
  );
  const lbStats = await (await fetch(`http://127.0.0.1:${lbPort}/stats`)).json();
  console.log(`  load balancer counted ${lbStats['load-balancer'].total_requests} requests in total`);
}

main()
  .then(() => process.exit(0))
  .catch((err) => {
    console.error(err);
    process.exit(1);
  });
