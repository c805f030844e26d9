import { runChaos } from './harness.js';

/**
 * `npm run chaos`: jobs through a local stack while workers, Redis and the APIs are killed and
 * restarted (see harness.ts). Environment: CHAOS_JOBS (400), CHAOS_BASELINE_JOBS (200),
 * CHAOS_WORKERS (3), CHAOS_KILL_MS (300), CHAOS_MIN_WORKER_KILLS (50), CHAOS_WORKER_MIN_AGE_MS (1500), CHAOS_REDIS_KILLS (3),
 * CHAOS_API_RESTARTS (3), CHAOS_DRAIN_MS (15000), CHAOS_CONCURRENCY (16), CHAOS_TIMEOUT_S (900),
 * CHAOS_LOGS=1 for the roles' logs.
 */
const env = process.env;
const num = (name: string, fallback: number) => {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    process.stderr.write(`${name} must be a non-negative whole number, got '${v}'\n`);
    process.exit(2);
  }
  return n;
};

const report = await runChaos({
  jobs: num('CHAOS_JOBS', 400),
  baselineJobs: num('CHAOS_BASELINE_JOBS', 200),
  workers: num('CHAOS_WORKERS', 3),
  workerKillMs: num('CHAOS_KILL_MS', 300),
  minWorkerKills: num('CHAOS_MIN_WORKER_KILLS', 50),
  workerMinAgeMs: num('CHAOS_WORKER_MIN_AGE_MS', 1500),
  redisKills: num('CHAOS_REDIS_KILLS', 3),
  apiRestarts: num('CHAOS_API_RESTARTS', 3),
  drainMs: num('CHAOS_DRAIN_MS', 15_000),
  concurrency: Math.max(1, num('CHAOS_CONCURRENCY', 16)),
  timeoutS: num('CHAOS_TIMEOUT_S', 900),
  roleLogs: env.CHAOS_LOGS === '1',
  log: (line) => process.stderr.write(`${line}\n`),
});
for (const v of report.violations.slice(0, 50)) process.stderr.write(`VIOLATION ${v}\n`);
if (report.violations.length > 50) process.stderr.write(`… and ${report.violations.length - 50} more\n`);
process.stdout.write(`${report.summary}\n`);
process.exit(report.violations.length ? 1 : 0);
