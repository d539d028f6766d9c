#!/usr/bin/env node
// @ts-check
// Makes sure the system programs the tests run for real are installed. As root it installs the
// missing ones with apt-get; otherwise it names them and prints the exact command to run.
// kubectl is checked too but never installed: Debian's kubernetes-client is too old for the
// manifests, so a missing or old kubectl always ends with the commands that install a new one.
// With arguments it checks the programs named instead (`node scripts/ensure-system-deps.mjs nginx wrk`).
//
// For its own tests only: TITANIUM_DEPS_SEARCH_DIRS (a PATH-like list) replaces every directory
// searched, and TITANIUM_DEPS_AS_ROOT=1|0 replaces the "running as root" check.
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Program → Debian package, and why it is needed. */
const KNOWN = [
  { command: 'redis-server', pkg: 'redis-server', why: 'the cache and counter tests run a real Redis' },
  { command: 'chromium', pkg: 'chromium', why: 'the dashboard tests drive a real Chromium' },
  { command: 'nginx', pkg: 'nginx', why: 'the load-balancer benchmark compares against nginx' },
  { command: 'wrk', pkg: 'wrk', why: 'the load-balancer benchmark generates load with wrk' },
  {
    command: 'kubectl',
    pkg: undefined,
    why: 'the k8s-manifests tests render the manifests with `kubectl kustomize`, which needs kubectl 1.27 or newer (kustomize v5 built in)',
  },
];
/** What the tests need when no program is named. */
const DEFAULT = ['redis-server', 'chromium', 'kubectl'];
const KUBECTL_MIN = { major: 1, minor: 27 };

const wanted = process.argv.length > 2 ? process.argv.slice(2) : DEFAULT;
const unknown = wanted.filter((command) => !KNOWN.some((need) => need.command === command));
if (unknown.length > 0) {
  console.error(`ensure-system-deps: no Debian package known for ${unknown.join(', ')}`);
  process.exit(1);
}
const NEEDED = KNOWN.filter((need) => wanted.includes(need.command));

const searchDirs = process.env.TITANIUM_DEPS_SEARCH_DIRS
  ? process.env.TITANIUM_DEPS_SEARCH_DIRS.split(delimiter)
  : [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/bin', '/usr/local/bin'];

/** The full path of `command` in the searched directories, if it is there. @param {string} command */
function find(command) {
  for (const dir of searchDirs) {
    if (!dir) continue;
    try {
      accessSync(join(dir, command), constants.X_OK);
      return join(dir, command);
    } catch {}
  }
  return undefined;
}

/** Why the kubectl found is not good enough, or undefined when it is. */
function kubectlProblem() {
  const path = find('kubectl');
  if (!path) return 'kubectl is not installed';
  const result = spawnSync(path, ['version', '--client', '-o', 'json'], { encoding: 'utf8', timeout: 20_000 });
  let client;
  try {
    client = JSON.parse(result.stdout).clientVersion;
  } catch {}
  const major = Number.parseInt(client?.major ?? '', 10);
  const minor = Number.parseInt(client?.minor ?? '', 10);
  if (!Number.isInteger(major) || !Number.isInteger(minor)) {
    return `${path} did not report its version (\`kubectl version --client -o json\`)`;
  }
  if (major < KUBECTL_MIN.major || (major === KUBECTL_MIN.major && minor < KUBECTL_MIN.minor)) {
    return `${path} is version ${client.gitVersion ?? `${major}.${minor}`}, too old`;
  }
  return undefined;
}

function kubectlHelp() {
  const arch = process.arch === 'arm64' ? 'arm64' : 'amd64';
  return [
    "Debian's kubernetes-client is too old, so install the upstream kubectl, either the release binary:",
    `  curl -LO https://dl.k8s.io/release/v1.32.0/bin/linux/${arch}/kubectl && sudo install -m 0755 kubectl /usr/local/bin/kubectl`,
    'or from the pkgs.k8s.io apt repository:',
    '  sudo mkdir -p /etc/apt/keyrings',
    '  curl -fsSL https://pkgs.k8s.io/core:/stable:/v1.32/deb/Release.key | sudo gpg --dearmor -o /etc/apt/keyrings/kubernetes-apt-keyring.gpg',
    "  echo 'deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] https://pkgs.k8s.io/core:/stable:/v1.32/deb/ /' | sudo tee /etc/apt/sources.list.d/kubernetes.list",
    '  sudo apt-get update && sudo apt-get install -y kubectl',
  ].join('\n');
}

const kubectl = NEEDED.find((need) => need.command === 'kubectl');
const kubectlIssue = kubectl ? kubectlProblem() : undefined;
/** Reports a kubectl that is missing or too old and exits; apt-get cannot fix it. */
function failOnKubectl() {
  if (!kubectlIssue) return;
  console.error(`${kubectlIssue}: ${kubectl?.why}.\n${kubectlHelp()}`);
  process.exit(1);
}

const missing = NEEDED.filter((need) => need.pkg !== undefined && !find(need.command));
if (missing.length === 0) {
  failOnKubectl();
  process.exit(0);
}

const packages = [...new Set(missing.map((need) => need.pkg ?? need.command))];
for (const need of missing) console.log(`missing ${need.command} (${need.why})`);
const command = `apt-get update && apt-get install -y --no-install-recommends ${packages.join(' ')}`;
const asRoot = process.env.TITANIUM_DEPS_AS_ROOT;
const isRoot = asRoot ? asRoot === '1' : typeof process.getuid === 'function' && process.getuid() === 0;
const aptGet = find('apt-get');

if (!isRoot || !aptGet) {
  console.error(`Install the missing system packages, then run the tests again:\n  sudo sh -c '${command}'`);
  if (kubectlIssue) console.error('');
  failOnKubectl();
  process.exit(1);
}

console.log(`installing: ${packages.join(' ')}`);
const aptEnv = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
for (const args of [['update'], ['install', '-y', '--no-install-recommends', ...packages]]) {
  const result = spawnSync(aptGet, args, { stdio: 'inherit', env: aptEnv });
  if (result.status !== 0) {
    console.error(`apt-get ${args[0]} failed (exit ${result.status}); run by hand:\n  ${command}`);
    process.exit(1);
  }
}
const still = missing.filter((need) => !find(need.command));
if (still.length > 0) {
  console.error(`still missing after install: ${still.map((need) => need.command).join(', ')}`);
  process.exit(1);
}
failOnKubectl();
