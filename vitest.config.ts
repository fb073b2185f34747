import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests spawn real processes and servers; the e2e suite drives Docker.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Lifecycle tests share a Docker engine; files run in parallel but e2e files serialise themselves.
    pool: 'forks',
  },
});
