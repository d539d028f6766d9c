import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pod } from 'kubernetes-models/v1';
import { afterAll, describe, expect, it } from 'vitest';
import { type K8sObject, kustomize, MANIFESTS, named } from './support.js';

const SCRIPT = `${MANIFESTS}db-restore.sh`;
const bin = mkdtempSync(join(tmpdir(), 'fake-kubectl-'));
const calls = join(bin, 'calls.jsonl');
// A kubectl that records its arguments and answers the two questions the script asks.
writeFileSync(
  join(bin, 'kubectl'),
  `#!${process.execPath}
const fs = require('node:fs');
const args = process.argv.slice(2);
fs.appendFileSync(${JSON.stringify(calls)}, JSON.stringify(args) + '\\n');
const output = args.find((a) => a.startsWith('jsonpath='));
if (output?.includes('.image')) process.stdout.write('titanium/user-service:abc123');
if (output?.includes('.replicas')) process.stdout.write('1');
if (args.includes('run')) process.exit(Number(process.env.FAKE_RUN_STATUS ?? 0));
`,
);
chmodSync(join(bin, 'kubectl'), 0o755);
afterAll(() => rmSync(bin, { recursive: true, force: true }));

function run(args: string[], runStatus = 0): { status: number | null; stderr: string; calls: string[][] } {
  rmSync(calls, { force: true });
  const result = spawnSync('sh', [SCRIPT, ...args], {
    encoding: 'utf8',
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, FAKE_RUN_STATUS: String(runStatus) },
  });
  const lines = readFileSync(calls, { encoding: 'utf8', flag: 'a+' }).trim().split('\n').filter(Boolean);
  return { status: result.status, stderr: result.stderr, calls: lines.map((line) => JSON.parse(line)) };
}

const verbs = (calls: string[][]) => calls.map((c) => c.slice(2, 4).join(' '));
const overrides = (calls: string[][]): K8sObject => {
  const arg = calls.find((c) => c.includes('run'))?.find((a) => a.startsWith('--overrides='));
  return JSON.parse((arg as string).slice('--overrides='.length));
};

describe('db-restore.sh', () => {
  const local = kustomize(`${MANIFESTS}overlays/local`);

  it('stops the service, restores in a one-off pod on its volumes, and starts it again', () => {
    const result = run(['user-service', 'users.db.2026-11-22-000000']);

    expect(result.status).toBe(0);
    expect(verbs(result.calls)).toEqual([
      'get deployment',
      'get deployment',
      'scale deployment',
      'wait --for=delete',
      'run user-service-db-restore',
      'scale deployment',
      'rollout status',
    ]);
    expect(result.calls[2]).toContain('--replicas=0');
    expect(result.calls[5]).toContain('--replicas=1');
    for (const call of result.calls) expect(call.slice(0, 2)).toEqual(['-n', 'titanium-local']);
    const spec = overrides(result.calls).spec;
    const pod = new Pod({ metadata: { name: 'user-service-db-restore' }, spec });
    expect(() => pod.validate()).not.toThrow();
    const [container] = spec.containers;
    expect(container.image).toBe('titanium/user-service:abc123');
    expect([...container.command, ...container.args]).toEqual([
      'node',
      '/app/service-kit/dist/bin/sqlite-backup.js',
      'restore',
      '--from',
      '/backup/users.db.2026-11-22-000000',
      '--db',
      '/data/users.db',
    ]);
    expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
    for (const volume of spec.volumes.filter((v: K8sObject) => v.persistentVolumeClaim)) {
      named(local, 'PersistentVolumeClaim', volume.persistentVolumeClaim.claimName);
    }
    expect(spec.volumes.map((v: K8sObject) => v.persistentVolumeClaim?.claimName).filter(Boolean)).toEqual([
      'local-user-service-data',
      'local-user-service-backups',
    ]);
  });

  it('starts the service again and fails when the restore fails', () => {
    const result = run(['blog-service', 'blog.db.2026-11-22-000000', 'titanium', ''], 1);

    expect(result.status).toBe(1);
    expect(verbs(result.calls).slice(-2)).toEqual(['scale deployment', 'rollout status']);
    expect(result.calls.at(-2)).toContain('blog-service');
    expect(result.calls.at(-2)).toContain('--replicas=1');
    const claims = overrides(result.calls).spec.volumes.map((v: K8sObject) => v.persistentVolumeClaim?.claimName);
    expect(claims.filter(Boolean)).toEqual(['blog-service-data', 'blog-service-backups']);
  });

  it('lists backups without stopping anything', () => {
    const result = run(['user-service', 'list']);

    expect(result.status).toBe(0);
    expect(verbs(result.calls)).toEqual(['get deployment', 'get deployment', 'run user-service-db-list']);
    expect(overrides(result.calls).spec.containers[0].args).toEqual(['list', '--out', '/backup', '--name', 'users.db']);
  });

  it('refuses an unknown component or a file that is not one of its backups, touching nothing', () => {
    for (const args of [
      ['redis', 'list'],
      ['user-service', 'blog.db.2026-11-22-000000'],
      ['user-service', '../../etc/passwd'],
    ]) {
      const result = run(args);
      expect(result.status, args.join(' ')).toBe(64);
      expect(result.calls).toEqual([]);
    }
  });
});
