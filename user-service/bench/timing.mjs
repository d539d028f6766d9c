#!/usr/bin/env node
// @ts-check
// Prints how long user-service takes to answer credential checks (right password, wrong
// password, unknown user: the last two should match) and lookups from Redis versus SQLite.
// Then 30 logins at once: how long the burst takes and the service's memory before, at its peak
// and after. Runs the built service (npm run build first; USER_SERVICE_SERVER names another
// build's server.js to compare) on free loopback ports; about 30 seconds.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const SERVER = process.env.USER_SERVICE_SERVER || fileURLToPath(new URL('../dist/server.js', import.meta.url));
const BURST = 30;

/** Resident memory of a process in MiB. @param {number | undefined} pid */
function rssMiB(pid) {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
  return line ? Number(line[1]) / 1024 : Number.NaN;
}
const ROUNDS = Number(process.env.BENCH_ROUNDS) || 60;

/** @returns {Promise<number>} */
function freePort() {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** @param {string} url */
async function waitReady(url) {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${url}/ready`)).ok) return;
    } catch {}
    await sleep(50);
  }
  throw new Error(`${url} did not become ready`);
}

/** @param {number[]} values @param {number} q */
const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
};

/** @param {string} label @param {() => Promise<Response>} request */
async function measure(label, request) {
  const times = [];
  for (let i = 0; i < ROUNDS; i++) {
    const startedAt = performance.now();
    const res = await request();
    await res.arrayBuffer();
    times.push(performance.now() - startedAt);
  }
  const fmt = (/** @type {number} */ ms) => ms.toFixed(2).padStart(7);
  console.log(`${label.padEnd(40)} median ${fmt(quantile(times, 0.5))} ms   p95 ${fmt(quantile(times, 0.95))} ms`);
}

const dir = mkdtempSync(join(tmpdir(), 'titanium-bench-'));
/** @type {import('node:child_process').ChildProcess[]} */
const children = [];
try {
  const redisPort = await freePort();
  const hasRedis = spawnSync('redis-server', ['--version']).status === 0;
  if (hasRedis) {
    children.push(
      spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', ''], { stdio: 'ignore' }),
    );
  }
  /** @type {Map<string, number | undefined>} */
  const pids = new Map();
  const start = async (/** @type {Record<string, string>} */ env) => {
    const port = await freePort();
    const child = spawn(process.execPath, [SERVER], {
      env: { ...process.env, HOST: '127.0.0.1', USER_SERVICE_PORT: String(port), LOG_LEVEL: 'warn', ...env },
      stdio: 'ignore',
    });
    children.push(child);
    const url = `http://127.0.0.1:${port}`;
    await waitReady(url);
    pids.set(url, child.pid);
    return url;
  };
  const dbPath = join(dir, 'users.db');
  const cached = await start({ DATABASE_PATH: dbPath, REDIS_URL: hasRedis ? `redis://127.0.0.1:${redisPort}` : '' });
  const uncached = await start({ DATABASE_PATH: dbPath, REDIS_URL: '', REDIS_HOST: '' });
  const post = (/** @type {string} */ url, /** @type {string} */ path, /** @type {unknown} */ body) =>
    fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  await post(cached, '/users', { username: 'bench', email: 'bench@example.com', password: 'bench-password' });
  await sleep(300);

  console.log(`user-service timing, ${ROUNDS} sequential requests each`);
  const check = (/** @type {string} */ username, /** @type {string} */ password) => () =>
    post(cached, '/users/verify-credentials', { username, password });
  await measure('verify-credentials, right password', check('bench', 'bench-password'));
  await measure('verify-credentials, wrong password', check('bench', 'not-the-password'));
  await measure('verify-credentials, unknown user', check('nobody', 'not-the-password'));
  if (hasRedis) await measure('GET /users/:name from Redis', () => fetch(`${cached}/users/bench`));
  await measure('GET /users/:name from SQLite (no Redis)', () => fetch(`${uncached}/users/bench`));

  const pid = pids.get(cached);
  const before = rssMiB(pid);
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssMiB(pid));
  }, 5);
  const startedAt = performance.now();
  const answers = await Promise.all(
    Array.from({ length: BURST }, async () => {
      const res = await check('bench', 'bench-password')();
      await res.arrayBuffer();
      return res.status;
    }),
  );
  const burstMs = performance.now() - startedAt;
  clearInterval(sampler);
  await sleep(200);
  const ok = answers.filter((status) => status === 200).length;
  console.log(
    `${BURST} logins at once: ${ok} answered 200 in ${burstMs.toFixed(0)} ms; memory ${before.toFixed(1)} MiB before, ` +
      `peak ${peak.toFixed(1)} MiB (+${(peak - before).toFixed(1)}), ${rssMiB(pid).toFixed(1)} MiB after`,
  );
} finally {
  for (const child of children) child.kill('SIGTERM');
  await sleep(300);
  rmSync(dir, { recursive: true, force: true });
}
