#!/usr/bin/env node
// @ts-check
// Makes sure the system programs the tests run for real are installed. As root it installs the
// missing ones with apt-get; otherwise it names them and prints the exact command to run.
// With arguments it checks the programs named instead (`node scripts/ensure-system-deps.mjs nginx wrk`).
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Program → Debian package, and why it is needed. */
const KNOWN = [
  { command: 'redis-server', pkg: 'redis-server', why: 'the cache and counter tests run a real Redis' },
  { command: 'chromium', pkg: 'chromium', why: 'the dashboard tests drive a real Chromium' },
  { command: 'nginx', pkg: 'nginx', why: 'the load-balancer benchmark compares against nginx' },
  { command: 'wrk', pkg: 'wrk', why: 'the load-balancer benchmark generates load with wrk' },
];
/** What the tests need when no program is named. */
const DEFAULT = ['redis-server', 'chromium'];

const wanted = process.argv.length > 2 ? process.argv.slice(2) : DEFAULT;
const unknown = wanted.filter((command) => !KNOWN.some((need) => need.command === command));
if (unknown.length > 0) {
  console.error(`ensure-system-deps: no Debian package known for ${unknown.join(', ')}`);
  process.exit(1);
}
const NEEDED = KNOWN.filter((need) => wanted.includes(need.command));

/** @param {string} command */
function installed(command) {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/bin', '/usr/local/bin'];
  return dirs.some((dir) => {
    if (!dir) return false;
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

const missing = NEEDED.filter((need) => !installed(need.command));
if (missing.length === 0) process.exit(0);

const packages = [...new Set(missing.map((need) => need.pkg))];
for (const need of missing) console.log(`missing ${need.command} (${need.why})`);
const command = `apt-get update && apt-get install -y --no-install-recommends ${packages.join(' ')}`;
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

if (!isRoot || !installed('apt-get')) {
  console.error(`Install the missing system packages, then run the tests again:\n  sudo sh -c '${command}'`);
  process.exit(1);
}

console.log(`installing: ${packages.join(' ')}`);
const aptEnv = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
for (const args of [['update'], ['install', '-y', '--no-install-recommends', ...packages]]) {
  const result = spawnSync('apt-get', args, { stdio: 'inherit', env: aptEnv });
  if (result.status !== 0) {
    console.error(`apt-get ${args[0]} failed (exit ${result.status}); run by hand:\n  ${command}`);
    process.exit(1);
  }
}
const still = missing.filter((need) => !installed(need.command));
if (still.length > 0) {
  console.error(`still missing after install: ${still.map((need) => need.command).join(', ')}`);
  process.exit(1);
}
