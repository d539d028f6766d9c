import { startLocalStack } from './local-stack.js';
import { runMixedLoad } from './mixed-load.js';
import { parseOptions } from './options.js';
import { formatReport } from './report.js';

// The seed's mixed load at 100 requests/s (64 list + 12 detail + 4 create + 20 more list) for
// 60 s through the load balancer of a freshly started stack. Expect 0 failures.
const seconds = Number(process.env.BENCH_SECONDS) || 60;
const stack = await startLocalStack({ LOG_LEVEL: 'warn' });
try {
  const options = parseOptions(
    [
      '--url',
      stack.url('load-balancer'),
      '--duration',
      `${seconds}s`,
      '--rate-list',
      '84',
      '--rate-detail',
      '12',
      '--rate-create',
      '4',
      '--quiet',
      '--max-fail',
      '0.1',
    ],
    false,
  );
  const result = await runMixedLoad(options, (line) => process.stderr.write(`${line}\n`));
  console.log(formatReport(result));
  process.exitCode = result.passed ? 0 : 1;
} finally {
  await stack.stop();
}
