import type { Queue } from 'bullmq';
import type { Seal } from '../shared/seal.js';
import type { Config } from './config.js';
import type { JobData, JobReturn } from './queue.js';
import type { Store } from './store.js';

/** What the domain services (services/) work with: built once per API process. */
export interface ServiceDeps {
  config: Config;
  store: Store;
  queue: Queue<JobData, JobReturn>;
  seal: Seal;
}
