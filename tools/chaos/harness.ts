import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { VeilClient } from '../../src/producer/client.js';
import { generateKeys, Owner } from '../../src/producer/crypto.js';
import { finish, type MeanOutcome } from '../../src/producer/sdk.js';
import { freePort } from '../../src/stack/local.js';
import { WIRE_VERSION, type JobRequest } from '../../src/shared/wire.js';
import { ApiProcess, DurableRedis, WorkerPool } from './cluster.js';
import { RoundRobinClient } from './client.js';

export interface ChaosOptions {
  jobs: number;
  baselineJobs: number;
  workers: number;
  /** A worker is SIGKILLed every `workerKillMs` while jobs are being submitted. */
  workerKillMs: number;
  minWorkerKills: number;
  /** A worker younger than this is spared (it is still starting). */
  workerMinAgeMs: number;
  redisKills: number;
  apiRestarts: number;
  /** SIGTERM → exit must take less than this, or the restart counts as a failed drain. */
  drainMs: number;
  /** Count a drain past `drainMs` in the summary only (for the short test until drain is bounded). */
  allowSlowDrain?: boolean;
  concurrency: number;
  timeoutS: number;
  roleLogs?: boolean;
  log?: (line: string) => void;
}

export interface PhaseResult {
  jobs: number;
  accepted: number;
  ok: number;
  seconds: number;
  problems: string[];
}

export interface ChaosReport {
  baseline: PhaseResult;
  chaos: PhaseResult;
  workerKills: number;
  redisKills: number;
  apiRestarts: number;
  violations: string[];
  summary: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const PREFIX = 'chaos';

/** Job i: the mean of [i, i + 1] — a distinct, exactly known answer per job. */
const valuesOf = (i: number) => [i, i + 1];

export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const log = opts.log ?? (() => {});
  const keys = await generateKeys();
  const owner = await Owner.fromBytes(keys.publicContext, keys.secretKeyFile);
  const redis = await DurableRedis.start();
  const env: NodeJS.ProcessEnv = { ...process.env, REDIS_URL: redis.url, VEIL_PREFIX: PREFIX, HOST: '127.0.0.1', LOG_LEVEL: 'error', JOB_LOCK_MS: '2000' };
  delete env.VEIL_TOKENS; // one local tenant: chaos is about durability, not auth
  const apis = [new ApiProcess(await freePort(), env, !!opts.roleLogs), new ApiProcess(await freePort(), env, !!opts.roleLogs)];
  await Promise.all(apis.map((a) => a.start()));
  const workers = new WorkerPool(opts.workers, env, !!opts.roleLogs);
  const client = new RoundRobinClient(apis.map((a) => a.url));
  const violations: string[] = [];
  try {
    const contextId = await client.uploadContext(keys.publicContext);
    const jobOf = (i: number): JobRequest => {
      const enc = owner.encryptVectors([valuesOf(i)], { purpose: 'sum' });
      return { v: WIRE_VERSION, op: 'mean', contextId, count: 2, scaleBits: enc.scaleBits, valueBits: enc.valueBits, ciphertexts: enc.ciphertexts };
    };
    const phase = (from: number, count: number, windowMs: number) => runPhase(client, owner, apis[0]!.url, jobOf, from, count, windowMs, opts);

    log(`chaos: baseline, ${opts.baselineJobs} jobs without faults`);
    const baseline = await phase(0, opts.baselineJobs, 0);

    // Faults are spread over the submission window, so every kind hits jobs in flight.
    const windowMs = Math.max(
      opts.minWorkerKills * Math.max(opts.workerKillMs, opts.workerMinAgeMs / opts.workers),
      (opts.redisKills + 1) * 3000,
      (opts.apiRestarts + 1) * 3000,
    );
    log(`chaos: ${opts.jobs} jobs over ${(windowMs / 1000).toFixed(0)} s with faults`);
    let faulting = true;
    const faults = [
      (async () => {
        // Until the window has passed and enough kills were made; then the pool may recover.
        const until = Date.now() + windowMs;
        while (faulting && (Date.now() < until || workers.kills < opts.minWorkerKills)) {
          await sleep(opts.workerKillMs);
          workers.killOldest(opts.workerMinAgeMs);
        }
      })(),
      (async () => {
        for (let k = 0; k < opts.redisKills && faulting; k++) {
          await sleep(windowMs / (opts.redisKills + 1));
          await redis.killAndRestart(300 + 200 * k);
        }
      })(),
      (async () => {
        for (let k = 0; k < opts.apiRestarts && faulting; k++) {
          await sleep(windowMs / (opts.apiRestarts + 1));
          await apis[k % apis.length]!.restart(opts.drainMs);
        }
      })(),
    ];
    const chaos = await phase(opts.baselineJobs, opts.jobs, windowMs);
    faulting = false;
    await Promise.all(faults);

    const apiRestarts = apis.reduce((n, a) => n + a.restarts, 0);
    for (const p of [...baseline.problems, ...chaos.problems]) violations.push(p);
    const extra = (await jobsInQueue(redis.url)) - (baseline.accepted + chaos.accepted);
    if (extra > 0) violations.push(`${extra} more jobs in the queue than accepted submissions: duplicated`);
    if (workers.kills < opts.minWorkerKills) violations.push(`only ${workers.kills} worker kills (want ≥ ${opts.minWorkerKills}): more jobs are needed`);
    if (redis.kills < opts.redisKills) violations.push(`only ${redis.kills} Redis kills (want ${opts.redisKills})`);
    if (apiRestarts < opts.apiRestarts) violations.push(`only ${apiRestarts} API restarts (want ${opts.apiRestarts})`);
    const slowDrains = apis.reduce((n, a) => n + a.slowDrains.length, 0);
    if (!opts.allowSlowDrain)
      for (const a of apis)
        for (const ms of a.slowDrains)
          violations.push(`API on port ${a.port} took ${(ms / 1000).toFixed(1)} s to drain (bound ${opts.drainMs / 1000} s; SIGKILLed)`);
    for (const a of apis) if (a.unexpectedExits) violations.push(`API on port ${a.port} exited ${a.unexpectedExits}× on its own`);
    const rate = (p: PhaseResult) => (p.ok / p.seconds).toFixed(1);
    const fivexx = [...client.serverErrors.values()].reduce((a, b) => a + b, 0);
    const summary =
      `chaos: ${chaos.accepted}/${chaos.jobs} jobs accepted, ${chaos.ok} correct exactly once; ${workers.kills} worker kills, ${redis.kills} Redis kills, ` +
      `${apiRestarts} API restarts; ${rate(chaos)} jobs/s under faults vs ${rate(baseline)} jobs/s without (${baseline.ok} jobs); ` +
      `client retries ${client.retries}, unexpected 5xx ${fivexx}, drains over ${opts.drainMs / 1000} s ${slowDrains}, worker self-exits ${workers.unexpectedExits}; ${violations.length ? `${violations.length} violations` : 'no lost, duplicated or wrong job'}`;
    return { baseline, chaos, workerKills: workers.kills, redisKills: redis.kills, apiRestarts, violations, summary };
  } finally {
    client.close();
    await workers.close();
    await Promise.all(apis.map((a) => a.stop(2000)));
    await redis.close();
    owner.dispose();
  }
}

/**
 * Submit jobs [from, from + count) spread over `windowMs` (at most `concurrency` at once), then
 * fetch, decrypt and check every accepted one. Time runs from the first submission to the last result.
 */
async function runPhase(
  client: RoundRobinClient,
  owner: Owner,
  apiUrl: string,
  jobOf: (i: number) => JobRequest,
  from: number,
  count: number,
  windowMs: number,
  opts: ChaosOptions,
): Promise<PhaseResult> {
  const bodies = Array.from({ length: count }, (_, k) => jobOf(from + k));
  const problems: string[] = [];
  const started = performance.now();
  const deadline = Date.now() + opts.timeoutS * 1000;
  const decryptor = new VeilClient({ server: apiUrl }); // finish() wants one; a mean job never calls it
  let ok = 0;
  let accepted = 0;
  let nextJob = 0;
  const lane = async () => {
    for (let k = nextJob++; k < count; k = nextJob++) {
      const due = started + (windowMs * k) / count;
      if (performance.now() < due) await sleep(due - performance.now());
      const i = from + k;
      const sub = await client.submit(bodies[k]!, `chaos-job-${i}`);
      if (!sub.jobId) {
        problems.push(`job ${i}: never accepted (last answer ${sub.status ?? ''} ${sub.error ?? ''})`);
        continue;
      }
      accepted++;
      const got = await client.result(sub.jobId, deadline);
      if (!got.result) {
        problems.push(`job ${i} (${sub.jobId}): accepted but lost — ${got.error}`);
        continue;
      }
      const [out] = (await finish(decryptor, owner, got.result)) as MeanOutcome[];
      const want = (valuesOf(i)[0]! + valuesOf(i)[1]!) / 2;
      if (!out || Math.abs(out.mean - want) > 1e-6) problems.push(`job ${i} (${sub.jobId}): mean ${out?.mean}, expected ${want}`);
      else ok++;
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, lane));
  return { jobs: count, accepted, ok, seconds: (performance.now() - started) / 1000, problems };
}

/** Every job BullMQ holds, in any state: more than were accepted means a submission ran twice. */
async function jobsInQueue(redisUrl: string): Promise<number> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue('jobs', { connection, prefix: `${PREFIX}:bull` });
  try {
    const counts = await queue.getJobCounts('completed', 'failed', 'active', 'wait', 'waiting', 'delayed', 'prioritized', 'waiting-children');
    return Object.values(counts).reduce((a, b) => a + b, 0);
  } finally {
    await queue.close();
    connection.disconnect();
  }
}
