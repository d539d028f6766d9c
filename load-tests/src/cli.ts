import { writeFileSync } from 'node:fs';
import { cleanupLastRun, runMixedLoad } from './mixed-load.js';
import { parseOptions, USAGE, UsageError } from './options.js';
import { formatReport } from './report.js';

const [mode, ...argv] = process.argv.slice(2);
const log = (line: string) => process.stderr.write(`${line}\n`);

try {
  if (mode !== 'mixed' && mode !== 'plus') throw new UsageError(USAGE);
  const options = parseOptions(argv, mode === 'plus');
  if (options.cleanupOnly) {
    await cleanupLastRun(options, log);
    process.exit(0);
  }
  const result = await runMixedLoad(options, log);
  process.stdout.write(`${formatReport(result)}\n`);
  if (options.jsonPath) writeFileSync(options.jsonPath, `${JSON.stringify(result, null, 2)}\n`);
  process.exit(result.passed ? 0 : 1);
} catch (err) {
  if (err instanceof UsageError) {
    log(err.message);
    process.exit(2);
  }
  log(`load run failed: ${(err as Error).message}`);
  process.exit(1);
}
