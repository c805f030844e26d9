import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { Config } from '../server/config.js';
import type { JobData, JobReturn } from '../server/queue.js';
import type { Seal } from '../shared/seal.js';
import type { Store } from '../server/store.js';
import type { Metrics } from './metrics.js';

/** What every route handler works with; built once in server.ts. */
export interface ApiDeps {
  config: Config;
  store: Store;
  queue: Queue<JobData, JobReturn>;
  seal: Seal;
  logger: Logger;
  metrics: Metrics;
}
