import { expect, test } from 'vitest';
import { runFuzz } from '../tools/fuzz/harness.js';


test('fuzz (short): hostile requests get 4xx, nothing dies or bloats, /healthz answers, an honest job succeeds', async () => {
  const report = await runFuzz({
    requests: 600,
    seed: 20261123,
    concurrency: 4,
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
  expect(report.requests).toBe(600);
  expect(report.honestJob).toBe('ok');
}, 240_000);
