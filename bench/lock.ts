import { QueueEvents } from 'bullmq';
import { HARD_CALL_SCALE_BITS, type Owner } from '../src/producer/crypto.js';
import { finish, type GrsOutcome } from '../src/producer/sdk.js';
import { QUEUE_NAME } from '../src/server/queue.js';
import { connectRedis, keyPrefix } from '../src/server/redis.js';
import { WIRE_VERSION, type JobRequest } from '../src/shared/wire.js';
import { type BenchStack, jobTimes } from './stack.js';
import { log, now, pool, relErr, rng, round, stats, type Stats } from './util.js';

export interface LockResult {
  preset: string;
  lockMs: number;
  variants: number;
  samples: number;
  jobs: number;
  ciphertextsPerJob: number;
  uploadBytesPerJob: number;
  /** Per job, processedOn → finishedOn (ms), and its ratio to the lock duration. */
  evaluate: Stats;
  evaluateOverLock: number;
  wallMs: number;
  /** 'stalled' events on the queue's event stream, and the jobs' own counters. */
  stalledEvents: number;
  maxStalledCounter: number;
  restartedJobs: number;
  failedEvents: number;
  maxRelativeError: number;
}

/**
 * Lock renewal under load: one worker process (JOB_LOCK_MS short, so a job lasts several lock
 * periods) evaluates large GRS jobs while the API receives the next uploads. A job whose lock is
 * not renewed in time is reported 'stalled' by BullMQ and started again.
 */
export async function lockHealth(s: BenchStack, owner: Owner, opts: { variants: number; jobs: number; samples: number; lockMs: number }): Promise<LockResult> {
  const conn = connectRedis(s.stack.redisUrl, 'veil-bench-events');
  const events = new QueueEvents(QUEUE_NAME, { connection: conn, prefix: `${keyPrefix(s.prefix, s.stack.redisUrl)}:bull`, lastEventId: '0-0' });
  let stalledEvents = 0;
  let failedEvents = 0;
  events.on('stalled', () => stalledEvents++);
  events.on('failed', () => failedEvents++);
  await events.waitUntilReady();
  try {
    const rand = rng(7);
    const weights = Array.from({ length: opts.variants }, () => (rand() - 0.5) * 0.2);
    const modelId = `lock-${opts.variants}`;
    await s.client.addModelJson({ id: modelId, name: `lock test ${opts.variants}`, weights, bias: 0 });
    const dosages = Array.from({ length: opts.samples }, () => Uint8Array.from({ length: opts.variants }, () => Math.floor(rand() * 3)));
    const expected = dosages.map((d) => d.reduce((a, x, i) => a + x * (weights[i] as number), 0));
    const enc = owner.encryptVectors(dosages, { purpose: 'dot', scaleBits: HARD_CALL_SCALE_BITS }); // hard calls, as in large.ts
    const req: JobRequest = {
      v: WIRE_VERSION,
      op: 'grs',
      contextId: owner.contextId,
      modelId,
      samples: opts.samples,
      scaleBits: enc.scaleBits,
      valueBits: enc.valueBits,
      ciphertexts: enc.ciphertexts,
    };
    log(
      `lock: ${opts.jobs} jobs × ${opts.samples} samples × ${opts.variants} variants (${enc.ciphertexts.length} ciphertexts each), JOB_LOCK_MS ${opts.lockMs}`,
    );
    const t0 = now();
    // All jobs at once: the worker runs one while the API and Redis take in the others.
    const ids = await pool(opts.jobs, opts.jobs, async () => {
      const id = await s.client.submit(req);
      const result = await s.client.result(id);
      const scores = (await finish(s.client, owner, result)) as GrsOutcome[];
      return { id, err: Math.max(...scores.map((o, k) => relErr(o.score, expected[k] as number))) };
    });
    const wallMs = now() - t0;
    const times = await Promise.all(ids.map((j) => jobTimes(s.queue, j.id)));
    const evals = times.map((t) => t.finishedOn - t.processedOn);
    // Stalled events arrive through the stream shortly after the check that found them.
    await new Promise((r) => setTimeout(r, 200));
    const result: LockResult = {
      preset: owner.preset.id,
      lockMs: opts.lockMs,
      variants: opts.variants,
      samples: opts.samples,
      jobs: opts.jobs,
      ciphertextsPerJob: enc.ciphertexts.length,
      uploadBytesPerJob: enc.ciphertexts.reduce((a, c) => a + c.length, 0),
      evaluate: stats(evals),
      evaluateOverLock: round(stats(evals).median / opts.lockMs, 2),
      wallMs: round(wallMs, 0),
      stalledEvents,
      maxStalledCounter: Math.max(0, ...times.map((t) => t.stalledCounter)),
      restartedJobs: times.filter((t) => t.attemptsStarted > 1).length,
      failedEvents,
      maxRelativeError: Math.max(...ids.map((j) => j.err)),
    };
    log(
      `lock: evaluate median ${result.evaluate.median} ms (${result.evaluateOverLock}× the lock), stalled events ${stalledEvents}, restarted jobs ${result.restartedJobs}`,
    );
    return result;
  } finally {
    await events.close();
    conn.disconnect();
  }
}
