import { expect, test } from 'vitest';
import { runChaos } from '../tools/chaos/harness.js';

/**
 * The short `npm run chaos`: jobs with known answers while workers are SIGKILLed, Redis is
 * SIGKILLed and restarted (AOF, fsync always) and an API is restarted; every accepted job must
 * complete once with its own answer.
 */
test('chaos (short): no accepted job is lost, duplicated or wrong under kills and restarts', async () => {
  const report = await runChaos({
    jobs: 30,
    baselineJobs: 5,
    workers: 2,
    workerKillMs: 300,
    minWorkerKills: 6,
    workerMinAgeMs: 1500,
    redisKills: 1,
    apiRestarts: 1,
    drainMs: 5000,
    concurrency: 8,
    timeoutS: 120,
  });
  console.log(report.summary);
  expect(report.violations).toEqual([]);
  expect(report.chaos.ok).toBe(30);
  expect(report.workerKills).toBeGreaterThanOrEqual(6);
}, 240_000);
