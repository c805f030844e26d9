import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { CLI_PATH } from '../../src/stack/local.js';
import { alive, stopRole, testStack, type TestStack } from './stack.js';

/**
 * A stack for the dataset tests: two tenants (tokens), a 2 s job lock so a killed worker's report
 * moves on quickly, a fast schedule reconciliation, and a BullMQ Queue handle for inspection.
 */
/** Scope admin: each test tenant both uploads models and owns datasets. */
export const TOKENS = { a: '0a1b2c3d4e5f60718293a4b5c6d7e8f9', b: 'f9e8d7c6b5a4938271605f4e3d2c1b0a' };

export interface DatasetsStack extends TestStack {
  env: Record<string, string>;
  queue: Queue;
  redis: Redis;
  /** Processes started by spawnRole. */
  extra: ChildProcess[];
  /** Start one more `veil <role>` process with the stack's environment. */
  spawnRole(role: 'scheduler' | 'worker'): ChildProcess;
}

export async function datasetsStack(): Promise<DatasetsStack> {
  const prefix = `veilds-${randomUUID().slice(0, 8)}`;
  const env = {
    VEIL_PREFIX: prefix,
    LOG_LEVEL: 'warn',
    JOB_LOCK_MS: '2000',
    SCHEDULE_RECONCILE_MS: '500',
    MIN_SCHEDULE_INTERVAL_S: '1',
    VEIL_TOKENS: `a:${TOKENS.a}:admin,b:${TOKENS.b}:admin`,
  };
  // The API in-process: these tests stop and kill workers and schedulers, never the API.
  const stack = await testStack({ workers: 2, env, inProcessApi: true });
  const redis = new Redis(stack.redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue('jobs', { connection: redis, prefix: `${prefix}:bull` });
  const extra: ChildProcess[] = [];
  const spawnRole = (role: 'scheduler' | 'worker') => {
    const child = spawn(process.execPath, [CLI_PATH, role], { env: { ...process.env, ...env, REDIS_URL: stack.redisUrl }, stdio: 'ignore' });
    extra.push(child);
    return child;
  };
  const close = stack.close;
  return Object.assign(stack, {
    prefix,
    env,
    queue,
    redis,
    extra,
    spawnRole,
    async close() {
      await queue.close();
      redis.disconnect();
      for (const c of extra) if (alive(c)) c.kill('SIGKILL');
      await close();
    },
  });
}

export { alive, stopRole };

export const relErr = (got: number, want: number) => Math.abs(got - want) / Math.max(Math.abs(want), 1e-12);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 60_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Plaintext statistics, the reference the decrypted reports must match. */
export function plainStats(rows: { at: number; value: number }[]) {
  const n = rows.length;
  const mean = rows.reduce((s, r) => s + r.value, 0) / n;
  const variance = rows.reduce((s, r) => s + (r.value - mean) ** 2, 0) / (n - 1);
  const t0 = Math.min(...rows.map((r) => r.at));
  const d = rows.map((r) => (r.at - t0) / 86_400_000);
  const dMean = d.reduce((s, v) => s + v, 0) / n;
  const sxy = rows.reduce((s, r, i) => s + (d[i]! - dMean) * (r.value - mean), 0);
  const sxx = d.reduce((s, v) => s + (v - dMean) ** 2, 0);
  return { mean, variance, trend: sxy / sxx, count: n };
}
