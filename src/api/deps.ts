import type { Logger } from 'pino';
import type { ServiceDeps } from '../server/deps.js';
import type { Metrics } from './metrics.js';

/** What every route handler works with; built once in server.ts. */
export interface ApiDeps extends ServiceDeps {
  logger: Logger;
  metrics: Metrics;
}
