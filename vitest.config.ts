import { defineConfig } from 'vitest/config';
import LongestFirst from './test/helpers/sequencer.js';

/**
 * Files whose assertions are about time or memory under load (/healthz latency during hostile
 * uploads, RSS growth, drain bounds, the fuzz and chaos runs): they run after the rest, two at a
 * time, so the three-at-a-time group never competes with them. Two at a time measured here (two
 * runs): /healthz worst 127 ms (limit 1,000), API RSS 327 MiB (limit 512), every drain and chaos
 * bound met; the group takes 34–35 s instead of 43–46 s one at a time.
 */
const alone = ['test/chaos.test.ts', 'test/drain.test.ts', 'test/fuzz.test.ts', 'test/ingress.test.ts', 'test/model-huge.test.ts'];

export default defineConfig({
  test: {
    // Every /v1 response the tests receive is checked against the OpenAPI document.
    setupFiles: ['./test/helpers/openapi-setup.ts'],
    // One process per worker for all its files (no fork and no re-import of node-seal, vitest and
    // the SEAL context per file): the suite took ~100 s less CPU (484 vs ~590). Files share no state they mutate:
    // each has its own Redis, processes and temp dirs, and nothing sets process.env.
    isolate: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default', './test/summary-reporter.ts'],
    sequence: { sequencer: LongestFirst },
    projects: [
      {
        extends: true,
        // Three files at a time on 2 cores (each has its own redis-server, processes and temp
        // dirs): a file leaves a core idle while it waits on its workers, Redis or a schedule, and
        // a third file fills it. Measured here, the whole suite: 186–194 s two at a time, 175 s three.
        test: { name: 'shared', include: ['test/**/*.test.ts'], exclude: alone, maxWorkers: 3, sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: { name: 'alone', include: alone, maxWorkers: 2, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
