import autocannon from 'autocannon';
import { ApiClient } from './api-client.js';
import { startLocalStack } from './local-stack.js';

// GET /api/posts through LB → gateway → blog-service, and against blog-service directly, at
// several concurrencies: what each hop costs. Prints a markdown table.
const SECONDS = Number(process.env.BENCH_SECONDS) || 10;
const CONCURRENCIES = (process.env.BENCH_CONNECTIONS ?? '10,50,100').split(',').map(Number);
// Unrecorded load first, so a row measures the service, not its JIT compilation and new connections.
const WARM_UP_SECONDS = 2;

interface Row {
  target: string;
  connections: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

async function measure(target: string, url: string, connections: number): Promise<Row> {
  await autocannon({ url, connections, duration: WARM_UP_SECONDS, pipelining: 1 });
  const result = await autocannon({ url, connections, duration: SECONDS, pipelining: 1 });
  return {
    target,
    connections,
    rps: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
  };
}

const stack = await startLocalStack({ LOG_LEVEL: 'warn' });
try {
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

  const path = '/api/posts?offset=0&limit=20';
  const rows: Row[] = [];
  for (const connections of CONCURRENCIES) {
    rows.push(await measure('LB → gateway → blog', `${stack.url('load-balancer')}${path}`, connections));
    rows.push(await measure('blog-service direct', `${stack.url('blog-service')}${path}`, connections));
  }
  console.log(
    `\nGET ${path} (25 posts), ${SECONDS} s per row after ${WARM_UP_SECONDS} s of warm-up, autocannon in the same process tree\n`,
  );
  console.log('| target | connections | requests/s | p50 ms | p99 ms | errors | chain/direct |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const row of rows) {
    const direct = rows.find((r) => r.target === 'blog-service direct' && r.connections === row.connections);
    const ratio = row.target.startsWith('LB') && direct ? (row.rps / direct.rps).toFixed(2) : '';
    console.log(
      `| ${row.target} | ${row.connections} | ${row.rps} | ${row.p50} | ${row.p99} | ${row.errors} | ${ratio} |`,
    );
  }
} finally {
  await stack.stop();
}
