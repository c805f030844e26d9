import { expect, test } from 'vitest';
import { FAMILIES, runFuzz } from '../tools/fuzz/harness.js';

/**
 * The short `npm run fuzz`: every family once (the harness sends each first), then by weight; small
 * bombs (64 MiB, 1M scoring rows against a 100k variant cap) so the run stays short. The full run
 * (100k requests, 1 GiB bombs) is `npm run fuzz`.
 */
test('fuzz (short): hostile requests get 4xx, nothing dies or bloats, /healthz answers, an honest job succeeds', async () => {
  const report = await runFuzz({
    requests: 150,
    seed: 20261123,
    concurrency: 8,
    apiRssMiB: 512,
    workerRssMiB: 1024,
    hardCapMiB: 2048,
    healthzMs: 1000,
    bombMiB: 64,
    scoringBombRows: 1_000_000,
    // The short run's bomb (1M rows) must exceed the variant cap, as the full run's 30M rows do.
    stackEnv: { MAX_MODEL_VARIANTS: '100000' },
  });
  console.log(report.summary);
  expect(report.violations).toEqual([]);
  expect(report.requests).toBe(150);
  expect(report.byFamily.size).toBeGreaterThanOrEqual(FAMILIES.length);
  expect(report.honestJob).toBe('ok');
}, 300_000);
