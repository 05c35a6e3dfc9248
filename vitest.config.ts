// Test runner configuration: Node environment, the Node 20 polyfills, one pass over test/.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['local/polyfills.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
