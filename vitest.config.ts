import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Tests mount filesystems and start servers; a generous timeout keeps a noisy shared machine from
    // turning slowness into failures. Speed is measured by `npm run bench`, never here.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
