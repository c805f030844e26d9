import type { SandboxedJob } from 'bullmq';

export type Progress = (done: number, total: number) => Promise<void>;

/**
 * Job progress as whole percents of `upTo`, written to Redis only in steps of ≥ 5 % (and at the
 * end): a 100,000-ciphertext job would otherwise make 100,000 Redis writes.
 */
export function throttledProgress(job: Pick<SandboxedJob, 'updateProgress'>, upTo = 100): Progress {
  let last = 0;
  return async (done, total) => {
    const pct = Math.floor((upTo * done) / total);
    if (pct - last >= 5 || done === total) {
      last = pct;
      await job.updateProgress(pct);
    }
  };
}
