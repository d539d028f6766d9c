import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { databaseEnv, portEnv, STATS_KEYS, SERVICES as TABLE } from '@titanium/service-kit';
import {
  freePort,
  isListening,
  type ManagedProcess,
  pidAlive,
  startProcess,
  stopAllProcesses,
  waitForHttp,
} from '@titanium/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const START = fileURLToPath(new URL('../start.mjs', import.meta.url));
// These stacks keep their databases in a folder of their own, never in the developer's .data/.
const DATA_DIR = mkdtempSync(join(tmpdir(), 'titanium-start-'));
const dataEnv = () => databaseEnv(DATA_DIR);
afterAll(() => rmSync(DATA_DIR, { recursive: true, force: true }));
const SERVICES = TABLE.map((service) => service.name);

describe('npm start', () => {
  let stack: ManagedProcess;
  const ports: Record<string, number> = {};
  const pids: Record<string, number> = {};
  let redisPort = 0;

  beforeAll(async () => {
    for (const name of SERVICES) ports[name] = await freePort();
    const env = { TITANIUM_SKIP_BUILD: '1', NO_COLOR: '1', ...dataEnv(), ...portEnv(ports) };
    stack = startProcess('start', process.execPath, [START], env);
    await stack.waitForLine(/Press Ctrl-C to stop/, 30_000);
    for (const name of SERVICES) {
      const match = await stack.waitForLine(
        new RegExp(`^titanium +\\| +${name} +http://localhost:(\\d+) +\\(pid (\\d+)\\)`),
      );
      expect(Number(match[1])).toBe(ports[name]);
      pids[name] = Number(match[2]);
    }
    redisPort = Number((await stack.waitForLine(/redis +redis:\/\/127\.0\.0\.1:(\d+)/))[1]);
  });

  afterAll(stopAllProcesses);

  it('brings up all six services on the requested ports', async () => {
    for (const name of SERVICES) {
      const res = await fetch(`http://127.0.0.1:${ports[name]}/health`);
      expect(res.status, name).toBe(200);
      expect((await fetch(`http://127.0.0.1:${ports[name]}/ready`)).status, name).toBe(200);
    }
  });

  it('counts each service’s own /health in its /metrics request-duration histogram', async () => {
    for (const name of SERVICES) {
      const base = `http://127.0.0.1:${ports[name]}`;
      const count = async () => {
        const text = await (await fetch(`${base}/metrics`)).text();
        const line = text
          .split('\n')
          .find(
            (l) =>
              l.startsWith('http_request_duration_seconds_count{') &&
              l.includes('route="/health"') &&
              l.includes('method="GET"') &&
              l.includes('status_code="200"') &&
              l.includes(`service="${name}"`),
          );
        return line === undefined ? 0 : Number(line.split(' ').at(-1));
      };
      const before = await count();
      expect((await fetch(`${base}/health`)).status, name).toBe(200);
      expect(await count(), name).toBeGreaterThanOrEqual(before + 1);
    }
  });

  it('lets each service report real counters of its own traffic under its /stats key', async () => {
    for (const name of SERVICES.filter((service) => service !== 'load-balancer')) {
      const base = `http://127.0.0.1:${ports[name]}`;
      const before = (await (await fetch(`${base}/stats`)).json()) as Record<string, { requests_total: number }>;
      await fetch(`${base}/no-such-page`);
      await fetch(`${base}/no-such-page`);
      const after = (await (await fetch(`${base}/stats`)).json()) as Record<string, Record<string, unknown>>;
      const key = STATS_KEYS[name as keyof typeof STATS_KEYS];
      expect(Object.keys(after), name).toEqual([key]);
      expect(after[key]?.requests_total, name).toBe((before[key]?.requests_total ?? 0) + 2);
    }
  });

  it('gathers every service into the load balancer /stats, all online once they have found each other', async () => {
    type Stats = Record<string, Record<string, unknown>>;
    const read = async () => (await (await fetch(`http://127.0.0.1:${ports['load-balancer']}/stats`)).json()) as Stats;
    const offline = (stats: Stats) =>
      ['api-gateway', 'auth', 'user_service', 'blog_service'].filter((key) => stats[key]?.service_status !== 'online');
    // Services started side by side may see each other as unreachable for their first second.
    await expect.poll(async () => offline(await read()), { timeout: 5_000 }).toEqual([]);
    const stats = await read();
    expect(Object.keys(stats)).toEqual([
      'load-balancer',
      'api-gateway',
      'auth',
      'user_service',
      'blog_service',
      'database',
      'cache',
    ]);
    expect(stats['load-balancer']).toMatchObject({ status: 'healthy', scope: 'cluster', instances: 1 });
  });

  it('prefixes each log line with its process name and prints the dashboard URL', () => {
    const out = stack.output();
    for (const name of SERVICES)
      expect(out).toMatch(new RegExp(`^${name} +\\| \\{"level":30.*"service":"${name}"`, 'm'));
    expect(out).toContain(`dashboard      http://localhost:${ports['load-balancer']}/`);
  });

  it('runs a real redis-server on a free port', async () => {
    expect(redisPort).toBeGreaterThan(0);
    expect(await isListening(redisPort)).toBe(true);
    expect(stack.output()).toMatch(/^redis +\| .*Ready to accept connections/m);
  });

  it('reports a child that dies and starts it again', async () => {
    const victim = pids['auth-service'] ?? 0;
    process.kill(victim, 'SIGKILL');
    await stack.waitForLine(/auth-service died \(signal SIGKILL\); restarting in 1 s/);
    await waitForHttp(`http://127.0.0.1:${ports['auth-service']}/ready`);
    await stack.waitForLine(/auth-service ready/);
  });

  it('restarts a child that keeps dying after longer and longer delays, each twice the one before', async () => {
    const died = /^titanium +\| auth-service died \(signal SIGKILL\); restarting in (\d+) s \(restart (\d+)\)$/;
    const restarted = /^titanium +\| auth-service restarted \(pid (\d+)\)$/;
    /** The first line from `from` on that matches, once it has been printed. */
    const lineAfter = async (from: number, pattern: RegExp, timeout = 15_000) => {
      const find = () => stack.lines.slice(from).find((line) => pattern.test(line));
      await expect.poll(find, { timeout }).toBeDefined();
      return (find() as string).match(pattern) as RegExpMatchArray;
    };
    const currentPid = () => {
      const last = stack.lines.filter((line) => restarted.test(line)).at(-1);
      return last ? Number(last.match(restarted)?.[1]) : (pids['auth-service'] ?? 0);
    };
    const rounds: { delayS: number; restart: number; waitedMs: number }[] = [];
    for (let round = 0; round < 2; round++) {
      const from = stack.lines.length;
      const killedAt = performance.now();
      process.kill(currentPid(), 'SIGKILL');
      const [, delay, restart] = await lineAfter(from, died);
      await lineAfter(from, restarted, 15_000);
      const waitedMs = performance.now() - killedAt;
      rounds.push({ delayS: Number(delay), restart: Number(restart), waitedMs });
      await waitForHttp(`http://127.0.0.1:${ports['auth-service']}/ready`);
    }
    const [first, second] = rounds as [(typeof rounds)[0], (typeof rounds)[0]];
    // 1 s, 2 s, 4 s … by the restart's number, and never sooner than said.
    for (const { delayS, restart, waitedMs } of rounds) {
      expect(delayS).toBe(2 ** (restart - 1));
      expect(waitedMs).toBeGreaterThanOrEqual(delayS * 1000 - 50);
    }
    expect(second.restart).toBe(first.restart + 1);
    expect(second.delayS).toBe(first.delayS * 2);
    expect(second.delayS).toBeGreaterThanOrEqual(2);
  });

  it('stops every child, Redis and every port on SIGTERM and exits 0', async () => {
    const running = await fetch(`http://127.0.0.1:${ports['auth-service']}/stats`);
    expect(running.status).toBe(200);
    stack.signal('SIGTERM');
    const exit = await stack.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    for (const name of SERVICES) {
      expect(await isListening(ports[name] ?? 0), name).toBe(false);
      if (name !== 'auth-service') expect(pidAlive(pids[name] ?? 0), name).toBe(false);
    }
    expect(await isListening(redisPort)).toBe(false);
    for (const name of SERVICES) expect(stack.output()).toMatch(new RegExp(`^${name} +\\| .*"msg":"stopped"`, 'm'));
  });

  it('stops the load balancer first, then the services behind it, then Redis', async () => {
    if (stack.running) {
      stack.signal('SIGTERM');
      await stack.exited;
    }
    const lines = stack.lines.slice(stack.lines.findIndex((line) => /^titanium +\| stopping…$/.test(line)));
    const at = (pattern: RegExp) => {
      const index = lines.findIndex((line) => pattern.test(line));
      expect(index, String(pattern)).toBeGreaterThan(0);
      return index;
    };
    const shuttingDown = (name: string) => at(new RegExp(`^${name} +\\| .*"msg":"shutting down`));
    const stopped = (name: string) => at(new RegExp(`^${name} +\\| .*"msg":"stopped"`));
    const front = stopped('load-balancer');
    const behind = SERVICES.filter((name) => name !== 'load-balancer');
    // Each service behind it hears of the stop only once the load balancer has finished.
    for (const name of behind) expect(shuttingDown(name), name).toBeGreaterThan(front);
    const lastService = Math.max(...behind.map(stopped));
    expect(at(/^redis +\| .*Received SIGTERM/)).toBeGreaterThan(lastService);
    expect(at(/^titanium +\| stopped$/)).toBe(lines.length - 1);
  });
});

describe('npm start refuses a bad setup', () => {
  afterAll(stopAllProcesses);

  it('names a bad port variable and exits 78', async () => {
    const proc = startProcess('start', process.execPath, [START], { LB_PORT: 'seventy', TITANIUM_SKIP_BUILD: '1' });
    expect((await proc.exited).code).toBe(78);
    expect(proc.output()).toContain('LB_PORT must be a TCP port (1-65535); got "seventy"');
  });

  it('names a port that is already in use instead of half-starting', async () => {
    const { createServer } = await import('node:net');
    const blocker = createServer().listen(0, '127.0.0.1');
    await new Promise((resolve) => blocker.once('listening', resolve));
    const address = blocker.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const proc = startProcess('start', process.execPath, [START], {
      API_GATEWAY_PORT: String(port),
      TITANIUM_SKIP_BUILD: '1',
    });
    expect((await proc.exited).code).toBe(1);
    expect(proc.output()).toContain(`port ${port} (API_GATEWAY_PORT) already in use`);
    blocker.close();
  });
});

describe('npm start as a user runs it', () => {
  afterAll(stopAllProcesses);

  it.each([
    ['SIGTERM', 'passes the signal on'],
    ['SIGKILL', 'cannot pass anything on'],
  ] as const)('stops the whole stack when npm gets %s (npm %s)', async (signal, _why) => {
    const { env, ports: byName } = await freeStackEnv();
    const ports = Object.values(byName);
    const npm = startProcess(
      'npm',
      'npm',
      ['start', '--silent'],
      env,
      fileURLToPath(new URL('../..', import.meta.url)),
    );
    await npm.waitForLine(/Press Ctrl-C to stop/, 30_000);
    const pids = [...npm.output().matchAll(/\(pid (\d+)\)/g)].map((m) => Number(m[1]));
    expect(pids).toHaveLength(6);
    ports.push(Number((await npm.waitForLine(/redis +redis:\/\/127\.0\.0\.1:(\d+)/))[1]));
    npm.signal(signal);
    await npm.exited;
    const listening = async () => (await Promise.all(ports.map(isListening))).some(Boolean);
    const deadline = Date.now() + 10_000;
    while ((pids.some(pidAlive) || (await listening())) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(pids.filter(pidAlive)).toEqual([]);
    for (const port of ports) expect(await isListening(port), `port ${port}`).toBe(false);
  });
});

/** Free ports for the six services, as the variables start.mjs reads. */
async function freeStackEnv(): Promise<{ env: Record<string, string>; ports: Record<string, number> }> {
  const ports: Record<string, number> = {};
  for (const name of SERVICES) ports[name] = await freePort();
  return { env: { TITANIUM_SKIP_BUILD: '1', NO_COLOR: '1', ...dataEnv(), ...portEnv(ports) }, ports };
}

describe('npm start without Redis and on signals', () => {
  afterAll(stopAllProcesses);

  it('runs all six services without Redis when redis-server is not installed, and says so', async () => {
    const { env, ports } = await freeStackEnv();
    // A PATH with no redis-server on it (the services are started with node's own path).
    const emptyBin = mkdtempSync(join(tmpdir(), 'titanium-nobin-'));
    const stack = startProcess('start', process.execPath, [START], {
      ...env,
      PATH: emptyBin,
      REDIS_URL: '',
      REDIS_HOST: '',
    });
    try {
      await stack.waitForLine(/Press Ctrl-C to stop/, 30_000);
      expect(stack.output()).toMatch(
        /^titanium +\| redis-server is not installed: running without Redis \(the cache reports OFFLINE\)\. Install it with: apt-get install -y redis-server$/m,
      );
      expect(stack.output()).toMatch(/^titanium +\| +redis +absent$/m);
      expect(stack.output()).not.toMatch(/^redis +\|/m);
      for (const name of SERVICES) {
        expect((await fetch(`http://127.0.0.1:${ports[name]}/ready`)).status, name).toBe(200);
      }
      stack.signal('SIGTERM');
      expect(await stack.exited).toEqual({ code: 0, signal: null });
    } finally {
      rmSync(emptyBin, { recursive: true, force: true });
    }
  });

  it('stops every child, Redis and every port on SIGINT (Ctrl-C) and exits 0', async () => {
    const { env, ports } = await freeStackEnv();
    const stack = startProcess('start', process.execPath, [START], env);
    await stack.waitForLine(/Press Ctrl-C to stop/, 30_000);
    const pids = [...stack.output().matchAll(/\(pid (\d+)\)/g)].map((m) => Number(m[1]));
    expect(pids).toHaveLength(6);
    const redisPort = Number((await stack.waitForLine(/redis +redis:\/\/127\.0\.0\.1:(\d+)/))[1]);
    stack.signal('SIGINT');
    expect(await stack.exited).toEqual({ code: 0, signal: null });
    expect(pids.filter(pidAlive)).toEqual([]);
    for (const name of SERVICES) expect(await isListening(ports[name] ?? 0), name).toBe(false);
    expect(await isListening(redisPort)).toBe(false);
    for (const name of SERVICES) expect(stack.output()).toMatch(new RegExp(`^${name} +\\| .*"msg":"stopped"`, 'm'));
  });

  it('stops the stack with exit 78 when a service refuses its configuration', async () => {
    const { env, ports } = await freeStackEnv();
    const stack = startProcess('start', process.execPath, [START], { ...env, LOG_LEVEL: 'bogus' });
    expect((await stack.exited).code).toBe(78);
    const out = stack.output();
    expect(out).toMatch(
      /^[a-z-]+ +\| [a-z-]+: invalid configuration: LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent; got "bogus"$/m,
    );
    expect(out).toMatch(/stopped: its configuration is invalid \(see above\)\. Stopping the stack\./);
    expect(out).not.toContain('restarting in');
    for (const name of SERVICES) expect(await isListening(ports[name] ?? 0), name).toBe(false);
  });
});

/** A process's parent and state from /proc, or undefined once it is gone. */
function procStat(pid: number): { ppid: number; state: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name in parentheses may hold spaces; the fields after it do not.
    const [state = '', ppid = '0'] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(ppid), state };
  } catch {
    return undefined;
  }
}

/** Every live process below `root`, with its command line. */
function descendants(root: number): { pid: number; cmdline: string }[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(Number(entry));
    if (stat) parents.set(Number(entry), stat.ppid);
  }
  const below = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, ppid] of parents) {
      if (below.has(ppid) && !below.has(pid)) {
        below.add(pid);
        grew = true;
      }
    }
  }
  below.delete(root);
  return [...below].map((pid) => {
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    } catch {}
    return { pid, cmdline };
  });
}

/** Running, not merely a zombie waiting to be reaped. */
const running = (pid: number) => {
  const state = procStat(pid)?.state;
  return state !== undefined && state !== 'Z';
};

describe('npm start while it builds', () => {
  afterAll(stopAllProcesses);

  it('ends the build, tsc included, on SIGTERM and starts nothing', async () => {
    // The build of an up-to-date checkout: tsc -b checks for a second or two and writes nothing.
    const { env, ports } = await freeStackEnv();
    const { TITANIUM_SKIP_BUILD: _, ...buildEnv } = env;
    const stack = startProcess('start', process.execPath, [START], buildEnv);
    await stack.waitForLine(/building \(tsc -b/);
    let tsc: number[] = [];
    const deadline = Date.now() + 10_000;
    while (tsc.length === 0 && stack.running && Date.now() < deadline) {
      tsc = descendants(stack.pid)
        .filter((proc) => /\btsc\b/.test(proc.cmdline))
        .map((proc) => proc.pid);
      if (tsc.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(tsc.length, 'a tsc process under npm start').toBeGreaterThan(0);
    stack.signal('SIGTERM');
    expect(await stack.exited).toEqual({ code: 0, signal: null });
    await expect.poll(() => tsc.filter(running), { timeout: 5_000 }).toEqual([]);
    expect(stack.output()).not.toContain('Titanium is up');
    for (const name of SERVICES) expect(await isListening(ports[name] ?? 0), name).toBe(false);
  });
});

describe('npm start of one workspace', () => {
  afterAll(stopAllProcesses);

  it.each([
    ['@titanium/auth-service', 'AUTH_SERVICE_PORT', {}],
    ['@titanium/user-service', 'USER_SERVICE_PORT', { DATABASE_PATH: join(DATA_DIR, 'alone-users.db') }],
  ] as const)(
    'runs %s alone; SIGTERM to npm stops it with exit 0 and frees its port',
    async (workspace, portVar, extra) => {
      const port = await freePort();
      const npm = startProcess(
        'npm',
        'npm',
        ['start', '--silent', '-w', workspace],
        { [portVar]: String(port), HOST: '127.0.0.1', REDIS_URL: '', ...extra },
        fileURLToPath(new URL('../..', import.meta.url)),
      );
      await waitForHttp(`http://127.0.0.1:${port}/health`);
      npm.signal('SIGTERM');
      expect(await npm.exited).toEqual({ code: 0, signal: null });
      expect(npm.output()).toMatch(/"msg":"stopped"/);
      expect(await isListening(port)).toBe(false);
    },
  );
});
