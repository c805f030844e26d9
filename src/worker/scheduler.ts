import { createLogger } from '../server/log.js';
import type { Config } from '../server/config.js';
import { QUEUE_NAME } from '../server/queue.js';
import { bullmq } from '../server/cjs.js';
import { connectRedis, keyPrefix } from '../server/redis.js';
import { DatasetStore } from '../server/datasets.js';
import { reconcileSchedules } from '../server/schedules.js';
import { Store } from '../server/store.js';

export interface VeilScheduler {
  close(): Promise<void>;
}

const SWEEP_MS = 60_000;

/**
 * The scheduler role: housekeeping that must run somewhere exactly on schedule, not per request.
 * Today it sweeps finished job records past their retention (BullMQ's removeOn* only trims when
 * a worker finishes another job), reconciles dataset report schedules with BullMQ's job
 * schedulers (see server/schedules.ts), and prunes dataset records past their retention. Safe to run in several replicas: every step is idempotent.
 */
export function startScheduler(config: Config, redisUrl: string): VeilScheduler {
  const logger = createLogger('veil-scheduler', config.LOG_LEVEL);
  const connection = connectRedis(redisUrl, 'veil-scheduler');
  const queue = new bullmq.Queue(QUEUE_NAME, { connection, prefix: `${keyPrefix(config.VEIL_PREFIX, redisUrl)}:bull` });
  const sweep = async () => {
    try {
      const graceMs = config.RETENTION_SECONDS * 1000;
      const removed = [...(await queue.clean(graceMs, 1000, 'completed')), ...(await queue.clean(graceMs, 1000, 'failed'))];
      if (removed.length) logger.info({ removed: removed.length }, 'swept expired jobs');
    } catch (err) {
      logger.warn({ err }, 'sweep failed; will retry');
    }
  };
  const timer = setInterval(() => void sweep(), SWEEP_MS);
  void sweep();
  const datasets = new DatasetStore(new Store(connection, keyPrefix(config.VEIL_PREFIX, redisUrl), config.RETENTION_SECONDS));
  const schedules = { queue, retentionSeconds: config.RETENTION_SECONDS, attempts: config.JOB_ATTEMPTS };
  const reconcile = async () => {
    try {
      const r = await reconcileSchedules(schedules, datasets.schedules, `scheduler-${process.pid}`);
      if (r && (r.applied || r.removed)) logger.info(r, 'reconciled report schedules');
    } catch (err) {
      logger.warn({ err }, 'schedule reconciliation failed; will retry');
    }
  };
  // Records past retention: their keys expire on their own, but the index entries (and record
  // ids) would stay until a report happened to read that part of the index. Pruned here on the
  // reconcile cadence; idempotent, so every replica may run it without a lock.
  let pruning = false;
  const prune = async () => {
    if (pruning) return; // a slow pass is not overlapped by the next tick
    pruning = true;
    try {
      const pruned = await datasets.pruneAll();
      if (pruned) logger.info({ pruned }, 'pruned expired dataset records');
    } catch (err) {
      logger.warn({ err }, 'dataset prune failed; will retry');
    } finally {
      pruning = false;
    }
  };
  const reconcileTimer = setInterval(() => {
    void reconcile();
    void prune();
  }, config.SCHEDULE_RECONCILE_MS);
  void reconcile();
  void prune();
  logger.info('scheduler started');
  let closing: Promise<void> | undefined;
  return {
    close() {
      closing ??= (async () => {
        clearInterval(timer);
        clearInterval(reconcileTimer);
        await queue.close();
        connection.disconnect();
        logger.info('scheduler closed');
      })();
      return closing;
    },
  };
}
