import { type SpawnSyncOptions, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('../ensure-system-deps.mjs', import.meta.url));
const KUBECTL_HELP =
  'curl -LO https://dl.k8s.io/release/v1.32.0/bin/linux/amd64/kubectl && sudo install -m 0755 kubectl /usr/local/bin/kubectl';
const runningAsRoot = process.getuid?.() === 0;

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A folder of fake programs; the script searches only it. */
function fakeBin(programs: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'titanium-deps-'));
  dirs.push(dir);
  // Readable by the unprivileged user the non-root cases run as.
  chmodSync(dir, 0o755);
  for (const [name, body] of Object.entries(programs)) {
    writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  }
  return dir;
}

const kubectlPrinting = (gitVersion: string, minor: string) =>
  `echo '${JSON.stringify({ clientVersion: { major: '1', minor, gitVersion }, kustomizeVersion: 'v5.5.0' })}'`;
const ALL_PRESENT = { 'redis-server': 'exit 0', chromium: 'exit 0', kubectl: kubectlPrinting('v1.32.4', '32+') };

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the script searching only `dir`. Non-root runs as the user `nobody` when the tests run as
 * root, so the real root check is what refuses; otherwise the check is told who it is.
 */
function run(dir: string, { root, args = [] }: { root: boolean; args?: string[] }): Run {
  const env: NodeJS.ProcessEnv = { ...process.env, TITANIUM_DEPS_SEARCH_DIRS: dir };
  const options: SpawnSyncOptions = { encoding: 'utf8', env, timeout: 20_000 };
  if (!root && runningAsRoot) Object.assign(options, { uid: 65534, gid: 65534 });
  else env.TITANIUM_DEPS_AS_ROOT = root ? '1' : '0';
  const result = spawnSync(process.execPath, [SCRIPT, ...args], options);
  return { code: result.status, stdout: String(result.stdout), stderr: String(result.stderr) };
}

describe('the pretest check of system programs', () => {
  it('passes when every program is there and kubectl is new enough', () => {
    const result = run(fakeBin(ALL_PRESENT), { root: false });
    expect(result).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  it('names a missing program to a non-root user with the exact apt-get line, and exits 1', () => {
    const { 'redis-server': _, ...rest } = ALL_PRESENT;
    const result = run(fakeBin(rest), { root: false });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('missing redis-server (the cache and counter tests run a real Redis)\n');
    expect(result.stderr).toContain(
      "sudo sh -c 'apt-get update && apt-get install -y --no-install-recommends redis-server'",
    );
    expect(result.stderr).not.toContain('kubectl');
  });

  it('refuses a program it knows no package for', () => {
    const result = run(fakeBin(ALL_PRESENT), { root: false, args: ['redis-server', 'frobnicate'] });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('no Debian package known for frobnicate');
  });

  it('fails on a missing kubectl with the commands that install it, also as root', () => {
    const { kubectl: _, ...rest } = ALL_PRESENT;
    const dir = fakeBin({ ...rest, 'apt-get': `echo "$*" >> "${tmpdir()}/never-called"; exit 1` });
    for (const root of [false, true]) {
      const result = run(dir, { root });
      expect(result.code, `root ${root}`).toBe(1);
      expect(result.stderr).toContain('kubectl is not installed: the k8s-manifests tests render the manifests');
      expect(result.stderr).toContain(KUBECTL_HELP);
      expect(result.stderr).toContain('sudo apt-get update && sudo apt-get install -y kubectl');
    }
  });

  it('fails on a kubectl older than 1.27, naming its version', () => {
    const dir = fakeBin({ ...ALL_PRESENT, kubectl: kubectlPrinting('v1.25.16', '25') });
    const result = run(dir, { root: false });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${join(dir, 'kubectl')} is version v1.25.16, too old`);
    expect(result.stderr).toContain(KUBECTL_HELP);
    // Only kubectl was named: the check of that program alone fails the same way.
    expect(run(dir, { root: false, args: ['kubectl'] }).code).toBe(1);
    expect(run(dir, { root: false, args: ['redis-server'] }).code).toBe(0);
  });

  it('as root installs the missing packages with apt-get update, then install', () => {
    const log = join(mkdtempSync(join(tmpdir(), 'titanium-apt-')), 'calls');
    dirs.push(join(log, '..'));
    // The fake apt-get records each call and "installs" by creating the programs next to itself.
    const aptGet = [
      `echo "$DEBIAN_FRONTEND $*" >> "${log}"`,
      'if [ "$1" = install ]; then',
      '  for program in redis-server chromium; do printf "#!/bin/sh\\n" > "$(dirname "$0")/$program";',
      '    chmod 755 "$(dirname "$0")/$program"; done',
      'fi',
    ].join('\n');
    const dir = fakeBin({ kubectl: ALL_PRESENT.kubectl, 'apt-get': aptGet });
    const result = run(dir, { root: true });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('installing: redis-server chromium');
    expect(readFileSync(log, 'utf8').split('\n')).toEqual([
      'noninteractive update',
      'noninteractive install -y --no-install-recommends redis-server chromium',
      '',
    ]);
  });

  it('as root says so when apt-get fails, and exits 1', () => {
    const dir = fakeBin({ kubectl: ALL_PRESENT.kubectl, chromium: 'exit 0', 'apt-get': 'exit 100' });
    const result = run(dir, { root: true });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      'apt-get update failed (exit 100); run by hand:\n  apt-get update && apt-get install -y --no-install-recommends redis-server',
    );
  });
});
