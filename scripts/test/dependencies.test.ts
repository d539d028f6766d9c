import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SKIP = new Set(['node_modules', 'dist', 'test-artifacts', '.git', '.data']);
const SOURCE = /\.(ts|mts|js|mjs|cjs)$/;

interface Manifest {
  name: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  scripts?: Record<string, string>;
  workspaces?: string[];
}

const read = (path: string): Manifest => JSON.parse(readFileSync(join(ROOT, path), 'utf8'));
const root = read('package.json');
const workspaces = (root.workspaces ?? []).map((dir) => ({ dir, manifest: read(join(dir, 'package.json')) }));

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (SKIP.has(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sources(path, out);
    else if (SOURCE.test(name)) out.push(path);
  }
  return out;
}

/** Package names a file imports or requires (`pkg`, `pkg/sub`, `@scope/pkg/sub` → the package). */
function importedPackages(text: string): Set<string> {
  const names = new Set<string>();
  const specifiers = /(?:from\s+|import\s*\(\s*|require\s*\(\s*|import\s+)['"]([^'"./][^'"]*)['"]/g;
  for (const [, specifier] of text.matchAll(specifiers)) {
    const parts = (specifier as string).split('/');
    names.add(specifier?.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string));
  }
  return names;
}

/** Tools run from npm scripts rather than imported, with the command that shows they are used (the `node`
 * package is the Node every script runs on). */
const COMMANDS: Record<string, string> = { '@biomejs/biome': 'biome', typescript: 'tsc', node: 'node' };

describe('dependencies', () => {
  it('every direct dependency is imported (or run) by the workspace that declares it', () => {
    const unused: string[] = [];
    for (const { dir, manifest } of [{ dir: '.', manifest: root }, ...workspaces]) {
      // The root's own imports are those of its tests and scripts; a workspace's, of its files.
      const files =
        dir === '.' ? [...sources(join(ROOT, 'scripts')), join(ROOT, 'vitest.config.ts')] : sources(join(ROOT, dir));
      const imported = new Set<string>();
      for (const file of files) for (const name of importedPackages(readFileSync(file, 'utf8'))) imported.add(name);
      // Every folder's tests (vitest's `*/test/`, k8s-manifests' too) run with the root's devDependencies.
      if (dir === '.') {
        for (const folder of readdirSync(ROOT)) {
          const tests = join(ROOT, folder, 'test');
          if (SKIP.has(folder) || !statSync(join(ROOT, folder)).isDirectory() || !existsSync(tests)) continue;
          for (const file of sources(tests)) {
            for (const name of importedPackages(readFileSync(file, 'utf8'))) imported.add(name);
          }
        }
      }
      const scripts = Object.values({ ...root.scripts, ...manifest.scripts }).join('\n');
      const declared = { ...manifest.dependencies, ...manifest.devDependencies };
      for (const name of Object.keys(declared)) {
        const typesOf = name.startsWith('@types/') ? name.slice('@types/'.length) : undefined;
        const used =
          imported.has(name) ||
          (typesOf !== undefined && (typesOf === 'node' || imported.has(typesOf) || typesOf in declared)) ||
          (COMMANDS[name] !== undefined && new RegExp(`\\b${COMMANDS[name]}\\b`).test(scripts));
        if (!used) unused.push(`${relative(ROOT, join(ROOT, dir, 'package.json'))}: ${name}`);
      }
    }
    expect(unused).toEqual([]);
  });

  it('no dependency is declared with two majors across the workspaces', () => {
    const majors = new Map<string, Set<string>>();
    for (const { manifest } of [{ manifest: root }, ...workspaces]) {
      for (const [name, range] of Object.entries({ ...manifest.dependencies, ...manifest.devDependencies })) {
        const major = /^[\^~]?(\d+)\./.exec(range)?.[1] ?? range;
        majors.set(name, (majors.get(name) ?? new Set()).add(major));
      }
    }
    const doubled = [...majors]
      .filter(([, set]) => set.size > 1)
      .map(([name, set]) => `${name}: ${[...set].join(', ')}`);
    expect(doubled).toEqual([]);
  });
});
