#!/usr/bin/env node
// @ts-check
// Runs the whole Titanium stack locally: builds if needed, starts redis-server (when installed)
// and the six services, prefixes every log line with its process name, restarts a process that
// dies, and stops everything on Ctrl-C or SIGTERM.
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import TABLE from '@titanium/service-kit/service-table.json' with { type: 'json' };

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const EXIT_CONFIG = 78;

const env = process.env;
// The service table as data: it needs no build. Its order is the start order (dependencies first);
// the stop is the other way round.
const SERVICES = TABLE.services.map(({ name, port, urlVariable }) => ({
  name,
  portVar: port.variable,
  port: readPort(port.variable, port.default),
  urlVar: urlVariable,
}));
/** @param {string} portVar */
const portOf = (portVar) => SERVICES.find((s) => s.portVar === portVar)?.port;
const color = process.stdout.isTTY && !env.NO_COLOR;
const COLORS = [36, 32, 33, 35, 34, 96, 91];
const nameWidth = Math.max(...SERVICES.map((s) => s.name.length), 'titanium'.length);

/** @param {string} name @param {number} index */
function prefix(name, index) {
  const label = name.padEnd(nameWidth);
  return color ? `\x1b[${COLORS[index % COLORS.length]}m${label}\x1b[0m | ` : `${label} | `;
}

const ownPrefix = prefix('titanium', COLORS.length - 1);
/** @param {string} message */
function say(message) {
  process.stdout.write(`${ownPrefix}${message}\n`);
}

/** @param {string} name @param {number} fallback */
function readPort(name, fallback) {
  const raw = env[name]?.trim() || String(fallback);
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 65535) {
    process.stderr.write(
      `titanium: invalid configuration: ${name} must be a TCP port (1-65535); got ${JSON.stringify(raw)}\n`,
    );
    process.exit(EXIT_CONFIG);
  }
  return Number(raw);
}

/**
 * A URL as it may be printed: any password replaced by `***` (a Redis URL may carry one).
 * @param {string} url
 */
function withoutPassword(url) {
  try {
    const parsed = new URL(url);
    if (!parsed.password) return url;
    parsed.password = '***';
    return parsed.href;
  } catch {
    return '(not a valid URL)';
  }
}

/** @param {number} port @param {string} [host] @returns {Promise<boolean>} */
function portTaken(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
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

/** @param {string} command */
function onPath(command) {
  const dirs = [...(env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin'];
  return dirs.some((dir) => {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return dir !== '';
    } catch {
      return false;
    }
  });
}

/** @type {import('node:child_process').ChildProcess | undefined} */
let buildProc;

/** Runs `npm run build` with its lines prefixed; a stop signal meanwhile ends it (see shutdown). */
async function build() {
  say('building (tsc -b; quick when nothing changed)…');
  const proc = spawn('npm', ['run', '--silent', 'build'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Own process group, so a stop reaches npm's shell and tsc too, not only npm.
    detached: true,
  });
  buildProc = proc;
  const tag = prefix('build', SERVICES.length + 1);
  for (const stream of [proc.stdout, proc.stderr]) {
    createInterface({ input: stream }).on('line', (line) => process.stdout.write(`${tag}${line}\n`));
  }
  /** @type {number | null} */
  const status = await new Promise((resolve) => {
    proc.once('error', (err) => {
      say(`build could not start: ${err.message}`);
      resolve(1);
    });
    proc.once('close', (code, signal) => resolve(signal ? 1 : code));
  });
  buildProc = undefined;
  if (stopping) return false;
  if (status !== 0) {
    say('build failed; fix the errors above and run npm start again');
    process.exit(status ?? 1);
  }
  return true;
}

/** Ends the build's whole process group. @param {NodeJS.Signals} signal */
function killBuild(signal) {
  const pid = buildProc?.pid;
  if (pid === undefined || buildProc?.exitCode !== null || buildProc?.signalCode !== null) return;
  try {
    process.kill(-pid, signal);
  } catch {}
}

/**
 * @typedef {object} Child
 * @property {string} name
 * @property {number} index
 * @property {string} command
 * @property {string[]} args
 * @property {number} [port]
 * @property {import('node:child_process').ChildProcess} [proc]
 * @property {number} restarts
 * @property {number} startedAt
 * @property {NodeJS.Timeout} [restartTimer]
 * @property {boolean} [ready]
 */

/** @type {Child[]} */
const children = [];
let stopping = false;

/** @param {Child} child @param {NodeJS.ProcessEnv} childEnv */
function launch(child, childEnv) {
  child.startedAt = Date.now();
  const proc = spawn(child.command, child.args, {
    cwd: ROOT,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Own process group: a terminal's Ctrl-C reaches only this script, which stops children in order.
    detached: true,
  });
  child.proc = proc;
  const tag = prefix(child.name, child.index);
  for (const stream of [proc.stdout, proc.stderr]) {
    createInterface({ input: stream }).on('line', (line) => process.stdout.write(`${tag}${line}\n`));
  }
  proc.once('error', (err) => say(`${child.name} could not start: ${err.message}`));
  proc.once('exit', (code, signal) => {
    child.proc = undefined;
    child.ready = false;
    if (stopping) return;
    const how = signal ? `signal ${signal}` : `exit code ${code}`;
    if (code === EXIT_CONFIG) {
      say(`${child.name} stopped: its configuration is invalid (see above). Stopping the stack.`);
      void shutdown(EXIT_CONFIG);
      return;
    }
    // Back off 1 s, 2 s, 4 s … up to 30 s; a process that ran for a minute starts again at 1 s.
    if (Date.now() - child.startedAt > 60_000) child.restarts = 0;
    const delay = Math.min(30_000, 1000 * 2 ** child.restarts);
    child.restarts++;
    say(`${child.name} died (${how}); restarting in ${delay / 1000} s (restart ${child.restarts})`);
    child.restartTimer = setTimeout(() => {
      child.restartTimer = undefined;
      if (stopping) return;
      launch(child, childEnv);
      say(`${child.name} restarted (pid ${child.proc?.pid})`);
    }, delay);
  });
}

/** Waits until every service answers /ready (or time runs out) and says which did not. */
async function waitUntilReady(timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  const pending = children.filter((c) => c.port !== undefined && c.name !== 'redis');
  while (!stopping && Date.now() < deadline) {
    await Promise.all(
      pending.map(async (child) => {
        if (child.ready) return;
        try {
          const res = await fetch(`http://127.0.0.1:${child.port}${TABLE.probes.ready}`, {
            signal: AbortSignal.timeout(1000),
          });
          // Only our own live process counts: another program answering on the port does not.
          child.ready = res.status === 200 && child.proc !== undefined;
        } catch {
          child.ready = false;
        }
      }),
    );
    // A child that lost its port to another program dies a moment after the check; look again.
    if (pending.every((c) => c.ready)) {
      await sleep(300);
      if (pending.every((c) => c.ready)) return true;
    }
    await sleep(200);
  }
  if (!stopping)
    say(
      `not ready after ${timeoutMs / 1000} s: ${pending
        .filter((c) => !c.ready)
        .map((c) => c.name)
        .join(', ')}`,
    );
  return false;
}

/** @param {Child} child @param {number} graceMs */
async function stopChild(child, graceMs) {
  if (child.restartTimer) clearTimeout(child.restartTimer);
  const proc = child.proc;
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  // 'close' rather than 'exit': it comes after the last output line has been read.
  const gone = new Promise((resolve) => proc.once('close', resolve));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => {
    say(`${child.name} did not stop within ${graceMs / 1000} s; killing it`);
    proc.kill('SIGKILL');
  }, graceMs);
  await gone;
  clearTimeout(timer);
}

/** @type {string | undefined} */
let redisDir;

/** @param {number} code */
async function shutdown(code) {
  if (stopping) return;
  stopping = true;
  say('stopping…');
  const graceMs = Number(env.STOP_TIMEOUT_MS) || 15_000;
  if (buildProc) {
    const built = buildProc;
    const gone = new Promise((resolve) => built.once('close', resolve));
    killBuild('SIGTERM');
    const timer = setTimeout(() => killBuild('SIGKILL'), graceMs);
    await gone;
    clearTimeout(timer);
  }
  const services = children.filter((c) => c.name !== 'redis').reverse();
  // The front door first, so no new work arrives; then everything behind it at once.
  const [front, ...rest] = services;
  if (front) await stopChild(front, graceMs);
  await Promise.all(rest.map((child) => stopChild(child, graceMs)));
  const redis = children.find((c) => c.name === 'redis');
  if (redis) await stopChild(redis, graceMs);
  if (redisDir) rmSync(redisDir, { recursive: true, force: true });
  say('stopped');
  process.exit(code);
}

async function main() {
  const taken = [];
  for (const service of SERVICES) {
    if (await portTaken(service.port)) taken.push(`${service.port} (${service.portVar})`);
  }
  if (taken.length > 0) {
    process.stderr.write(
      `titanium: port ${taken.join(', ')} already in use; stop what uses it or choose another port with the variable named\n`,
    );
    process.exit(1);
  }

  // The stop handlers come before the build, so a Ctrl-C during it ends the build too.
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
  // If whatever started this script dies without passing a signal on (a SIGKILLed npm, a closed
  // terminal), this process is re-parented: stop the stack rather than leave it running unowned.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) {
      say('the parent process is gone');
      void shutdown(0);
    }
  }, 500).unref();
  process.on('exit', () => {
    killBuild('SIGKILL');
    for (const child of children) child.proc?.kill('SIGKILL');
  });

  if (env.TITANIUM_SKIP_BUILD !== '1' && !(await build())) return;

  /** @type {NodeJS.ProcessEnv} */
  const childEnv = { ...env, HOST: env.HOST || '127.0.0.1' };
  for (const service of SERVICES) {
    childEnv[service.portVar] = String(service.port);
    if (service.urlVar) childEnv[service.urlVar] = env[service.urlVar] || `http://127.0.0.1:${service.port}`;
  }
  // Local databases live in the git-ignored .data/ rather than the container path /data,
  // unless a path is given.
  for (const { variable, file } of TABLE.services.flatMap((s) => s.database ?? [])) {
    const path = env[variable] || join(ROOT, '.data', file);
    childEnv[variable] = path;
    mkdirSync(dirname(path), { recursive: true });
  }

  let redisNote;
  if (env.REDIS_URL) {
    redisNote = `${withoutPassword(env.REDIS_URL)} (from REDIS_URL)`;
  } else if (onPath('redis-server')) {
    const port = await freePort();
    redisDir = mkdtempSync(join(tmpdir(), 'titanium-redis-'));
    const redis = {
      name: 'redis',
      index: SERVICES.length,
      command: 'redis-server',
      args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', redisDir],
      port,
      restarts: 0,
      startedAt: 0,
    };
    children.push(redis);
    launch(redis, env);
    const deadline = Date.now() + 10_000;
    while (!(await portTaken(port)) && Date.now() < deadline) await sleep(50);
    childEnv.REDIS_URL = `redis://127.0.0.1:${port}`;
    redisNote = childEnv.REDIS_URL;
  } else {
    redisNote = 'absent';
    say(
      'redis-server is not installed: running without Redis (the cache reports OFFLINE). Install it with: apt-get install -y redis-server',
    );
  }

  SERVICES.forEach((service, index) => {
    const child = {
      name: service.name,
      index,
      command: process.execPath,
      args: [join(service.name, 'dist', 'server.js')],
      port: service.port,
      restarts: 0,
      startedAt: 0,
    };
    children.push(child);
    launch(child, childEnv);
  });

  if (await waitUntilReady()) {
    const lb = `http://localhost:${portOf('LB_PORT')}`;
    const lines = [
      'Titanium is up.',
      `  dashboard      ${lb}/`,
      `  stats          ${lb}/stats`,
      `  api gateway    http://localhost:${portOf('API_GATEWAY_PORT')}/api/`,
      ...SERVICES.map(
        (s) =>
          `  ${s.name.padEnd(14)} http://localhost:${s.port}  (pid ${children.find((c) => c.name === s.name)?.proc?.pid})`,
      ),
      `  redis          ${redisNote}`,
      'Press Ctrl-C to stop.',
    ];
    for (const line of lines) say(line);
  }
}

main().catch((err) => {
  say(`failed: ${err instanceof Error ? err.message : String(err)}`);
  void shutdown(1);
});
