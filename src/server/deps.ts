import type { Queue } from 'bullmq';
import type { Config } from './config.js';
import type { JobData, JobReturn } from './queue.js';
import type { Store } from './store.js';
import type { ValidationPool } from './validation-pool.js';

/** What the domain services (services/) work with: built once per API process. */
export interface ServiceDeps {
  config: Config;
  store: Store;
  queue: Queue<JobData, JobReturn>;
  /** SEAL's checks of uploads, in worker threads: the API's event loop never runs SEAL. */
  validation: ValidationPool;
}
