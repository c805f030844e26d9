import type { Owner } from '../src/producer/crypto.js';
import { finish, type GrsOutcome } from '../src/producer/sdk.js';
import type { JobResult } from '../src/shared/wire.js';
import { grsRequest, SEED_SCORE } from './seed.js';
import { type BenchStack, cpuByRole, jobTimes, workerRss } from './stack.js';
import { log, now, pool, procRss, round, stats, type Stats } from './util.js';

export interface RssPoint {
  jobs: number;
  /** Per worker process, bytes. */
  workers: { pid: number; rss: number; hwm: number }[];
}

export interface ThroughputResult {
  workers: number;
  inflight: number;
  /** Jobs timed (after a warm-up) and jobs/s over the first `jobs` completions. */
  jobs: number;
  jobsPerSecond: number;
  /** When the run went on (for memory): all jobs and their overall rate. */
  totalJobs: number;
  totalJobsPerSecond: number;
  /** Submit → result in hand, per job (ms). */
  latency: Stats;
  queueWait: Stats;
  evaluate: Stats;
  /** Σ (finishedOn − processedOn) / (wall time × workers): how busy the workers were kept. */
  workerUtilization: number;
  maxStalledCounter: number;
  /** Jobs started more than once (a stall or a retry). */
  retried: number;
  rss: RssPoint[];
  apiRss?: number;
  /** CPU ms per job by process role over the timed run (bench = this client process). */
  cpuMsPerJob: Record<string, number>;
  checked: number;
  maxAbsError: number;
}

/**
 * Seed GRS jobs through HTTP, Redis and the worker processes, `inflight` at a time, pre-encrypted
 * (a pool of distinct encryptions, cycled) so the owner's encryption is not measured. Reads the
 * workers' RSS after the warm-up and whenever the completed count reaches a checkpoint.
 */
export async function throughput(
  s: BenchStack,
  owner: Owner,
  opts: { jobs: number; inflight: number; checkpoints?: number[]; label: string },
): Promise<ThroughputResult> {
  const workers = s.workerPids().length;
  const checkpoints = [...(opts.checkpoints ?? [])];
  const totalJobs = Math.max(opts.jobs, ...checkpoints);
  const requests = Array.from({ length: Math.min(opts.jobs, 256) }, () => grsRequest(owner));
  // Warm-up: every worker loads SEAL, the context and the model before the clock starts.
  await pool(workers * 4, workers * 4, async (i) => s.client.result(await s.client.submit(requests[i % requests.length]!)));
  const rss: RssPoint[] = [{ jobs: 0, workers: workerRss(s) }];
  const jobIds: string[] = new Array(totalJobs);
  const latencies: number[] = [];
  const kept: JobResult[] = [];
  let firstN = NaN;
  const cpu0 = cpuByRole();
  const t0 = now();
  await pool(
    totalJobs,
    opts.inflight,
    async (i) => {
      const ts = now();
      const jobId = await s.client.submit(requests[i % requests.length]!);
      jobIds[i] = jobId;
      const result = await s.client.result(jobId);
      latencies.push(now() - ts);
      if (i % 10 === 0) kept.push(result);
      return jobId;
    },
    (done) => {
      if (done === opts.jobs) firstN = now() - t0;
      if (checkpoints.includes(done)) {
        rss.push({ jobs: done, workers: workerRss(s) });
        log(
          `${opts.label}: ${done} jobs, worker RSS ${workerRss(s)
            .map((w) => `${(w.rss / 2 ** 20).toFixed(0)} MiB`)
            .join(', ')}`,
        );
      }
    },
  );
  const total = now() - t0;
  const cpu1 = cpuByRole();
  const cpuMsPerJob = Object.fromEntries(Object.entries(cpu1).map(([role, ms]) => [role, round((ms - (cpu0[role] ?? 0)) / totalJobs, 2)]));
  const apiPid = s.apiPid();
  const apiRss = apiPid ? procRss(apiPid)?.rss : undefined;
  // BullMQ's timestamps for every timed job.
  const times = await pool(jobIds.length, 32, (i) => jobTimes(s.queue, jobIds[i]!));
  const evals = times.map((t) => t.finishedOn - t.processedOn);
  const busy = evals.reduce((a, b) => a + b, 0);
  let maxAbsError = 0;
  for (const r of kept) {
    const [o] = (await finish(s.client, owner, r)) as GrsOutcome[];
    maxAbsError = Math.max(maxAbsError, Math.abs((o?.score ?? NaN) - SEED_SCORE));
  }
  const result: ThroughputResult = {
    workers,
    inflight: opts.inflight,
    jobs: opts.jobs,
    jobsPerSecond: round(opts.jobs / (firstN / 1000), 1),
    totalJobs,
    totalJobsPerSecond: round(totalJobs / (total / 1000), 1),
    latency: stats(latencies),
    queueWait: stats(times.map((t) => t.processedOn - t.createdAt)),
    evaluate: stats(evals),
    workerUtilization: round(busy / (total * workers), 3),
    maxStalledCounter: Math.max(0, ...times.map((t) => t.stalledCounter)),
    retried: times.filter((t) => t.attemptsStarted > 1 || t.attemptsMade > 1).length,
    rss,
    apiRss,
    cpuMsPerJob,
    checked: kept.length,
    maxAbsError: round(maxAbsError, 12),
  };
  log(
    `${opts.label}: ${result.jobsPerSecond} jobs/s (first ${opts.jobs}), ${result.totalJobsPerSecond} jobs/s over ${totalJobs}; worker utilization ${result.workerUtilization}`,
  );
  return result;
}
