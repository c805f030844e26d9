import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { submitMean, waitAndFinish, type MeanOutcome } from '../src/producer/sdk.js';
import { useStackWithOwner } from './helpers/stack.js';

/**
 * An Idempotency-Key claimed by a submission that then died (API killed, Redis lost) between
 * claiming the key and queueing the job: the client's retry must run the job, not name a job that
 * never existed (what chaos found: 202 with status `unknown`, and the job never ran).
 */
describe('Idempotency-Key claims left by a failed submission', () => {
  const f = useStackWithOwner({ workers: 1, inProcessApi: true, scheduler: false });

  /** Leave the claim a crashed first attempt leaves: the key names a job id, and nothing else exists. */
  async function strandClaim(key: string): Promise<string> {
    await f.client.uploadContext(f.owner.publicContext);
    const [ctxKey] = await f.redis.keys(`${f.stack.prefix}:ctx:*`);
    const tenant = (ctxKey as string).split(':')[2] as string;
    const jobId = randomUUID();
    expect(await f.redis.set(`${f.stack.prefix}:idem:${tenant}:${key}`, jobId, 'EX', 3600, 'NX')).toBe('OK');
    return jobId;
  }

  it('runs the job on the retry, under the claimed id, once', async () => {
    const stranded = await strandClaim('stranded-1');
    const jobId = await submitMean(f.client, f.owner, [10, 20, 33], { idempotencyKey: 'stranded-1' });
    expect(jobId).toBe(stranded);
    const [mean] = (await waitAndFinish(f.client, f.owner, jobId)) as MeanOutcome[];
    expect(Math.abs(mean!.mean - 21)).toBeLessThan(1e-6);
    // A later repeat names the same, finished job and queues nothing new.
    const before = await f.queue.getJobCounts('completed', 'waiting', 'active', 'delayed');
    expect(await submitMean(f.client, f.owner, [10, 20, 33], { idempotencyKey: 'stranded-1' })).toBe(stranded);
    expect(await f.queue.getJobCounts('completed', 'waiting', 'active', 'delayed')).toEqual(before);
  });

  it('queues one job when two retries finish the same claim at once', async () => {
    const stranded = await strandClaim('stranded-2');
    const states = ['completed', 'waiting', 'active', 'delayed', 'failed'] as const;
    const before = (await f.queue.getJobs([...states])).length;
    const ids = await Promise.all([1, 2, 3].map(() => submitMean(f.client, f.owner, [4, 6], { idempotencyKey: 'stranded-2' })));
    expect(ids).toEqual([stranded, stranded, stranded]);
    const [mean] = (await waitAndFinish(f.client, f.owner, stranded)) as MeanOutcome[];
    expect(Math.abs(mean!.mean - 5)).toBeLessThan(1e-6);
    expect((await f.queue.getJobs([...states])).length).toBe(before + 1);
  });
});

/**
 * A worker killed after storing a job's result (which deletes its inputs) but before BullMQ marked the
 * job completed: the job stalls and runs again with no inputs. What chaos found: `inputs_gone`, an
 * accepted job failed. The second run must hand back the stored result instead.
 */
describe('a job run again after its result was stored', () => {
  const f = useStackWithOwner({ workers: 1, inProcessApi: true, scheduler: false });

  it('completes with the stored result instead of failing for its deleted inputs', async () => {
    const first = await submitMean(f.client, f.owner, [10, 20, 33]);
    await waitAndFinish(f.client, f.owner, first);
    const done = (await f.queue.getJob(first))!;
    const result = (await f.redis.getBuffer(`${f.stack.prefix}:job:${first}:out`))!;
    expect(result.length).toBeGreaterThan(0);
    // The state a killed run leaves: result stored, inputs gone, the job back in the queue.
    const again = randomUUID();
    await f.redis.set(`${f.stack.prefix}:job:${again}:out`, result, 'EX', 3600);
    await f.queue.add(done.name, done.data, { jobId: again });
    const deadline = Date.now() + 60_000;
    let state = await f.queue.getJobState(again);
    while (state !== 'completed' && state !== 'failed' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      state = await f.queue.getJobState(again);
    }
    const job = (await f.queue.getJob(again))!;
    expect([state, job.failedReason]).toEqual(['completed', undefined]);
    expect(job.returnvalue).toEqual({ resultBytes: result.length });
  });
});
