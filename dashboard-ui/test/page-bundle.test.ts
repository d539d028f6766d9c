import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ASSETS = fileURLToPath(new URL('../dist/public/assets/', import.meta.url));

describe('dashboard page bundle', () => {
  // The page takes only types from the service kit's /stats contract, and the CSV writer it shares
  // with the load balancer (a module without imports): none of the kit's other code (nor Fastify,
  // Redis or SQLite behind it) belongs in what every browser downloads.
  it('holds the page modules, Chart.js and the shared history CSV writer, nothing else from the service kit', () => {
    const maps = readdirSync(ASSETS).filter((name) => name.endsWith('.js.map'));
    expect(maps).toHaveLength(1);
    const { sources } = JSON.parse(readFileSync(`${ASSETS}${maps[0]}`, 'utf8')) as { sources: string[] };
    const foreign = sources.filter(
      (source) =>
        !/^(?:\.\.\/)+web\/src\/[\w-]+\.ts$/.test(source) &&
        !/node_modules\/(?:chart\.js|@kurkle\/color)\//.test(source) &&
        !/service-kit\/(?:src|dist)\/history-csv\.(?:ts|js)$/.test(source),
    );
    expect(foreign).toEqual([]);
    expect(sources.some((source) => source.endsWith('web/src/status.ts'))).toBe(true);
  });
});
