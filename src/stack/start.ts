import { config } from '../server/config.js';
import { startLocalStack } from './local.js';

/** `npm start`: the local stack in the foreground; Ctrl-C (or SIGTERM) shuts it down cleanly. */
export async function start(): Promise<void> {
  const cfg = config();
  const stack = await startLocalStack({ workers: cfg.WORKERS, port: cfg.PORT, logs: 'inherit' });
  process.stdout.write(`veil is up: API ${stack.apiUrl}, Redis ${stack.redisUrl}, ${cfg.WORKERS} workers. Ctrl-C to stop.\n`);
  let signals = 0;
  const stop = () => {
    if (++signals > 1) process.exit(130);
    process.stdout.write('stopping (Ctrl-C again to force)…\n');
    stack.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
