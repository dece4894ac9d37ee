import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Real training and real CLI runs, two workers for two cores. Timeouts only catch hangs: on
    // a shared, loaded machine the end-to-end tests take many times their idle time (the sweep
    // grid: ~60 s idle, over 240 s under load), and no test may fail for being slow.
    testTimeout: 600_000,
    hookTimeout: 600_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
