import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { Config } from '../server/config.js';
import type { JobData, JobReturn } from '../server/queue.js';
import type { Store } from '../server/store.js';
import type { Metrics } from './metrics.js';
import type { ValidationPool } from './validation-pool.js';

/** What every route handler works with; built once in server.ts. */
export interface ApiDeps {
  config: Config;
  store: Store;
  queue: Queue<JobData, JobReturn>;
  /** SEAL's checks of uploads, in worker threads: the API's event loop never runs SEAL. */
  validation: ValidationPool;
  logger: Logger;
  metrics: Metrics;
}
