import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    alias: {
      '@titanium/test-support': fileURLToPath(new URL('./service-kit/test/support/index.ts', import.meta.url)),
    },
  },
  test: {
    include: ['*/test/**/*.test.ts', 'scripts/test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Tests start real processes on real ports; on two cores a few files at a time is plenty.
    maxWorkers: 2,
  },
});
