import type { Server } from 'node:http';
import type { Config } from '../server/config.js';
import { ConfigError } from '../shared/errors.js';
import { bullmq } from '../server/cjs.js';
import { QUEUE_NAME, type JobData, type JobReturn } from '../server/queue.js';
import { connectRedis, keyPrefix } from '../server/redis.js';
import { createLogger } from '../server/log.js';
import { Store } from '../server/store.js';
import { createApp } from './app.js';
import { Drain } from './drain.js';
import { createMetrics } from './metrics.js';
import { createValidationPool } from '../server/validation-pool.js';

export interface ApiServer {
  url: string;
  close(): Promise<void>;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/** Start the intake API. `close()` stops accepting, drains within DRAIN_TIMEOUT_MS (drain.ts), and is idempotent. */
export async function startApi(config: Config, redisUrl: string): Promise<ApiServer> {
  if (!config.VEIL_TOKENS && !LOOPBACK.test(config.HOST)) {
    throw new ConfigError(`HOST=${config.HOST} without VEIL_TOKENS would serve everyone as one tenant; set VEIL_TOKENS=tenant:token,… or HOST=127.0.0.1`);
  }
  const logger = createLogger('veil-api', config.LOG_LEVEL);
  const redis = connectRedis(redisUrl, 'veil-api');
  const prefix = keyPrefix(config.VEIL_PREFIX, redisUrl);
  const queue = new bullmq.Queue<JobData, JobReturn>(QUEUE_NAME, { connection: redis, prefix: `${prefix}:bull` });
  // The store's own connection: BullMQ defines its ~50 Lua scripts on the queue's, and ioredis copies
  // them all onto every pipeline/multi made there (profiled: ~4 ms of API CPU per job under load).
  const storeRedis = connectRedis(redisUrl, 'veil-api-store');
  const store = new Store(storeRedis, prefix, config.RETENTION_SECONDS);
  const validation = createValidationPool(config.VALIDATION_THREADS);
  const deps = { config, store, queue, validation, logger, metrics: createMetrics(queue) };
  const drain = new Drain();
  const app = createApp(deps, drain);
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(config.PORT, config.HOST, () => resolve(s));
    s.once('error', reject);
  });
  // Idle keep-alive sockets are closed by the client first (undici: after 4 s), never by us mid-reuse:
  // a server-side close racing a client's next request shows up as "other side closed" on a 27 MB
  // upload. close() still ends idle sockets at once.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  const host = config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST;
  const url = `http://${host}:${port}`;
  logger.info({ url, tenants: config.VEIL_TOKENS ? config.VEIL_TOKENS.size : 'local' }, 'api listening');

  let closing: Promise<void> | undefined;
  return {
    url,
    close() {
      closing ??= (async () => {
        await drain.drain(server, config.DRAIN_TIMEOUT_MS);
        await queue.close();
        await validation.close();
        redis.disconnect();
        storeRedis.disconnect();
        logger.info('api closed');
      })();
      return closing;
    },
  };
}
