import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Every /v1 response the tests receive is checked against the OpenAPI document.
    setupFiles: ['./test/helpers/openapi-setup.ts'],
    // Suites spawn real Redis servers and worker processes; running files one at a time keeps a
    // 2-core machine from timing them out against each other.
    fileParallelism: false,
    testTimeout: 120_000,
    reporters: ['default', './test/summary-reporter.ts'],
    hookTimeout: 120_000,
  },
});
