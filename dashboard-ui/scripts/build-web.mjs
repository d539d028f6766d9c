#!/usr/bin/env node
// @ts-check
// Builds the dashboard page with Vite into dist/public and writes .br and .gz copies of the text
// assets for the static server to send as they are. Skips the build when dist/public is newer
// than every source file, unless --force is given.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { build } from 'vite';

const WORKSPACE = fileURLToPath(new URL('..', import.meta.url));
const WEB = join(WORKSPACE, 'web');
const OUT = join(WORKSPACE, 'dist', 'public');
const COMPRESSIBLE = /\.(?:html|js|css|svg|json|map|txt)$/;

/** @param {string} dir @returns {string[]} */
function files(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? files(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

function upToDate() {
  try {
    const built = statSync(join(OUT, 'index.html')).mtimeMs;
    const sources = [...files(WEB), join(WORKSPACE, 'package.json')];
    return sources.every((file) => statSync(file).mtimeMs <= built);
  } catch {
    return false;
  }
}

if (!process.argv.includes('--force') && upToDate()) process.exit(0);

await build({ configFile: join(WEB, 'vite.config.ts'), logLevel: 'warn' });

for (const file of files(OUT)) {
  if (!COMPRESSIBLE.test(file)) continue;
  const content = readFileSync(file);
  if (content.length < 1024) continue;
  writeFileSync(`${file}.br`, brotliCompressSync(content, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
  writeFileSync(`${file}.gz`, gzipSync(content, { level: 9 }));
}
// index.html last, so its time stamp marks a complete build.
const index = join(OUT, 'index.html');
writeFileSync(index, readFileSync(index));
