import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ApiClient } from './api-client.js';
import { freePort, type LocalStack, startLocalStack } from './local-stack.js';
import { wrk } from './wrk.js';

// GET /api/posts through LB → gateway → blog-service, and against blog-service directly, at
// several concurrencies: what each hop costs. The chain runs twice, on two stacks started side by
// side: with the API-call log on (every call an event to Redis Streams) and with
// MESSAGING_TYPE=none, in alternating rows, so the log's cost is a ratio of one run. Prints a
// markdown table.
const SECONDS = Number(process.env.BENCH_SECONDS) || 10;
/**
 * Back-to-back pairs of the chain with the event log on and off, at each concurrency, each side
 * for BENCH_COMPARE_SECONDS: many short pairs, so the machine's drift (±20 % between two
 * 10-second runs here) weighs on both sides of most of them.
 */
const ROUNDS = Number(process.env.BENCH_ROUNDS) || 7;
const COMPARE_SECONDS = Number(process.env.BENCH_COMPARE_SECONDS) || 4;
const CONCURRENCIES = (process.env.BENCH_CONNECTIONS ?? '10,50,100').split(',').map(Number);
// Unrecorded load first, so a row measures the service, not its JIT compilation and new connections.
const WARM_UP_SECONDS = 2;
const BARE_HOP = fileURLToPath(new URL('./bare-hop.js', import.meta.url));

interface Row {
  target: string;
  connections: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

async function measure(target: string, url: string, connections: number, seconds = SECONDS): Promise<Row> {
  await wrk(url, connections, WARM_UP_SECONDS);
  const result = await wrk(url, connections, seconds);
  return {
    target,
    connections,
    rps: Math.round(result.rps),
    p50: result.p50,
    p99: result.p99,
    errors: result.errors,
  };
}

/** Starts `bare-hop.js` with these arguments and waits until it listens. */
async function startHop(args: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, [BARE_HOP, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(createInterface({ input: child.stdout as NodeJS.ReadableStream }), 'line')) as [string];
  if (line !== 'listening') throw new Error(`bare-hop ${args.join(' ')}: ${line}`);
  return child;
}

/**
 * The same page through the cheapest chain Node allows (a server and two bare undici proxies,
 * three processes) and from that server directly: the most any three-process chain can reach
 * on this machine, to read the stack's own chain/direct ratio against.
 */
async function bareReference(page: Buffer, path: string): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), 'titanium-bare-'));
  const children: ChildProcess[] = [];
  try {
    writeFileSync(join(dir, 'page.json'), page);
    const [server, inner, outer] = [await freePort(), await freePort(), await freePort()];
    children.push(await startHop(['serve', String(server), join(dir, 'page.json')]));
    children.push(await startHop(['proxy', String(inner), `http://127.0.0.1:${server}`]));
    children.push(await startHop(['proxy', String(outer), `http://127.0.0.1:${inner}`]));
    const rows: Row[] = [];
    for (const connections of CONCURRENCIES) {
      rows.push(await measure(BARE_CHAIN, `http://127.0.0.1:${outer}${path}`, connections));
      rows.push(await measure(BARE_DIRECT, `http://127.0.0.1:${server}${path}`, connections));
    }
    return rows;
  } finally {
    for (const child of children) child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

const CHAIN = 'LB → gateway → blog';
const CHAIN_OFF = 'same, event log off';
const DIRECT = 'blog-service direct';
const BARE_CHAIN = 'bare proxy → proxy → server';
const BARE_DIRECT = 'bare server direct';
const path = '/api/posts?offset=0&limit=20';
const rows: Row[] = [];
/** The event log on and off, measured back to back, ROUNDS times at each concurrency. */
const pairs: { connections: number; on: Row; off: Row }[] = [];
let page: Buffer = Buffer.alloc(0);

/** A user and 25 posts, so the page is the same on every stack; returns the page's bytes. */
async function seed(stack: LocalStack): Promise<Buffer> {
  const api = new ApiClient(`${stack.url('load-balancer')}/api`);
  const user = { username: `bench_${Date.now().toString(36)}`, password: 'benchmark-password' };
  await api.call('POST', '/register', { ...user, email: `${user.username}@bench.test` });
  const login = await api.call<{ token: string }>('POST', '/login', user);
  api.token = login.body?.token ?? '';
  const total = Number((await fetch(`${stack.url('load-balancer')}/api/posts?limit=1`)).headers.get('x-total-count'));
  for (let i = total; i < 25; i++) {
    const res = await api.call('POST', '/posts', { title: `Benchmark post ${i}`, content: 'x'.repeat(600) }, true);
    if (res.status !== 201) throw new Error(`seeding failed: ${res.status}`);
  }
  await api.close();
  return Buffer.from(await (await fetch(`${stack.url('blog-service')}${path}`)).arrayBuffer());
}

const [stack, quiet] = await Promise.all([
  startLocalStack({ LOG_LEVEL: 'warn' }),
  startLocalStack({ LOG_LEVEL: 'warn', MESSAGING_TYPE: 'none' }),
]);

try {
  [page] = await Promise.all([seed(stack), seed(quiet)]);
  for (const connections of CONCURRENCIES) {
    for (let round = 0; round < ROUNDS; round++) {
      // Who goes first alternates, so a machine slowing down weighs on both.
      const pair = [
        () => measure(CHAIN, `${stack.url('load-balancer')}${path}`, connections, COMPARE_SECONDS),
        () => measure(CHAIN_OFF, `${quiet.url('load-balancer')}${path}`, connections, COMPARE_SECONDS),
      ];
      if (round % 2 === 1) pair.reverse();
      const [first, second] = [await pair[0]?.(), await pair[1]?.()] as [Row, Row];
      const [on, off] = round % 2 === 1 ? [second, first] : [first, second];
      pairs.push({ connections, on, off });
    }
    const median = (target: string) => {
      const list = pairs.filter((p) => p.connections === connections).map((p) => (target === CHAIN ? p.on : p.off));
      return [...list].sort((a, b) => a.rps - b.rps)[Math.floor(list.length / 2)] as Row;
    };
    rows.push(median(CHAIN), median(CHAIN_OFF));
    rows.push(await measure(DIRECT, `${stack.url('blog-service')}${path}`, connections));
  }
  const stats = (await (await fetch(`${stack.url('load-balancer')}/stats`)).json()) as {
    'api-gateway'?: { messaging?: { published: number; dropped: number } };
  };
  const published = stats['api-gateway']?.messaging?.published ?? 0;
  const dropped = stats['api-gateway']?.messaging?.dropped ?? 0;
  console.log(`\nevent log on: ${published} API-call events published to Redis Streams, ${dropped} dropped`);
} finally {
  await Promise.all([stack.stop(), quiet.stop()]);
}
rows.push(...(await bareReference(page, path)));

console.log(
  `\nGET ${path} (25 posts, ${page.length} bytes), ${SECONDS} s per row (the chain's rows: the median of ${ROUNDS} pairs of ${COMPARE_SECONDS} s) after ${WARM_UP_SECONDS} s of warm-up, wrk -t1 in the same process tree\n`,
);
console.log('| target | connections | requests/s | p50 ms | p99 ms | errors | chain/direct |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
for (const row of rows) {
  const directName =
    row.target === CHAIN || row.target === CHAIN_OFF ? DIRECT : row.target === BARE_CHAIN ? BARE_DIRECT : undefined;
  const direct = rows.find((r) => r.target === directName && r.connections === row.connections);
  const ratio = direct ? (row.rps / direct.rps).toFixed(2) : '';
  console.log(
    `| ${row.target} | ${row.connections} | ${row.rps} | ${row.p50} | ${row.p99} | ${row.errors} | ${ratio} |`,
  );
}
console.log('\nThe bare rows are the reference: the cheapest three-process chain Node allows, serving the same bytes.');
console.log(
  `\nevent log on / off, ${ROUNDS} back-to-back pairs at each concurrency (median of the pairs' ratios, lowest–highest):`,
);
const medianOf = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
for (const connections of CONCURRENCIES) {
  const mine = pairs.filter((p) => p.connections === connections);
  const rps = mine.map((p) => p.on.rps / p.off.rps);
  const p50 = mine.map((p) => p.on.p50 - p.off.p50);
  const p99 = mine.map((p) => p.on.p99 / p.off.p99);
  const span = (values: number[], digits: number) =>
    `${medianOf(values).toFixed(digits)} (${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)})`;
  console.log(
    `  ${connections} connections: requests/s ${span(rps, 3)}, p50 ${span(p50, 2)} ms more, p99 ${span(p99, 2)}×`,
  );
}
