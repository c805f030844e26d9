import { fileURLToPath } from 'node:url';
import { createLogger } from '../server/log.js';
import type { Config } from '../server/config.js';
import { QUEUE_NAME, type JobData, type JobReturn } from '../server/queue.js';
import { bullmq } from '../server/cjs.js';
import { connectRedis, keyPrefix } from '../server/redis.js';

export interface VeilWorker {
  /** First call drains (active jobs finish); `force` abandons them to be retried elsewhere. */
  close(force?: boolean): Promise<void>;
}

/**
 * One worker process: a BullMQ Worker whose jobs run in sandboxed worker threads (processor.ts).
 * The main thread only talks to Redis, so lock renewal keeps its schedule however long SEAL runs.
 */
export function startWorker(config: Config, redisUrl: string): VeilWorker {
  const logger = createLogger('veil-worker', config.LOG_LEVEL);
  const connection = connectRedis(redisUrl, 'veil-worker-main');
  const processor = fileURLToPath(new URL('./processor.js', import.meta.url));
  const worker = new bullmq.Worker<JobData, JobReturn>(QUEUE_NAME, processor, {
    connection,
    prefix: `${keyPrefix(config.VEIL_PREFIX, redisUrl)}:bull`,
    // Recorded on each job as processedBy: tells which process ran (or was running) it.
    name: `veil-worker-${process.pid}`,
    concurrency: config.WORKER_CONCURRENCY,
    useWorkerThreads: true,
    lockDuration: config.JOB_LOCK_MS,
    stalledInterval: config.JOB_LOCK_MS,
    maxStalledCount: 2,
  });
  worker.on('completed', (job) => logger.info({ jobId: job.id, op: job.data.op, ms: (job.finishedOn ?? 0) - (job.processedOn ?? 0) }, 'job completed'));
  // failedReason is "code: message" written by the processor: no data, safe to log.
  worker.on('failed', (job, err) => logger.warn({ jobId: job?.id, op: job?.data.op, attempts: job?.attemptsMade, reason: err.message }, 'job failed'));
  worker.on('error', (err) => logger.error({ err }, 'worker error'));
  logger.info({ concurrency: config.WORKER_CONCURRENCY }, 'worker started');

  let closing: Promise<void> | undefined;
  return {
    close(force = false) {
      if (force) return worker.close(true).then(() => connection.disconnect());
      closing ??= worker.close().then(() => {
        connection.disconnect();
        logger.info('worker closed');
      });
      return closing;
    },
  };
}
